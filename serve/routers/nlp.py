"""Stateless NLP endpoints: classify, search, assist. CPU-bound, so plain ``def`` (run in the threadpool).

No ``from __future__ import annotations`` here: FastAPI must see the per-app request classes themselves.
"""


from fastapi import APIRouter

from hotline.core.settings import Settings
from hotline.serve.deps import PipelineDep
from hotline.serve.schemas import AssistResponse, ClassifyResponse, SearchResponse, nlp_request_models

__all__ = ["build_router"]


def build_router(settings: Settings) -> APIRouter:
    """The ``/v1`` NLP routes, with request limits from ``settings``."""
    req = nlp_request_models(settings)
    TextsRequest, SearchRequest, AssistRequest = req.texts, req.search, req.assist
    router = APIRouter(prefix="/v1", tags=["nlp"])

    @router.post("/classify", response_model=ClassifyResponse)
    def classify(body: TextsRequest, pipe: PipelineDep) -> ClassifyResponse:  # type: ignore[valid-type]
        """Complaint category (top-k with calibrated probabilities, service roll-up, abstain) per text."""
        return ClassifyResponse(predictions=pipe.classify(body.texts, top_k=body.top_k))

    @router.post("/search", response_model=SearchResponse)
    def search(body: SearchRequest, pipe: PipelineDep) -> SearchResponse:  # type: ignore[valid-type]
        """FAQ entries for each text, with scores and a calibrated no-answer flag."""
        cat = None if body.use_category else [{} for _ in body.texts]
        return SearchResponse(results=pipe.search(body.texts, top_k=body.top_k, category_probs=cat))

    @router.post("/assist", response_model=AssistResponse)
    def assist(body: AssistRequest, pipe: PipelineDep) -> AssistResponse:  # type: ignore[valid-type]
        """Everything for the agent: categories, FAQ answers, handling spec and ticket fields."""
        return AssistResponse(results=pipe.run(body.texts, top_k=body.top_k)["results"])

    return router
