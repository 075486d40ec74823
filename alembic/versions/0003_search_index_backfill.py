"""index existing posts for search

Revision ID: 0003
Revises: 0002

Fills ``posts.search_terms`` (app/posts/search_index.py) for every post stored before the search
index existed, in batches of 2,000 posts. A database made by an 0001 from before the index gets the
column, the GIN index (PostgreSQL) or the FTS5 table and its triggers (SQLite) first.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from app.posts import search_index

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    if "search_terms" not in {column["name"] for column in sa.inspect(connection).get_columns("posts")}:
        with op.batch_alter_table("posts", schema=None) as batch_op:
            column_type = sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql")
            batch_op.add_column(sa.Column("search_terms", column_type, nullable=True))
        search_index.create_structures(connection)
    search_index.backfill(connection)


def downgrade() -> None:
    """The terms stay: 0001 owns the column and its index."""
