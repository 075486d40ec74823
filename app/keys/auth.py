"""Who is calling: the bearer key of a request, checked against the stored keys.

`principal_of` is the application's authenticator: app/runtime/application.py installs it as
`app.state.authenticate`, and the scope dependencies of app/core/deps.py (`ReadKey`, `WriteKey`,
`AdminKey`) call it, so app/core needs nothing from this package. Failed attempts are limited per
client before any database lookup (app/keys/limiter.py, `app.state.auth_limiter`).
"""

from __future__ import annotations

from fastapi import Request

from app.core.deps import get_db
from app.core.errors import TooManyRequests, Unauthorized
from app.core.metrics import AUTH_FAILURES
from app.keys.limiter import FailedAuthLimiter, client_of
from app.keys.service import Principal, active_hashes, authenticate, hash_key


def principal_of(request: Request) -> Principal:
    """The caller, from its bearer key (once per request); failed attempts are limited per client."""
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
