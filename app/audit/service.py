"""Record and list audit entries; the caller owns the transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry


def record(
    *, session: Session, actor: str, action: str, entity: str, entity_id: object = None, details: Any = None
) -> None:
    """Add an audit entry to the current transaction."""
    session.add(
        AuditEntry(
            actor=actor,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            details=details or {},
        )
    )


def list_entries(*, session: Session, entity: str | None = None, limit: int = 100) -> list[AuditEntry]:
    """Newest audit entries first, optionally for one kind of entity."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if entity:
        stmt = stmt.where(AuditEntry.entity == entity)
    return list(session.scalars(stmt))
