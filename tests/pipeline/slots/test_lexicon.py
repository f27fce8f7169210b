"""Tests for pipeline.slots._lexicon: the operators' word lists, and errors that name the file and the entry."""

from __future__ import annotations

import re

import pytest

from hotline.core.errors import ArtifactError
from hotline.pipeline.slots._lexicon import alternation, lexicon, words


def test_every_section_is_documented() -> None:
    for name, section in lexicon().items():
        if not name.startswith("_"):
            assert "_doc" in section, name


def test_missing_entry_names_itself_and_the_file() -> None:
    with pytest.raises(ArtifactError, match=r"slots\.json has no entry 'amount\.nope'"):
        words("amount", "nope")


def test_alternation_prefers_the_longest_word() -> None:
    assert re.match(alternation(["账号", "宽带账号"]), "宽带账号是").group() == "宽带账号"
    guarded = re.compile(alternation(["漫游", "出国"], guard=True))
    assert guarded.search("我出国了").group() == "出国" and guarded.search("你好") is None
    with pytest.raises(ArtifactError, match="empty word list"):
        alternation([])
