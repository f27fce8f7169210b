"""Shared fixtures for the slot tests: one warmed SlotExtractor and a fixed call time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from hotline.pipeline.slots import SlotExtractor

CST = timezone(timedelta(hours=8))
_REF = datetime(2026, 11, 20, 10, 0, tzinfo=CST)  # a Friday, 10:00 Beijing time


@pytest.fixture(scope="package")
def ext() -> SlotExtractor:
    e = SlotExtractor()
    e.warm_up()
    return e


@pytest.fixture(scope="package")
def ref() -> datetime:
    return _REF


@pytest.fixture
def slot(ext: SlotExtractor, ref: datetime) -> Callable[..., Any]:
    """``slot(text, name, ref=REF)``: one slot of ``ext.extract(text, reference_time=ref)``."""

    def _get(text: str, name: str, ref: datetime | None = ref) -> Any:
        return ext.extract(text, reference_time=ref)[name]

    return _get
