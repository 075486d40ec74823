"""Response body of the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditRead(BaseModel):
    """One audited change."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 12,
                    "at": "2026-11-23T08:00:00Z",
                    "actor": "ops-admin",
                    "action": "update",
                    "entity": "topic",
                    "entity_id": "1",
                    "details": {"rule": '(某品牌 OR "Brand X") AND 刹车'},
                }
            ]
        },
    )

    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str | None
    details: Any
