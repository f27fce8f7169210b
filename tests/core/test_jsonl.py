"""hotline.core.jsonl: the one JSONL reader (errors name file and line) and labelled records with null labels."""

from __future__ import annotations

import pytest

from hotline.core.errors import InvalidInputError
from hotline.core.jsonl import iter_jsonl, read_labelled, write_jsonl


def test_round_trip_skips_blank_lines_and_keeps_line_numbers(tmp_path):
    path = write_jsonl([{"text": "宽带断了", "label": "a"}, {"text": "话费多扣了", "label": "b"}], tmp_path / "x.jsonl")
    path.write_text(path.read_text(encoding="utf-8").replace("\n", "\n\n", 1), encoding="utf-8")
    assert [n for n, _ in iter_jsonl(path)] == [1, 3]


def test_bad_json_names_the_line(tmp_path):
    (tmp_path / "x.jsonl").write_text('{"text": "a", "label": "b"}\nnot json\n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"x\.jsonl:2"):
        read_labelled(tmp_path / "x.jsonl")


def test_null_labels_only_when_allowed(tmp_path):
    path = write_jsonl([{"text": "宽带断了", "label": "a"}, {"text": "明天天气怎么样", "label": None}], tmp_path / "x.jsonl")
    with pytest.raises(InvalidInputError, match="record 2 has no 'label'"):
        read_labelled(path)
    assert read_labelled(path, allow_null=True) == (["宽带断了", "明天天气怎么样"], ["a", None])
    missing = write_jsonl([{"text": "宽带断了"}], tmp_path / "y.jsonl")
    with pytest.raises(InvalidInputError, match="or null when none applies"):
        read_labelled(missing, allow_null=True)  # the key must be there, even when null is allowed
