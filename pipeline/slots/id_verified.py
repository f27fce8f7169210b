"""Identity-check slot: whether the caller's identity was checked (核实通过, 身份证后四位是…, 服务密码忘了),
as said with digits hidden; ``resolved`` is True (checked) or False (failed or refused).

Evidence of a check: an agent's verdict (身份核实通过 / 核实不通过) or the caller giving an ID number, its last
digits or the service password. A refusal (不记得, 没带) counts only next to an ID word (身份证, 服务密码). The
last statement in the text wins. Phrases are in the lexicon (``identity``).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from hotline.core.numerals import SPOKEN_DIGITS
from hotline.pipeline.slots._context import Utterance
from hotline.pipeline.slots._lexicon import alternation, words

__all__ = ["extract_id_verified"]

_REFUSAL_WINDOW = 8


@functools.cache
def _patterns() -> dict[str, re.Pattern[str]]:
    terms = alternation(words("identity", "id_terms"))
    return {
        "verified": re.compile(alternation(words("identity", "verified"))),
        "failed": re.compile(alternation(words("identity", "failed"))),
        "given": re.compile(
            rf"(?:{terms})(?:的)?(?:号码|号)?(?:的)?(?:最?后[四六46]位|尾号)?(?:数字)?(?:是|为|就是)?[:：]?\s?"
            rf"(?P<d>[\d{SPOKEN_DIGITS}]{{4,17}}[\d{SPOKEN_DIGITS}Xx]?)"
        ),
        "terms": re.compile(terms),
        "refusal": re.compile(alternation(words("identity", "refusals"))),
        "gate": re.compile(alternation([*words("identity", "verified"), *words("identity", "failed"),
                                        *words("identity", "id_terms")])),
    }


def extract_id_verified(u: Utterance) -> dict[str, Any] | None:
    """``{"value", "resolved", "evidence"}``: the last identity statement in the text, or None."""
    text = u.norm
    p = _patterns()
    if p["gate"].search(text) is None:
        return None
    found: list[tuple[int, int, bool, int]] = []  # (start, end, checked, where digits start)
    for m in p["verified"].finditer(text):
        found.append((m.start(), m.end(), True, m.end()))
    for m in p["failed"].finditer(text):
        found = [f for f in found if not (f[0] < m.end() and m.start() < f[1])]  # 核实不通过 holds 通过
        found.append((m.start(), m.end(), False, m.end()))
    for m in p["given"].finditer(text):
        found.append((m.start(), m.end(), True, m.start("d")))
    for t in p["terms"].finditer(text):
        r = p["refusal"].search(text, t.end(), u.clause_end(t.end(), _REFUSAL_WINDOW))
        if r is not None and not any(f[0] <= t.start() < f[1] for f in found):
            found.append((t.start(), r.end(), False, r.end()))
    if not found:
        return None
    start, end, ok, digits = max(found, key=lambda f: f[1])
    # the digits said (an ID number, its last four, a password) never appear in the value
    return {"value": text[start:digits] + "*" * (end - digits), "resolved": ok, "evidence": u.snippet(start, end)}
