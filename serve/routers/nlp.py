"""Stateless NLP endpoints: classify, search, assist. CPU-bound, so plain ``def`` (run in the threadpool)."""

from __future__ import annotations

from fastapi import APIRouter

from hotline.serve.deps import PipelineDep
from hotline.serve.schemas import (
    AssistRequest,
    AssistResponse,
    ClassifyResponse,
    SearchRequest,
    SearchResponse,
    TextsRequest,
)

router = APIRouter(prefix="/v1", tags=["nlp"])


@router.post("/classify", response_model=ClassifyResponse)
def classify(req: TextsRequest, pipe: PipelineDep) -> dict:
    """Complaint category (top-k with calibrated probabilities, service roll-up, abstain) per text."""
    return {"predictions": pipe.classify(req.texts, top_k=req.top_k)}


@router.post("/search", response_model=SearchResponse)
def search(req: SearchRequest, pipe: PipelineDep) -> dict:
    """FAQ entries for each text, with scores and a calibrated no-answer flag."""
    cat = None if req.use_category else [{} for _ in req.texts]
    return {"results": pipe.search(req.texts, top_k=req.top_k, category_probs=cat)}


@router.post("/assist", response_model=AssistResponse)
def assist(req: AssistRequest, pipe: PipelineDep) -> dict:
    """Everything for the agent: categories, FAQ answers, handling spec and ticket fields."""
    return pipe.run(req.texts, top_k=req.top_k)
