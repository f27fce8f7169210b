"""Names said before a head word (视频彩铃功能**费**, 充一百送一百的**活动**): where such a name starts."""

from __future__ import annotations

import re

from hotline.pipeline.slots._context import CLAUSE_END

__all__ = ["name_start"]

_BREAK = CLAUSE_END + ",，、:：\"“”'‘’《》「」()（） "


def name_start(text: str, head: int, boundary: re.Pattern[str], *, max_len: int = 12) -> int:
    """Where the name ending at ``head`` starts: after the last boundary word (参加了, 有个, 扣了 …) or break
    (punctuation, space) within ``max_len`` characters before it; ``head`` when nothing is left.

    Example:
        >>> name_start("我参加了充一百送一百的活动", 11, re.compile("参加了|了"))
        4
    """
    lo = max(0, head - max_len)
    for i in range(head - 1, lo - 1, -1):
        if text[i] in _BREAK:
            lo = i + 1
            break
    start = lo
    for m in boundary.finditer(text, lo, head):
        if m.end() <= head:
            start = max(start, m.end())
    return start
