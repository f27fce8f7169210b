"""Corpus generator: reproducibility, coverage per code and style, and the shape of each style."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from hotline.core.errors import ArtifactError, InvalidInputError
from hotline.core.jsonl import write_jsonl
from hotline.core.resources import data_path
from hotline.core.taxonomy import default_taxonomy
from hotline.training.generate import PUNCTUATION, CorpusGenerator, Style, generate

PHRASES = data_path("generator", "phrases")


@pytest.fixture(scope="module")
def full_corpus() -> list[dict]:
    """Default settings (per_code=400) over every shipped phrase bank; takes well under a second."""
    gen = CorpusGenerator()
    gen.warm_up()
    return gen.run()["records"]


def _small(seed: int = 3, per_code: int = 40) -> list[dict]:
    return generate(seed=seed, per_code=per_code)


def test_init_stores_arguments_without_io(tmp_path):
    gen = CorpusGenerator(seed=1, per_code=5, phrases_dir=tmp_path / "nowhere")
    assert (gen.seed, gen.per_code) == (1, 5)  # no error until warm_up


def test_same_seed_same_output():
    assert _small(seed=7) == _small(seed=7)


def test_different_seed_differs():
    a, b = _small(seed=7), _small(seed=8)
    assert [r["text"] for r in a] != [r["text"] for r in b]


def test_warm_up_is_idempotent():
    gen = CorpusGenerator(per_code=10)
    gen.warm_up()
    banks = gen.banks_
    gen.warm_up()
    assert gen.banks_ is banks


def test_record_shape_and_unique_texts(full_corpus):
    codes = set(default_taxonomy().codes)
    texts = [r["text"] for r in full_corpus]
    assert len(texts) == len(set(texts))
    for r in full_corpus:
        assert set(r) == {"text", "label", "style", "labels"}
        assert r["label"] in codes and r["labels"][0] == r["label"]
        assert r["style"] in {s.value for s in Style}
        assert r["text"].strip() == r["text"] and r["text"]


def test_every_phrase_bank_code_has_at_least_300(full_corpus):
    counts = Counter(r["label"] for r in full_corpus)
    banked = {p.stem for p in PHRASES.glob("*.json")} & set(default_taxonomy().codes)
    assert banked and set(counts) == banked
    short = {c: n for c, n in counts.items() if n < 300}
    assert not short, f"codes under 300 unique records: {short}"


def test_every_taxonomy_code_has_a_phrase_bank():
    missing = [c for c in default_taxonomy().codes if not (PHRASES / f"{c}.json").is_file()]
    assert not missing, f"taxonomy codes without data/generator/phrases/<code>.json: {missing}"


def test_all_styles_present_per_code(full_corpus):
    by_code: dict[str, set[str]] = {}
    for r in full_corpus:
        by_code.setdefault(r["label"], set()).add(r["style"])
    for code, styles in by_code.items():
        expected = {s.value for s in Style}
        if code.startswith("inquiry."):
            expected -= {Style.ANGRY.value, Style.TWO_ISSUE.value}
        assert styles == expected, code


def test_asr_style_has_no_punctuation_or_digits(full_corpus):
    asr = [r["text"] for r in full_corpus if r["style"] == Style.ASR.value]
    assert asr
    for text in asr:
        assert not (set(text) & PUNCTUATION), text
        assert not any(ch.isascii() and ch.isdigit() for ch in text), text


def test_two_issue_labels_and_share(full_corpus):
    tax = default_taxonomy()
    two = [r for r in full_corpus if r["style"] == Style.TWO_ISSUE.value]
    assert two and len(two) <= 0.08 * len(full_corpus)
    for r in two:
        primary, secondary = r["labels"]
        assert r["label"] == primary
        assert tax.service_of(primary) != tax.service_of(secondary)
    for r in full_corpus:
        if r["style"] != Style.TWO_ISSUE.value:
            assert r["labels"] == [r["label"]]


def test_agent_share_and_long_length(full_corpus):
    n = len(full_corpus)
    agent = [r for r in full_corpus if r["style"] == Style.AGENT.value]
    assert 0.05 * n <= len(agent) <= 0.11 * n
    lengths = [len(r["text"]) for r in full_corpus if r["style"] == Style.LONG.value]
    assert lengths and min(lengths) >= 60 and max(lengths) <= 200


def test_inquiry_records_have_no_angry_style(full_corpus):
    inquiry = [r for r in full_corpus if r["label"].startswith("inquiry.")]
    assert all(r["style"] not in {Style.ANGRY.value, Style.TWO_ISSUE.value} for r in inquiry)


def test_codes_subset_and_unknown_code():
    gen = CorpusGenerator(seed=2, per_code=20)
    gen.warm_up()
    code = gen.codes_[0]
    recs = gen.run(codes=[code])["records"]
    assert {r["label"] for r in recs} == {code} and len(recs) == 20
    with pytest.raises(InvalidInputError, match="no phrase bank"):
        gen.run(codes=["nope.code"])


def test_missing_paths_raise_artifact_error(tmp_path):
    with pytest.raises(ArtifactError, match="common.json"):
        CorpusGenerator(common_path=tmp_path / "common.json").warm_up()
    with pytest.raises(ArtifactError, match="phrase folder not found"):
        CorpusGenerator(phrases_dir=tmp_path / "phrases").warm_up()


def test_bad_phrase_bank_names_the_file(tmp_path):
    (tmp_path / "data.slow.json").write_text(
        json.dumps({"code": "data.slow", "core": ["{nope}慢"], "details": ["x"], "asks": ["x"], "short": ["x"], "agent_summary": ["x"]}),
        encoding="utf-8",
    )
    with pytest.raises(ArtifactError, match=r"data\.slow\.json.*unknown slot"):
        CorpusGenerator(phrases_dir=tmp_path).warm_up()


def test_phrase_banks_follow_the_schema():
    common = json.loads(data_path("generator", "common.json").read_text(encoding="utf-8"))
    slots = set(common["slots"])
    for path in sorted(PHRASES.glob("*.json")):
        bank = json.loads(path.read_text(encoding="utf-8"))
        assert bank["code"] == path.stem
        assert 35 <= len(bank["core"]) <= 60, path
        assert 12 <= len(bank["details"]) <= 25, path
        assert 6 <= len(bank["asks"]) <= 12, path
        assert 10 <= len(bank["short"]) <= 20, path
        assert 3 <= len(bank["agent_summary"]) <= 6, path
        for key in ("core", "details", "asks", "short", "agent_summary"):
            for phrase in bank[key]:
                assert set(re.findall(r"\{(\w+)\}", phrase)) <= slots, (path, phrase)
        assert all(2 <= len(s) <= 8 for s in bank["short"]), path


def test_shared_symptoms_come_with_each_leafs_own_context(full_corpus):
    """One symptom ("网页半天打不开") appears under both data.slow and broadband.slow, told apart by 手机/宽带 words."""
    common = json.loads(data_path("generator", "common.json").read_text(encoding="utf-8"))
    group = common["shared_symptoms"]["groups"][0]
    symptom = "网页半天打不开"
    assert symptom in group["symptoms"]
    by_code = {code: [r["text"] for r in full_corpus if r["label"] == code and symptom in r["text"]]
               for code in ("data.slow", "broadband.slow")}
    assert all(len(texts) >= 3 for texts in by_code.values()), by_code
    home = ("宽带", "款待", "WiFi", "家里", "光猫", "光毛", "网线", "电脑")
    assert all(any(w in t for w in home) for t in by_code["broadband.slow"]), by_code["broadband.slow"]
    assert not any("家里宽带" in t for t in by_code["data.slow"])


def test_bad_shared_symptoms_name_the_fix(tmp_path):
    common = json.loads(data_path("generator", "common.json").read_text(encoding="utf-8"))
    common["shared_symptoms"]["groups"][0]["codes"]["data.nope"] = {"before": ["手机"]}
    path = tmp_path / "common.json"
    path.write_text(json.dumps(common, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"'data\.nope', which is not a taxonomy code"):
        CorpusGenerator(common_path=path).warm_up()
    common["shared_symptoms"] = {"share": 2, "groups": []}
    path.write_text(json.dumps(common, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ArtifactError, match=r"share must be a number in \[0, 1\], got 2"):
        CorpusGenerator(common_path=path).warm_up()


def test_inquiry_bank_gets_calm_styles_only(tmp_path):
    """An inquiry code (here a stand-in bank) never gets angry or two_issue records."""
    for code in ("data.slow", "sms.spam"):
        (tmp_path / f"{code}.json").write_text((PHRASES / f"{code}.json").read_text(encoding="utf-8"), encoding="utf-8")
    bank = json.loads((PHRASES / "data.slow.json").read_text(encoding="utf-8"))
    bank["code"] = "inquiry.billing_info"
    (tmp_path / "inquiry.billing_info.json").write_text(json.dumps(bank, ensure_ascii=False), encoding="utf-8")
    recs = generate(seed=1, per_code=100, phrases_dir=tmp_path)
    inquiry = [r for r in recs if r["label"] == "inquiry.billing_info"]
    assert len(inquiry) == 100
    assert not {r["style"] for r in inquiry} & {Style.ANGRY.value, Style.TWO_ISSUE.value}
    assert not any("我要投诉" in r["text"] for r in inquiry)


def test_write_jsonl_round_trip(tmp_path):
    recs = _small(per_code=5)
    path = write_jsonl(recs, tmp_path / "sub" / "corpus.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == recs
    assert "\\u" not in lines[0]
