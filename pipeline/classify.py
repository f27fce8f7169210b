"""Complaint classification stage: calibrated probabilities → top-k, service roll-up, abstain decision."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hotline.core.errors import InvalidInputError, NotFittedError
from hotline.core.results import Category, Prediction, ServiceProb
from hotline.core.taxonomy import NON_COMPLAINT_PREFIX, Taxonomy, default_taxonomy

__all__ = ["ComplaintClassifierStage", "describe_probs", "SCOPE_DIR"]

SCOPE_DIR = "scope"  # the scope model, beside the classifier it was fitted with


def describe_probs(probs: np.ndarray, classes: list[str], taxonomy: Taxonomy, *, top_k: int,
                   threshold_for, texts: list[str] | None = None,
                   in_scope: np.ndarray | None = None) -> list[Prediction]:
    """Turn a ``[n, n_classes]`` probability matrix into :class:`Prediction` results (``texts`` fill ``text``).

    ``in_scope`` (``[n]`` bool, from the scope model) marks utterances that are telecom speech at all; the
    others abstain with reason ``out_of_scope`` and are not complaints.

    Service probabilities are the sums of their leaves, so they always agree with the leaf level.
    """
    services = [taxonomy.service_of(c) for c in classes]
    service_names = sorted(set(services))
    s_index = {s: i for i, s in enumerate(service_names)}
    # [n_classes, n_services] 0/1 membership, so rolling up is one matrix product
    member = np.zeros((len(classes), len(service_names)), dtype=probs.dtype)
    for i, s in enumerate(services):
        member[i, s_index[s]] = 1.0
    service_probs = probs @ member  # [n, n_services]
    k = min(top_k, len(classes))
    order = np.argsort(-probs, axis=1)[:, :k]
    s_order = np.argsort(-service_probs, axis=1)[:, : min(3, len(service_names))]
    out = []
    for row in range(probs.shape[0]):
        top = []
        for j in order[row]:
            code = classes[j]
            entry = taxonomy._by_code.get(code)
            top.append(Category(
                code=code,
                prob=round(float(probs[row, j]), 4),
                service=services[j],
                service_name=entry.service if entry else services[j],
                phenomenon=entry.phenomenon if entry else code,
            ))
        label = top[0].code
        conf = float(probs[row, order[row][0]])
        is_complaint = not label.startswith(NON_COMPLAINT_PREFIX)
        reason = None
        if in_scope is not None and not in_scope[row]:
            reason, is_complaint = "out_of_scope", False
        elif conf < threshold_for(label):
            reason = "low_confidence"
        elif not is_complaint:
            reason = "not_a_complaint"
        out.append(Prediction(
            text=texts[row] if texts is not None else "",
            label=label,
            confidence=round(conf, 4),
            top=top,
            services=[
                ServiceProb(service=service_names[s], name=taxonomy.service_name(service_names[s]),
                            prob=round(float(service_probs[row, s]), 4))
                for s in s_order[row]
            ],
            abstain=reason is not None,
            abstain_reason=reason,
            is_complaint=is_complaint,
        ))
    return out


class ComplaintClassifierStage:
    """Classify utterances with a saved :class:`models.classifier.ComplaintClassifier`.

    Example:
        >>> stage = ComplaintClassifierStage(model_dir="~/.hotline/classifier")  # doctest: +SKIP
        >>> stage.warm_up(); stage.run(["家里宽带连不上了"])["predictions"][0].label  # doctest: +SKIP
        'broadband.cannot_connect'
    """

    def __init__(self, *, model_dir: str | Path | None = None, model=None, top_k: int = 3,
                 taxonomy: Taxonomy | None = None, scope=None) -> None:
        if top_k <= 0:
            raise InvalidInputError(f"top_k must be > 0, got {top_k}")
        self.model_dir = model_dir
        self.model = model
        self.top_k = top_k
        self.taxonomy = taxonomy
        self.scope = scope  # a ScopeModel; warm_up loads <model_dir>/scope when the build made one

    def warm_up(self) -> None:
        if self.model is None:
            if self.model_dir is None:
                raise NotFittedError("ComplaintClassifierStage needs model_dir or model")
            from hotline.models.classifier import ComplaintClassifier

            self.model = ComplaintClassifier.load(Path(self.model_dir).expanduser())
        if self.scope is None and self.model_dir is not None:
            scope_dir = Path(self.model_dir).expanduser() / SCOPE_DIR
            if (scope_dir / "meta.json").is_file():
                from hotline.models.scope import ScopeModel

                self.scope = ScopeModel.load(scope_dir)
        if self.taxonomy is None:
            self.taxonomy = default_taxonomy()
        self.model.warm_up()

    @property
    def classes(self) -> list[str]:
        return list(self.model.classes_)

    def probabilities(self, texts: list[str], *, embeddings: np.ndarray | None = None) -> np.ndarray:
        if self.model is None:
            self.warm_up()
        return self.model.predict_proba(texts, embeddings=embeddings)

    def run(self, texts: list[str], *, top_k: int | None = None,
            embeddings: np.ndarray | None = None) -> dict[str, list]:
        probs = self.probabilities(texts, embeddings=embeddings)
        in_scope = None if self.scope is None else self.scope.in_scope(list(texts))
        preds = describe_probs(probs, self.classes, self.taxonomy, top_k=top_k or self.top_k,
                               threshold_for=self.model.threshold_for, texts=list(texts), in_scope=in_scope)
        return {"predictions": preds, "probs": probs}
