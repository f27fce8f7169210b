"""The category of one live call, from its turns: the call model's conclusion, shown with hysteresis.

With a trained call model (:class:`~hotline.models.call_model.CallModel`, built beside the classifier by
``hotline build``) every turn — the customer's and the agent's — is folded into the call's per-role evidence,
and the call model gives the distribution over categories for the whole conversation so far: resolution
talk, closings, identity checks and deferred issues do not move it, the agent's diagnosis may. The call
model's ``none`` class marks a call that is not a telecom complaint. When the leaf is uncertain but its
service is clear, the conclusion is shown at service level (``level: "service"``).

Without a call model (a classifier trained on the user's own labels), the fallback folds customer turns
only: each turn's probabilities are weighted by how informative the turn is (:func:`turn_weight`) into a
running evidence vector whose older part decays by ``0.5 ** weight`` per new turn.

Either way the displayed label has hysteresis: a challenger takes over only when it leads by
``switch_margin`` or is on top for two informative turns in a row, so the view changes when evidence
changes, not on every turn; each conclusion names its evidence turns.

Example:
    >>> tracker = CategoryTracker()  # doctest: +SKIP
    >>> tracker.update(classifier, "我家宽带连不上了，光猫亮红灯", idx=0, speaker="customer")  # doctest: +SKIP
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


# Turn roles (hotline.training.dialogues.TurnRole) whose text states the call's problem: they feed the FAQ
# query, and one of them (or the agent's diagnosis, or off-topic speech) must be seen before a label is shown.
_QUERY_ROLES = frozenset({"complaint", "detail"})
_CONCLUSIVE_ROLES = frozenset({"complaint", "detail", "agent_diagnosis", "offtopic"})
_ROLE_SHARE = 0.3  # share of a turn's role probability in those roles for it to count as such


class CategoryTracker:
    """Per-call category state. Not thread-safe: the call's owner serialises updates (CallManager's call lock).

    Args:
        switch_margin: Lead a challenger category needs to take over the display at once.
        max_turns: Most turn contributions remembered (for the ``evidence`` turn list).
        leaf_min: With a call model, the shown leaf's probability below which the call is shown at service level.
        service_min: … and the service's probability needed for that; below both, the leaf is shown, abstaining.

    Attributes:
        label: The displayed label (``__none__`` for "not a telecom complaint"), ``None`` before any evidence.
        category: The call-level conclusion shown to the agent (the ``category`` of the call state), or ``None``.
        probs: Call-level probabilities of 0.01 or more by class code (boosts FAQ retrieval).
        recent: The last two customer turns that state the problem (masked), the FAQ query.
    """

    def __init__(self, *, switch_margin: float = 0.15, max_turns: int = 500, leaf_min: float = 0.5,
                 service_min: float = 0.6) -> None:
        self.switch_margin = switch_margin
        self.max_turns = max_turns
        self.leaf_min = leaf_min
        self.service_min = service_min
        self.label: str | None = None
        self.category: dict[str, Any] | None = None
        self.probs: dict[str, float] = {}
        self.recent: deque[str] = deque(maxlen=2)
        self._classes: tuple[str, ...] | None = None
        self._evidence: np.ndarray | None = None  # fallback: [n_classes] decayed weighted sum of turn probabilities
        self._weight_total = 0.0
        # fallback: (turn idx, weight, probs [n_classes], weight_total after that turn)
        self._contribs: deque[tuple[int, float, np.ndarray, float]] = deque(maxlen=max_turns)
        self._pending: str | None = None
        self._held = 0
        # with a call model: the model the evidence was folded with, its evidence, and the turns (for a refold)
        self._model: Any = None
        self._call_ev: Any = None
        self._turns: list[tuple[str, int, str]] = []
        self._conclusive = False

    def update(self, classifier: Any, masked: str, idx: int, *, speaker: str = "customer", call_model: Any = None,
               taxonomy: Any = None, slot_values: list[str] | None = None) -> bool:
        """Fold one turn into the evidence; returns whether the customer stated something of the problem.

        Args:
            classifier: Has ``classes``, ``probabilities(texts) -> [n, n_classes]``, ``model.threshold_for``
                and (unless ``taxonomy`` is given) ``taxonomy``.
            masked: The turn's normalised, PII-masked text.
            idx: The turn's index in the call.
            speaker: ``customer`` or ``agent``; without a call model agent turns are not evidence.
            call_model: A fitted :class:`~hotline.models.call_model.CallModel` over ``classifier``'s classes, or None.
            taxonomy: Names of the codes; default ``classifier.taxonomy``.
            slot_values: Slot values found in the turn (an address), which do not count as content.
        """
        classes = tuple(classifier.classes)
        if call_model is not None and list(call_model.classes_) == list(classes):
            return self._update_with_model(classifier, call_model, masked, idx, speaker, taxonomy, slot_values)
        if speaker != "customer":
            return False
        return self._update_fallback(classifier, classes, masked, idx, taxonomy, slot_values)

    # -- with the call model -------------------------------------------------------------------
    def _update_with_model(self, classifier: Any, model: Any, masked: str, idx: int, speaker: str, taxonomy: Any,
                           slot_values: list[str] | None) -> bool:
        from hotline.models.call_model import NONE_LABEL

        if model is not self._model:  # first turn, or the models were reloaded: refold the call so far
            self._model, self._call_ev = model, model.new_evidence()
            earlier = list(self._turns)
            if earlier:
                texts = [t for _, _, t in earlier]
                probs = np.asarray(classifier.probabilities(texts), dtype=np.float64)
                scopes = _scope_probs(classifier, model, texts)
                for (sp, i, t), p, sc in zip(earlier, probs, scopes):
                    model.add_turn(self._call_ev, sp, i, t, p, sc)
            self._classes = tuple(classifier.classes)
        self._turns.append((speaker, idx, masked))
        del self._turns[: max(0, len(self._turns) - self.max_turns)]
        probs = np.asarray(classifier.probabilities([masked]), dtype=np.float64)[0]  # [n_classes]
        scope = _scope_probs(classifier, model, [masked])[0]
        rp = model.add_turn(self._call_ev, speaker, idx, masked, probs, scope)
        share = dict(zip(model.roles_, rp))
        # a turn may be partly a complaint ("我的电话是…，宽带连不上"): role shares, not only the likeliest role
        stated = (speaker == "customer" and sum(share.get(r, 0.0) for r in _QUERY_ROLES) >= _ROLE_SHARE
                  and turn_weight(masked, probs, slot_values=slot_values) > 0)
        if stated:
            self.recent.append(masked)
        self._conclusive = self._conclusive or sum(share.get(r, 0.0) for r in _CONCLUSIVE_ROLES) >= _ROLE_SHARE
        if not self._conclusive:
            return False
        dist = model.predict_proba_evidence(self._call_ev)  # [n_labels] = classes + none
        labels = list(model.labels_)
        pos = {c: i for i, c in enumerate(labels)}
        best = labels[int(np.argmax(dist))]
        self._switch(best, dist, pos)
        self.category = self._describe_call(classifier, model, taxonomy or classifier.taxonomy, dist, pos)
        leaf = dist[: len(model.classes_)]
        leaf = leaf / max(float(leaf.sum()), 1e-12)
        self.probs = {c: float(p) for c, p in zip(model.classes_, leaf) if p >= 0.01}
        if self.label == NONE_LABEL:
            self.probs = {}
        return stated

    def _describe_call(self, classifier: Any, model: Any, taxonomy: Any, dist: np.ndarray,
                       pos: dict[str, int]) -> dict[str, Any]:
        from hotline.models.call_model import NONE_LABEL
        from hotline.pipeline.classify import describe_probs

        classes = list(model.classes_)
        leaf = dist[: len(classes)]
        shown = str(self.label)
        out_of_scope = shown == NONE_LABEL
        label = classes[int(np.argmax(leaf))] if out_of_scope else shown
        desc = describe_probs(leaf[None, :] / max(float(leaf.sum()), 1e-12), classes, taxonomy, top_k=3,
                              threshold_for=lambda _: 0.0)[0]
        conf = float(dist[pos[label]])
        entry = taxonomy._by_code.get(label) if hasattr(taxonomy, "_by_code") else None
        service = label.split(".", 1)[0]
        service_prob = float(sum(p for c, p in zip(classes, leaf) if c.split(".", 1)[0] == service))
        if out_of_scope:
            level, reason = "none", "out_of_scope"
        elif conf >= self.leaf_min:
            level, reason = "leaf", None
        elif service_prob >= self.service_min:
            level, reason = "service", "leaf_uncertain"
        else:
            level, reason = "leaf", "low_confidence"
        return {
            "label": label,
            "confidence": round(conf, 4),
            "service": service,
            "service_name": entry.service if entry else service,
            "service_prob": round(service_prob, 4),
            "phenomenon": entry.phenomenon if entry else label,
            "top": [c.model_dump() for c in desc.top],
            "evidence": model.evidence_turns(self._call_ev, shown,
                                             roles=_CONCLUSIVE_ROLES if not out_of_scope else None),
            "stable": self._pending is None and (self._held >= 2 or float(dist[pos[shown]]) >= 0.9),
            "abstain": reason is not None,
            "abstain_reason": reason,
            "level": level,
            "is_complaint": (not out_of_scope) and (entry.is_complaint if entry else not label.startswith("inquiry.")),
        }

    # -- fallback: customer turns with decaying evidence -----------------------------------------
    def _update_fallback(self, classifier: Any, classes: tuple[str, ...], masked: str, idx: int, taxonomy: Any,
                         slot_values: list[str] | None) -> bool:
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
        service = label.split(".", 1)[0]
        abstain = conf < threshold_for(label)
        return {
            "label": label,
            "confidence": round(conf, 4),
            "service": service,
            "service_name": entry.service if entry else service,
            "service_prob": round(float(sum(smoothed[i] for c, i in pos.items() if c.split(".", 1)[0] == service)), 4),
            "phenomenon": entry.phenomenon if entry else label,
            "top": [c.model_dump() for c in desc.top],
            "evidence": evidence,
            "stable": self._pending is None and (self._held >= 2 or conf >= 0.9),
            "abstain": abstain,
            "abstain_reason": "low_confidence" if abstain else None,
            "level": "leaf",
            "is_complaint": entry.is_complaint if entry else not label.startswith("inquiry."),
        }


def _scope_probs(classifier: Any, model: Any, texts: list[str]) -> list[float | None]:
    """P(telecom speech) per text from the classifier stage's scope model, when the call model uses one."""
    scope = getattr(classifier, "scope", None)
    if scope is None or not getattr(model, "uses_scope_", False):
        return [None] * len(texts)
    return [float(p) for p in scope.proba(texts)]


def _remap(vec: np.ndarray | None, old: tuple[str, ...] | None, new: tuple[str, ...]) -> np.ndarray | None:
    """Move a per-class vector onto another class order (after a model reload); unknown classes get 0."""
    if vec is None or old is None:
        return vec
    pos = {c: i for i, c in enumerate(old)}
    return np.array([vec[pos[c]] if c in pos else 0.0 for c in new], dtype=np.float64)
