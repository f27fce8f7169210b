"""Dependencies for routers, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from hotline.core.settings import Settings
from hotline.pipeline.assist import AssistPipeline
from hotline.serve.state import PipelineHolder

__all__ = ["PipelineDep", "HolderDep", "SettingsDep"]


def get_holder(request: Request) -> PipelineHolder:
    return request.app.state.holder


def get_pipeline(request: Request) -> AssistPipeline:
    pipe = request.app.state.holder.pipeline
    if pipe is None:
        raise HTTPException(status_code=503, detail="models are still loading; retry in a few seconds")
    return pipe


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


HolderDep = Annotated[PipelineHolder, Depends(get_holder)]
PipelineDep = Annotated[AssistPipeline, Depends(get_pipeline)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
