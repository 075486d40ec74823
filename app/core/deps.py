"""FastAPI dependencies: a session per request, and the caller with scope checks.

Who the caller is, is the application's to say: `require` asks the authenticator installed as
`app.state.authenticate` (app/runtime/application.py installs app/keys/auth.py `principal_of`),
so core does not depend on the keys package.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Protocol

from fastapi import Depends, Path, Query, Request
from pydantic import AfterValidator
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import Database
from app.core.errors import Forbidden


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


class Caller(Protocol):
    """Who is calling, as the scope dependencies need it (app/keys/service.py `Principal`)."""

    @property
    def name(self) -> str:
        """The key's name (the actor in the audit log)."""
        ...

    @property
    def scope(self) -> str:
        """The key's scope."""
        ...

    def allows(self, needed: str) -> bool:
        """True when the scope covers `needed` (read < write < admin)."""
        ...


Authenticate = Callable[[Request], Caller]


def authenticator(request: Request) -> Authenticate:
    """The application's authenticator (app/runtime/application.py installs `keys.auth.principal_of`)."""
    return request.app.state.authenticate  # type: ignore[no-any-return]


def require(scope: str) -> Callable[[Request], Caller]:
    """Dependency factory: the caller must hold at least `scope`."""

    def dependency(request: Request) -> Caller:
        principal = authenticator(request)(request)
        if not principal.allows(scope):
            raise Forbidden(f"this operation needs the {scope!r} scope; the key has {principal.scope!r}")
        return principal

    return dependency


ReadKey = Annotated[Caller, Depends(require("read"))]
WriteKey = Annotated[Caller, Depends(require("write"))]
AdminKey = Annotated[Caller, Depends(require("admin"))]
