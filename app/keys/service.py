"""Create, verify and revoke API keys; the caller owns the transaction."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.db import utcnow
from app.core.errors import BadRequest, Conflict, NotFound
from app.keys.models import SCOPES, ApiKey

KEY_PREFIX = "yq_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's name and scope."""

    key_id: int | None
    name: str
    scope: str

    def allows(self, needed: str) -> bool:
        """True when this principal's scope covers `needed` (read < write < admin)."""
        return SCOPES.index(self.scope) >= SCOPES.index(needed)


def hash_key(plain: str) -> str:
    """SHA-256 of a key; keys are 32 random bytes, so a fast hash is the right tool."""
    return hashlib.sha256(plain.encode()).hexdigest()


def create(*, session: Session, name: str, scope: str) -> tuple[ApiKey, str]:
    """Create a key and return it with its plain text, which is shown only once."""
    if scope not in SCOPES:
        raise BadRequest(f"scope must be one of {', '.join(SCOPES)}")
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise Conflict(f"an API key named {name!r} already exists")
    plain = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=name, prefix=plain[:11], key_hash=hash_key(plain), scope=scope)
    session.add(key)
    session.flush()
    return key, plain


def authenticate(*, session: Session, plain: str) -> Principal | None:
    """Return the principal for a plain key, or None when unknown or revoked."""
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(plain)))
    if key is None or key.revoked_at is not None:
        return None
    now = utcnow()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        key.last_used_at = now
    return Principal(key_id=key.id, name=key.name, scope=key.scope)


def active_hashes(*, session: Session) -> list[str]:
    """The hashes of every key that is not revoked."""
    return list(session.scalars(select(ApiKey.key_hash).where(ApiKey.revoked_at.is_(None))))


def list_keys(*, session: Session) -> list[ApiKey]:
    """All keys, oldest first (hashes never leave the service)."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke(*, session: Session, key_id: int) -> ApiKey:
    """Revoke a key; it stops working at once."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    key.revoked_at = key.revoked_at or utcnow()
    return key
