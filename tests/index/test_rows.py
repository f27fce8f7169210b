from __future__ import annotations

import pytest

from hotline.core.errors import InvalidInputError
from hotline.index.kb import FaqEntry
from hotline.index.rows import ANSWER, FIELDS, check_fields, doc_texts, doc_tokens, entry_rows, lex_tokens


def test_rows_are_grouped_by_entry_and_deduplicated():
    entries = [FaqEntry("a", "查话费", "发短信", similar=["查话费", "余额多少"]), FaqEntry("b", "宽带慢", "重启")]
    texts, row_entry, row_field = entry_rows(entries, FIELDS)
    assert texts == ["查话费", "余额多少", "发短信", "宽带慢", "重启"]  # the repeated similar question is one row
    assert row_entry.tolist() == [0, 0, 0, 1, 1]
    assert row_field.tolist() == [0, 1, ANSWER, 0, ANSWER]
    assert entry_rows(entries, ("question",))[0] == ["查话费", "宽带慢"]
    assert doc_texts(entries[0], ("question", "similar")) == ["查话费", "查话费", "余额多少"]


def test_lex_tokens_add_characters(segmenter):
    class Words:
        def tokens(self, text):
            return ["呼出", "受限"]

    assert lex_tokens(Words(), "呼出受限") == ["呼出", "受限", "呼", "出", "受", "限"]
    e = FaqEntry("a", "查话费", "发短信")
    assert doc_tokens(e, ("question", "answer"), segmenter) == [lex_tokens(segmenter, "查话费"),
                                                               lex_tokens(segmenter, "发短信")]


def test_check_fields():
    assert check_fields("question", "fields") == ("question",)
    assert check_fields(["answer", "question", "answer"], "fields") == ("answer", "question")
    with pytest.raises(InvalidInputError, match=r"bm25_fields must be a non-empty subset.*\['title'\]"):
        check_fields(["title"], "bm25_fields")
