"""The category of one live call, from its customer turns: weighted evidence that decays, shown with hysteresis.

Each customer turn's class probabilities are weighted by how informative the turn is (:func:`turn_weight`:
``嗯``/``对的`` weigh nothing; long, confident turns weigh most) and mixed into a running evidence vector
whose older part decays by ``0.5 ** weight`` per new turn, so later turns weigh more. The displayed label
has hysteresis: a challenger takes over only when it leads the smoothed probabilities by ``switch_margin``
or is on top for two informative turns in a row.

Example:
    >>> tracker = CategoryTracker()  # doctest: +SKIP
    >>> tracker.update(classifier, "我家宽带连不上了，光猫亮红灯", idx=0)  # doctest: +SKIP
    True
    >>> tracker.category["label"]  # doctest: +SKIP
    'broadband.cannot_connect'
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

import numpy as np

__all__ = ["CategoryTracker", "turn_weight"]

# Words that carry no complaint content; only used to measure how informative a turn is. The second
# line covers answers to the agent's ticket questions (我的电话是…, 住在…), which say nothing of the fault.
_FILLER_RE = re.compile(
    "喂|嗯|啊|哦|噢|呃|额|唉|哎|呀|吧|呢|嘛|啦|哈|好的|好吧|是的|对的|对|是|好|行|可以|没错|明白|知道了|"
    "谢谢|您好|你好|那个|这个|就是|然后|请问|麻烦|"
    "我的|我们|我|电话|号码|手机号|联系方式|联系|地址|住在|住|在|位置|叫|姓"
)
_MASKED_RE = re.compile(r"[0-9A-Za-z]*\*{2,}[0-9A-Za-z]*")
_HAN_RE = re.compile("[\u4e00-\u9fff]")
_LATIN_RE = re.compile("[A-Za-z0-9]+")
# a turn counts as evidence for the shown label when its decayed share of that label's evidence is this large
_EVIDENCE_SHARE = 0.2


def turn_weight(masked_text: str, probs: np.ndarray, *, slot_values: list[str] | None = None) -> float:
    """How much one customer turn counts as category evidence, in ``[0, 1]``.

    Length gate: characters left after dropping masked numbers, the given slot values (an address,
    a device) and filler words (``嗯``, ``对的``, ``我的电话是`` …); under 2 → 0, 6 or more → 1. Confidence: the top probability's margin over uniform, in ``[0, 1]``
    (a turn the classifier cannot place, such as one giving a phone number, adds almost nothing).
    The weight is their product.

    Example:
        >>> turn_weight("嗯", np.array([0.9, 0.05, 0.05]))
        0.0
    """
    content = _MASKED_RE.sub("", masked_text)
    for v in slot_values or []:
        if v and len(v) >= 2:
            content = content.replace(v, "")
    content = _FILLER_RE.sub("", content)
    n = len(_HAN_RE.findall(content)) + len(_LATIN_RE.findall(content))
    if n < 2:
        return 0.0
    gate = min(1.0, n / 6.0)
    c = probs.shape[-1]
    margin = (float(probs.max()) - 1.0 / c) / (1.0 - 1.0 / c) if c > 1 else 1.0
    return gate * min(1.0, max(0.0, margin))


class CategoryTracker:
    """Per-call category state. Not thread-safe: the call's owner serialises updates (CallManager's call lock).

    Args:
        switch_margin: Lead a challenger category needs to take over the display at once.
        max_turns: Most turn contributions remembered (for the ``evidence`` turn list).

    Attributes:
        label: The displayed label, ``None`` before the first informative customer turn.
        category: The call-level conclusion shown to the agent (the ``category`` of the call state), or ``None``.
        probs: Smoothed probabilities of 0.01 or more by class code (boosts FAQ retrieval).
        recent: The last two informative customer turns (masked), the FAQ query.
    """

    def __init__(self, *, switch_margin: float = 0.15, max_turns: int = 500) -> None:
        self.switch_margin = switch_margin
        self.max_turns = max_turns
        self.label: str | None = None
        self.category: dict[str, Any] | None = None
        self.probs: dict[str, float] = {}
        self.recent: deque[str] = deque(maxlen=2)
        self._classes: tuple[str, ...] | None = None
        self._evidence: np.ndarray | None = None  # [n_classes], decayed weighted sum of turn probabilities
        self._weight_total = 0.0
        # (turn idx, weight, probs [n_classes], weight_total after that turn)
        self._contribs: deque[tuple[int, float, np.ndarray, float]] = deque(maxlen=max_turns)
        self._pending: str | None = None
        self._held = 0

    def update(self, classifier: Any, masked: str, idx: int, *, taxonomy: Any = None,
               slot_values: list[str] | None = None) -> bool:
        """Fold one customer turn into the evidence; returns whether it was informative (weight > 0).

        Args:
            classifier: Has ``classes``, ``probabilities(texts) -> [n, n_classes]``, ``model.threshold_for``
                and (unless ``taxonomy`` is given) ``taxonomy``.
            masked: The turn's normalised, PII-masked text.
            idx: The turn's index in the call.
            taxonomy: Names of the codes; default ``classifier.taxonomy``.
            slot_values: Slot values found in the turn (an address), which do not count as content.
        """
        classes = tuple(classifier.classes)
        probs = np.asarray(classifier.probabilities([masked]), dtype=np.float64)[0]  # [n_classes]
        if self._classes != classes:  # a reloaded model may order or name its classes differently
            self._evidence = _remap(self._evidence, self._classes, classes)
            self._contribs = deque(
                ((i, w, _remap(p, self._classes, classes), wt) for i, w, p, wt in self._contribs),
                maxlen=self.max_turns,
            )
            self._classes = classes
        w = turn_weight(masked, probs, slot_values=slot_values)
        if w <= 0.0:
            return False
        self.recent.append(masked)
        ev = self._evidence if self._evidence is not None else np.zeros(len(classes))
        self._evidence = ev * (0.5 ** w) + w * probs
        self._weight_total += w
        self._contribs.append((idx, w, probs, self._weight_total))
        smoothed = self._evidence / self._evidence.sum()
        pos = {c: i for i, c in enumerate(classes)}
        self._switch(classes[int(np.argmax(smoothed))], smoothed, pos)
        self.category = self._describe(classifier, taxonomy or classifier.taxonomy, smoothed, pos)
        self.probs = {c: float(p) for c, p in zip(classes, smoothed) if p >= 0.01}
        return True

    def _switch(self, best: str, smoothed: np.ndarray, pos: dict[str, int]) -> None:
        """Hysteresis: keep the shown label unless ``best`` leads by the margin or wins twice in a row."""
        if self.label is None or self.label not in pos:
            self.label, self._pending, self._held = best, None, 1
        elif best == self.label:
            self._pending = None
            self._held += 1
        elif smoothed[pos[best]] - smoothed[pos[self.label]] >= self.switch_margin or self._pending == best:
            self.label, self._pending, self._held = best, None, 1
        else:
            self._pending = best

    def _describe(self, classifier: Any, taxonomy: Any, smoothed: np.ndarray, pos: dict[str, int]) -> dict[str, Any]:
        from hotline.pipeline.classify import describe_probs

        label, ev = str(self.label), self._evidence  # both set by update() before this is called
        threshold_for = classifier.model.threshold_for
        desc = describe_probs(smoothed[None, :], list(self._classes or ()), taxonomy, top_k=3,
                              threshold_for=threshold_for)[0]
        conf = float(smoothed[pos[label]])
        entry = taxonomy._by_code.get(label) if hasattr(taxonomy, "_by_code") else None
        # turns whose (decayed) contribution to the shown label is at least a fifth of its evidence
        total = float(ev[pos[label]]) or 1.0
        evidence = [i for i, wi, p, wt in self._contribs
                    if wi * p[pos[label]] * 0.5 ** (self._weight_total - wt) / total >= _EVIDENCE_SHARE]
        return {
            "label": label,
            "confidence": round(conf, 4),
            "service": label.split(".", 1)[0],
            "service_name": entry.service if entry else label.split(".", 1)[0],
            "phenomenon": entry.phenomenon if entry else label,
            "top": [c.model_dump() for c in desc.top],
            "evidence": evidence,
            "stable": self._pending is None and (self._held >= 2 or conf >= 0.9),
            "abstain": conf < threshold_for(label),
            "is_complaint": entry.is_complaint if entry else not label.startswith("inquiry."),
        }


def _remap(vec: np.ndarray | None, old: tuple[str, ...] | None, new: tuple[str, ...]) -> np.ndarray | None:
    """Move a per-class vector onto another class order (after a model reload); unknown classes get 0."""
    if vec is None or old is None:
        return vec
    pos = {c: i for i, c in enumerate(old)}
    return np.array([vec[pos[c]] if c in pos else 0.0 for c in new], dtype=np.float64)
