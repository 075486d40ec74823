"""The FastAPI application: services wired at start-up, routers mounted, one error shape."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.alerts import router as alerts_router
from app.audit import router as audit_router
from app.cases import router as cases_router
from app.channels import router as channels_router
from app.core.body_limit import BodyLimitMiddleware
from app.core.config import Settings, get_settings
from app.core.errors import error_body, install_error_handlers
from app.demo import router as demo_router
from app.keys import router as keys_router
from app.keys.auth import principal_of
from app.keys.limiter import FailedAuthLimiter
from app.posts import router as posts_router
from app.posts import search_router
from app.runtime import metrics_router
from app.runtime.container import Services
from app.sources import router as sources_router
from app.topics import router as topics_router
from app.topics import views as topic_views
from app.web import router as web_router

log = logging.getLogger(__name__)
API_DESCRIPTION = """Yuqing (舆情) collects public posts and feeds, understands Chinese text, warns early
when a crisis forms and delivers alerts to chat. Every endpoint except `/healthz` and `/readyz` needs
`Authorization: Bearer <key>` (create one with `yuqing keys create`). Scopes: read < write < admin.
Errors always look like `{"error": {"code", "message", "details"}}`. A client that keeps sending
unknown keys gets 429 with `Retry-After` (a valid key is never refused)."""


def create_app(
    settings: Settings | None = None, *, services: Services | None = None, role: str = "all"
) -> FastAPI:
    """Build the application; background work starts in the lifespan according to `role`."""
    settings = settings or get_settings()
    services = services or Services.create(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await services.start(role)
        try:
            yield
        finally:
            await services.stop()

    app = FastAPI(
        title="Yuqing 舆情监测与预警 API",
        version="1",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs is served by app/web with local assets (FastAPI's loads them from a CDN)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.services = services
    app.state.db = services.db
    app.state.authenticate = principal_of  # app/core/deps.py `require` asks it who is calling
    app.state.auth_limiter = FailedAuthLimiter(
        burst=settings.auth_failure_burst, per_minute=settings.auth_failure_per_minute
    )
    install_error_handlers(app)
    _install_middleware(app, settings)
    _mount_routers(app)
    return app


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request.state.request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    # outermost: the body limit holds before any other middleware or route reads the stream
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)


ROUTERS = (  # mounted in this order; the web router's catch-all routes come last
    keys_router.router,
    sources_router.router,
    sources_router.preset_router,
    posts_router.router,
    search_router.router,
    topics_router.router,
    topic_views.router,  # a topic over a window (trend, keywords, report, ...), the overview, compare
    alerts_router.router,
    channels_router.router,
    cases_router.router,
    audit_router.router,
    metrics_router.router,
    demo_router.router,
    web_router.router,
)


def _mount_routers(app: FastAPI) -> None:
    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "database unavailable"}})
    def readyz(request: Request) -> JSONResponse:
        """Readiness: the database answers."""
        try:
            with request.app.state.db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means not ready
            log.warning("readiness check failed: %s", type(exc).__name__)
            return JSONResponse(error_body("unavailable", "database unavailable"), status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    for router in ROUTERS:
        app.include_router(router)
