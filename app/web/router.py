"""The analysts' dashboard and the API reference (/docs): static pages and their vendored assets
(ECharts, Swagger UI: static/vendor/README.md), every one served by Yuqing itself under a strict CSP,
so nothing is loaded off the machine."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from app.core.errors import NotFound

STATIC_DIR = Path(__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # ECharts writes its tooltip as HTML with inline style attributes; scripts stay strict.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}

router = APIRouter(include_in_schema=False)


def _static_file(relative: str) -> Path:
    """Resolve a path under the static folder; anything outside it or missing is NotFound."""
    candidate = (STATIC_DIR / relative).resolve()
    if not candidate.is_relative_to(STATIC_DIR) or not candidate.is_file():
        raise NotFound(f"no static file {relative!r}")
    return candidate


def _file_response(path: Path, *, cache: str) -> Response:
    media_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    headers = {**SECURITY_HEADERS, "Cache-Control": cache}
    return FileResponse(path, media_type=media_type, headers=headers)


@router.get("/")
def dashboard() -> Response:
    """The single-page dashboard (hash routing: #/, #/topics/ID, #/incidents, #/incidents/ID)."""
    return _file_response(_static_file("index.html"), cache="no-cache")


@router.get("/static/{relative:path}")
def static_asset(relative: str) -> Response:
    """A dashboard asset (scripts, styles, vendored ECharts)."""
    cache = "public, max-age=86400" if relative.startswith("vendor/") else "no-cache"
    return _file_response(_static_file(relative), cache=cache)


@router.get("/docs")
def api_reference() -> Response:
    """The interactive API reference, rendered from /openapi.json with local assets only."""
    return _file_response(_static_file("docs.html"), cache="no-cache")
