"""Request/response schemas with limits. Text checks reuse hotline.core.validate so messages match the CLI."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hotline.core.validate import check_text

__all__ = ["TextsRequest", "SearchRequest", "AssistRequest", "Prediction", "ClassifyResponse",
           "SearchResponse", "AssistResponse", "MAX_CHARS", "MAX_BATCH"]

MAX_CHARS = 2000
MAX_BATCH = 64


class TextsRequest(BaseModel):
    """One or more utterances: ``{"texts": [...]}`` (or ``{"text": "..."}`` for a single one)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"texts": ["我家宽带从昨天开始连不上，光猫亮红灯"]}]})

    texts: list[str] = Field(default_factory=list, max_length=MAX_BATCH,
                             description=f"1 to {MAX_BATCH} Chinese utterances, each at most {MAX_CHARS} characters")
    text: str | None = Field(default=None, max_length=MAX_CHARS * 2, description="shorthand for a single utterance")
    top_k: int = Field(default=3, ge=1, le=20)

    @model_validator(mode="after")
    def _one_or_more(self) -> TextsRequest:
        if self.text is not None:
            if self.texts:
                raise ValueError("send either 'text' or 'texts', not both")
            self.texts = [self.text]
            self.text = None
        if not self.texts:
            raise ValueError("'texts' must hold at least one utterance, e.g. {\"texts\": [\"宽带连不上\"]}")
        self.texts = [check_text(t, max_chars=MAX_CHARS, field=f"texts[{i}]") for i, t in enumerate(self.texts)]
        return self


class SearchRequest(TextsRequest):
    top_k: int = Field(default=5, ge=1, le=50)
    use_category: bool = Field(default=True, description="boost FAQ entries of the predicted category")


class AssistRequest(TextsRequest):
    top_k: int = Field(default=5, ge=1, le=20)


class Category(BaseModel):
    code: str
    prob: float
    service: str
    service_name: str
    phenomenon: str


class ServiceProb(BaseModel):
    service: str
    name: str
    prob: float


class Prediction(BaseModel):
    text: str = Field(description="the utterance after normalisation and PII masking")
    label: str
    confidence: float
    top: list[Category]
    services: list[ServiceProb]
    abstain: bool
    abstain_reason: str | None
    is_complaint: bool


class ClassifyResponse(BaseModel):
    predictions: list[Prediction]


class FaqHit(BaseModel):
    id: str
    score: float
    question: str
    answer: str
    category: str | None = None


class SearchResult(BaseModel):
    text: str
    hits: list[FaqHit]
    no_answer: bool
    confidence: float | None = None


class SearchResponse(BaseModel):
    results: list[SearchResult]


class TicketField(BaseModel):
    name: str
    label: str
    required: bool
    value: str | None


class AssistResult(BaseModel):
    text: str
    label: str
    confidence: float
    categories: list[Category]
    services: list[ServiceProb]
    abstain: bool
    abstain_reason: str | None
    is_complaint: bool
    faqs: list[FaqHit]
    no_answer: bool
    spec: dict[str, Any] | None
    ticket_fields: list[TicketField]
    pii: list[dict[str, Any]]
    timings_ms: dict[str, float]


class AssistResponse(BaseModel):
    results: list[AssistResult]
