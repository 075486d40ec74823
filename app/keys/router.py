"""HTTP routes for API keys (admin scope)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, ConfigDict, Field

from app.audit import service as audit
from app.core.deps import AdminKey, Id, SessionDep
from app.keys import service

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])


class KeyCreate(BaseModel):
    """A new API key."""

    name: str = Field(min_length=1, max_length=100)
    scope: str = Field(pattern="^(read|write|admin)$")


class KeyRead(BaseModel):
    """An API key without its secret."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    scope: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyRead):
    """A new key; `key` is shown only in this response."""

    key: str


@router.post("", status_code=status.HTTP_201_CREATED, response_model=KeyCreated)
def create_key(body: KeyCreate, request: Request, session: SessionDep, principal: AdminKey) -> KeyCreated:
    """Create a key; the plain key is returned once and stored only hashed."""
    key, plain = service.create(session=session, name=body.name, scope=body.scope)
    request.app.state.auth_limiter.remember(key.key_hash)  # valid from a rate-limited client at once
    audit.record(
        session=session,
        actor=principal.name,
        action="create",
        entity="key",
        entity_id=key.id,
        details={"name": key.name, "scope": key.scope},
    )
    return KeyCreated(**KeyRead.model_validate(key).model_dump(), key=plain)


@router.get("", response_model=list[KeyRead])
def list_keys(session: SessionDep, _: AdminKey) -> list[KeyRead]:
    """All keys (never their secrets)."""
    return [KeyRead.model_validate(k) for k in service.list_keys(session=session)]


@router.delete("/{key_id}", response_model=KeyRead)
def revoke_key(key_id: Id, session: SessionDep, principal: AdminKey) -> KeyRead:
    """Revoke a key at once."""
    key = service.revoke(session=session, key_id=key_id)
    audit.record(session=session, actor=principal.name, action="revoke", entity="key", entity_id=key_id)
    return KeyRead.model_validate(key)
