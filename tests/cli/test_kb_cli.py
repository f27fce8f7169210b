"""``hotline kb import|export|list|publish|rollback|releases`` (in-process ``main``)."""

from __future__ import annotations

import json

import pytest

from hotline.cli import main
from hotline.core.settings import Settings
from hotline.store.builds import BuildRegistry


@pytest.fixture()
def home(tmp_path, tiny_home, managed_home) -> Settings:
    return managed_home(tmp_path / "home", tiny_home)[0]


def _run(capsys, home: Settings, *argv: str) -> tuple[int, str, str]:
    code = main(["--home", str(home.home), *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def _last(stdout: str):
    return json.loads(stdout.strip().splitlines()[-1])


def test_kb_cli_round_trip(home, tmp_path, capsys):
    gaps = tmp_path / "gaps.jsonl"
    gaps.write_text(json.dumps({"id": "gap-0001", "question": "副卡怎么停机保号", "count": 3,
                                "examples": ["副卡怎么停机保号", "副卡能不能保号"], "category": None},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    code, out, _ = _run(capsys, home, "kb", "import", str(gaps), "--gaps", "--by", "analyst")
    assert code == 0 and len(_last(out)["created"]) == 1
    code, out, _ = _run(capsys, home, "kb", "list", "--state", "draft", "--json")
    drafts = _last(out)
    assert [d["body"]["question"] for d in drafts] == ["副卡怎么停机保号"] and drafts[0]["created_by"] == "analyst (cli)"
    code, out, _ = _run(capsys, home, "kb", "export", "--state", "draft", "--out", str(tmp_path / "d.jsonl"))
    assert _last(out)["n"] == 1 and json.loads((tmp_path / "d.jsonl").read_text())["answer"] == ""
    # gaps cannot be published before someone writes the answers
    code, _, err = _run(capsys, home, "kb", "import", str(gaps), "--gaps", "--as", "published")
    assert code == 2 and "answers" in err

    faq = tmp_path / "faq.jsonl"
    faq.write_text(json.dumps({"id": "kb-cli-1", "question": "宽带怎么办理移机", "answer": "拨打10086预约移机"},
                              ensure_ascii=False) + "\n", encoding="utf-8")
    code, out, _ = _run(capsys, home, "kb", "import", str(faq), "--as", "published", "--by", "ops")
    res = _last(out)
    assert code == 0 and res["created"] == ["faq/kb-cli-1"] and res["publish"]["release"] == 2
    assert BuildRegistry(home).current_id() == res["publish"]["build"]
    code, out, _ = _run(capsys, home, "kb", "export", "--kind", "faq")
    assert "kb-cli-1" in [json.loads(line)["id"] for line in out.splitlines()]

    code, out, _ = _run(capsys, home, "kb", "rollback", "--by", "ops")
    back = _last(out)
    assert code == 0 and back["release"] == 3 and back["changes"]["removed"] == ["faq/kb-cli-1"]
    code, out, _ = _run(capsys, home, "kb", "releases", "--json")
    assert [r["action"] for r in _last(out)] == ["rollback", "publish", "import"]
    code, _, err = _run(capsys, home, "kb", "publish")
    assert code == 2 and "nothing to publish" in err
    code, _, err = _run(capsys, home, "kb", "rollback", "--to", "3")
    assert code == 2 and "already live" in err
