"""The hand-written check sets under data/checks/ stay independent of what Hotline trains on: no sentence of a
check set's callers appears in a generator bank, the off-topic list or the shipped KB (the generator fills slots and
adds fillers, so only whole sentences are compared, after dropping spaces and punctuation)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from hotline.core.resources import data_path

_DROP = re.compile(r"[\s，。！？、；：,.!?;:“”\"'‘’（）()…—\-~～]+")
_MIN_CHARS = 12  # shorter lines (我的个人信息被泄露了, 感冒了吃什么药好得快) are common phrases anyone writes


def _norm(text: str) -> str:
    return _DROP.sub("", text)


def _strings(obj: object) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def _check_texts() -> set[str]:
    out: set[str] = set()
    for path in sorted(data_path("checks").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            # the caller's words: agents' formulas (您好，很高兴为您服务) are everybody's
            texts = [t["text"] for t in rec.get("turns", []) if t.get("speaker") == "customer"]
            texts += [rec[k] for k in ("text", "query") if k in rec]
            for t in texts:
                for sentence in re.split(r"[。！？!?]", t):
                    if len(_norm(sentence)) >= _MIN_CHARS:
                        out.add(_norm(sentence))
    return out


def _training_texts() -> Iterator[tuple[str, str]]:
    gen = data_path("generator")
    for path in sorted([*gen.glob("*.json"), *(gen / "phrases").glob("*.json")]):
        for s in _strings(json.loads(path.read_text(encoding="utf-8"))):
            yield path.name, s
    for line in data_path("kb", "offtopic.txt").read_text(encoding="utf-8").splitlines():
        yield "offtopic.txt", line
    for line in data_path("kb", "faq.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            e = json.loads(line)
            for s in [e.get("question", ""), *e.get("similar", [])]:
                yield "faq.jsonl", s


def test_no_check_sentence_is_in_the_training_data() -> None:
    checks = _check_texts()
    assert len(checks) > 1000  # every check set was read
    copied = sorted({(name, s) for name, s in _training_texts() for part in re.split(r"[。！？!?]", s)
                     if len(_norm(part)) >= _MIN_CHARS and _norm(part) in checks})
    assert not copied, f"check-set sentences found in training data: {copied[:5]}"

