"""HTTP routes for posts: push ingest."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from app.core.deps import WriteKey
from app.posts.schemas import PushRequest, PushResult

router = APIRouter(prefix="/api/v1/posts", tags=["posts"])


@router.post("", response_model=PushResult)
async def push_posts(body: PushRequest, request: Request, _: WriteKey) -> PushResult:
    """Push up to 1,000 posts into a push source; each bad post is rejected alone."""
    pipeline = request.app.state.services.pipeline
    return await asyncio.to_thread(pipeline.push, body.source, body.posts)
