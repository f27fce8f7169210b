from __future__ import annotations

import json

import pytest

from hotline.core.errors import InvalidInputError, NotFoundError
from hotline.index.kb import FaqEntry, KnowledgeBase, default_kb_path, load_specs


def _write(tmp_path, lines, name="kb.jsonl"):
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def _line(**kw):
    base = {"id": "a", "question": "怎么查话费", "answer": "发送CXHF到10086"}
    base.update(kw)
    return json.dumps({k: v for k, v in base.items() if v is not ...}, ensure_ascii=False)


def test_round_trip(tmp_path, small_kb):
    p = small_kb.to_jsonl(tmp_path / "out.jsonl")
    kb = KnowledgeBase.from_jsonl(p)
    assert len(kb) == len(small_kb)
    assert [e.to_dict() for e in kb.entries] == [e.to_dict() for e in small_kb.entries]
    assert kb.get("f3").category == "inquiry.billing_info"
    assert "f3" in kb and "zz" not in kb


def test_optional_fields_default(tmp_path):
    kb = KnowledgeBase.from_jsonl(_write(tmp_path, [_line()]))
    e = kb.get("a")
    assert e.category is None and e.similar == []


@pytest.mark.parametrize(
    "line, field",
    [
        ("{not json", "JSON"),
        (_line(id=""), "'id'"),
        (_line(question=...), "'question'"),
        (_line(answer=5), "'answer'"),
        (_line(similar="不是列表"), "'similar'"),
        (_line(similar=["ok", 3]), "'similar'"),
        (_line(category=3), "'category'"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_validation_names_file_line_and_field(tmp_path, line, field):
    p = _write(tmp_path, [_line(id="ok1"), line])
    with pytest.raises(InvalidInputError) as e:
        KnowledgeBase.from_jsonl(p)
    msg = str(e.value)
    assert f"{p}:2" in msg and field in msg


def test_duplicate_id_names_both_lines(tmp_path):
    p = _write(tmp_path, [_line(id="x"), _line(id="y"), _line(id="x")])
    with pytest.raises(InvalidInputError, match=r":3: field 'id' = 'x' already used on line 1"):
        KnowledgeBase.from_jsonl(p)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        KnowledgeBase.from_jsonl(tmp_path / "nope.jsonl")
    with pytest.raises(InvalidInputError, match="no entries"):
        KnowledgeBase.from_jsonl(_write(tmp_path, [""]))


def test_get_unknown_id(small_kb):
    with pytest.raises(NotFoundError, match="'nope'"):
        small_kb.get("nope")


def test_duplicate_ids_in_constructor():
    with pytest.raises(InvalidInputError, match="twice"):
        KnowledgeBase([FaqEntry("a", "q", "a"), FaqEntry("a", "q2", "a2")])


def test_load_specs_tolerates_missing_optional_keys(tmp_path):
    p = _write(tmp_path, [
        json.dumps({"code": "data.slow", "title": "网速慢", "causes": [{"cause": "基站拥塞", "how_to_tell": "晚高峰"}],
                    "ticket_fields": [{"name": "address", "label": "地址", "required": True}]}, ensure_ascii=False),
        json.dumps({"code": "sms.spam"}),
    ], name="specs.jsonl")
    specs = load_specs(p)
    assert specs["data.slow"].causes[0].how_to_tell == "晚高峰"
    assert specs["data.slow"].ticket_fields[0].required is True
    assert specs["sms.spam"].questions == [] and specs["sms.spam"].dispatch_route is None


def test_load_specs_errors_name_line(tmp_path):
    p = _write(tmp_path, [json.dumps({"code": "a"}), json.dumps({"title": "x"})], name="specs.jsonl")
    with pytest.raises(InvalidInputError, match=r":2: field 'code'"):
        load_specs(p)


def test_shipped_files_parse():
    if not default_kb_path().is_file():
        pytest.skip("data/kb/faq.jsonl not shipped yet")
    kb = KnowledgeBase.from_jsonl(default_kb_path())
    assert len(kb) > 0
    specs_path = default_kb_path().with_name("specs.jsonl")
    if specs_path.is_file():
        assert load_specs(specs_path)


def test_line_numbers_count_blank_lines(tmp_path):
    p = _write(tmp_path, [_line(id="a"), "", "   ", _line(id="b", question="")])
    with pytest.raises(InvalidInputError, match=r"kb\.jsonl:4: field 'question'"):
        KnowledgeBase.from_jsonl(p)
    specs = _write(tmp_path, [json.dumps({"code": "a"}), "", "{bad"], name="specs.jsonl")
    with pytest.raises(InvalidInputError, match=r"specs\.jsonl:3: not valid JSON .*column 2"):
        load_specs(specs)
