"""FastAPI dependencies: a session per request, and the calling principal with scope checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from pydantic import AfterValidator
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import Database
from app.core.errors import Forbidden, TooManyRequests, Unauthorized
from app.core.metrics import AUTH_FAILURES
from app.keys.limiter import FailedAuthLimiter, client_of
from app.keys.service import Principal, active_hashes, authenticate, hash_key


def get_db(request: Request) -> Database:
    """The application's database."""
    return request.app.state.db  # type: ignore[no-any-return]


def get_settings_dep(request: Request) -> Settings:
    """The application's settings."""
    return request.app.state.settings  # type: ignore[no-any-return]


def get_session(request: Request) -> Iterator[Session]:
    """A session per request; committed when the endpoint returns, rolled back on error."""
    with get_db(request).session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
MAX_ID = 2_147_483_647
Id = Annotated[int, Path(ge=1, le=MAX_ID, description="numeric id")]
IdFilter = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def as_utc(value: datetime | None) -> datetime | None:
    """Timestamps without an offset are taken as UTC; others are converted to UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UTCTime = Annotated[datetime, AfterValidator(as_utc)]
OptionalUTCTime = Annotated[datetime | None, AfterValidator(as_utc)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def _principal(request: Request) -> Principal:
    """The caller, from its bearer key; failed attempts are limited per client (app/keys/limiter.py)."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        AUTH_FAILURES.labels("missing").inc()
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    plain = token.strip()
    digest = hash_key(plain)
    limiter: FailedAuthLimiter = request.app.state.auth_limiter
    client = client_of(request.client.host if request.client else None)
    wait = limiter.retry_after(client)
    if wait is not None and not limiter.may_be_valid(digest, lambda: _active_hashes(request)):
        AUTH_FAILURES.labels("limited").inc()
        raise TooManyRequests(
            f"too many failed authentications from this client; retry in {wait} s", retry_after=wait
        )
    with get_db(request).session() as session:
        principal = authenticate(session=session, plain=plain)
    if principal is None:
        limiter.failed(client)
        limiter.forget(digest)
        AUTH_FAILURES.labels("invalid").inc()
        raise Unauthorized("unknown or revoked API key")
    limiter.remember(digest)
    request.state.principal = principal
    return principal


def _active_hashes(request: Request) -> list[str]:
    with get_db(request).session() as session:
        return active_hashes(session=session)


def require(scope: str) -> Callable[[Request], Principal]:
    """Dependency factory: the caller must hold at least `scope`."""

    def dependency(request: Request) -> Principal:
        principal = _principal(request)
        if not principal.allows(scope):
            raise Forbidden(f"this operation needs the {scope!r} scope; the key has {principal.scope!r}")
        return principal

    return dependency


ReadKey = Annotated[Principal, Depends(require("read"))]
WriteKey = Annotated[Principal, Depends(require("write"))]
AdminKey = Annotated[Principal, Depends(require("admin"))]
