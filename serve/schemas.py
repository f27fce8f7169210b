"""Request schemas of the stateless NLP endpoints, with limits taken from :class:`Settings`.

Responses are the shared result models of :mod:`hotline.core.results`. The request classes are made per app by
:func:`nlp_request_models`, so ``HOTLINE_MAX_BATCH`` and ``HOTLINE_MAX_TEXT_CHARS`` change what the API accepts
(and what ``/docs`` shows). Text checks reuse :func:`hotline.core.validate.check_text`, so messages match the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hotline.core.results import AssistResult, Prediction, SearchResult
from hotline.core.settings import Settings
from hotline.core.validate import check_text

__all__ = ["NlpRequests", "nlp_request_models", "ClassifyResponse", "SearchResponse", "AssistResponse"]


class ClassifyResponse(BaseModel):
    predictions: list[Prediction]


class SearchResponse(BaseModel):
    results: list[SearchResult]


class AssistResponse(BaseModel):
    results: list[AssistResult]


@dataclass(frozen=True)
class NlpRequests:
    texts: type[BaseModel]
    search: type[BaseModel]
    assist: type[BaseModel]


def nlp_request_models(settings: Settings) -> NlpRequests:
    """The request classes of ``/v1/classify``, ``/v1/search`` and ``/v1/assist`` under ``settings``' limits."""
    max_batch, max_chars = settings.max_batch, settings.max_text_chars

    class TextsRequest(BaseModel):
        """One or more utterances: ``{"texts": [...]}`` (or ``{"text": "..."}`` for a single one)."""

        model_config = ConfigDict(extra="forbid", json_schema_extra={
            "examples": [{"texts": ["我家宽带从昨天开始连不上，光猫亮红灯"]}]})

        texts: list[str] = Field(default_factory=list, max_length=max_batch,
                                 description=f"1 to {max_batch} Chinese utterances, each at most {max_chars} characters")
        text: str | None = Field(default=None, max_length=max_chars * 2, description="shorthand for a single utterance")
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
            self.texts = [check_text(t, max_chars=max_chars, field=f"texts[{i}]") for i, t in enumerate(self.texts)]
            return self

    class SearchRequest(TextsRequest):
        top_k: int = Field(default=5, ge=1, le=50)
        use_category: bool = Field(default=True, description="boost FAQ entries of the predicted category")

    class AssistRequest(TextsRequest):
        top_k: int = Field(default=5, ge=1, le=20)

    return NlpRequests(texts=TextsRequest, search=SearchRequest, assist=AssistRequest)
