"""encrypt channel and source credentials at rest

Revision ID: 0002
Revises: 0001

Channel URLs and secrets and source URLs and options written before encryption are sealed with the
configured key (app/core/secrets.py). On SQLite, `secure_delete` overwrites the freed plain text so it
does not linger in the file's free pages.
"""

from __future__ import annotations

from alembic import op
from app.core.config import load_settings
from app.core.secrets import ColumnSpec, Keyring, open_all, resolve_keyring, seal_plain

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# frozen copy of what the models declare encrypted at this revision (table → {column: stored as JSON?})
COLUMNS: ColumnSpec = {
    "channels": {"url": False, "secret": False},
    "sources": {"url": False, "options": True},
}


def _keyring() -> Keyring:
    given = op.get_context().config.attributes.get("keyring")  # type: ignore[union-attr]
    if isinstance(given, Keyring):
        return given
    url = op.get_bind().engine.url.render_as_string(hide_password=False)
    return resolve_keyring(load_settings(database_url=url))


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA secure_delete=ON")
    seal_plain(connection, COLUMNS, _keyring)


def downgrade() -> None:
    open_all(op.get_bind(), COLUMNS, _keyring)
