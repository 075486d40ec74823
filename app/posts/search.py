"""Post search with keyset pagination, and streamed CSV/JSONL exports; services never commit."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from analysis.textfold import fold_chars, to_simplified
from app.core.db import Database
from app.core.errors import BadRequest, NotFound
from app.posts import search_index
from app.posts.models import Post, PostTopic

EXPORT_MAX_ROWS = 100_000
EXPORT_BATCH = 1000
EXPORT_COLUMNS = (
    "id",
    "published_at",
    "source_id",
    "platform",
    "author",
    "author_id",
    "author_followers",
    "author_verified",
    "sentiment",
    "sentiment_score",
    "title",
    "text",
    "url",
    "keywords",
    "cluster_id",
    "engagement_total",
    "external_id",
    "collected_at",
)
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_TEXT_COLUMNS = {"author", "author_id", "title", "text", "url", "external_id", "platform"}


@dataclass(frozen=True)
class PostFilters:
    """What to search for; every field is optional and they combine with AND."""

    topic_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    sentiment: str | None = None
    source_id: int | None = None
    q: str | None = None
    cluster_id: int | None = None

    def check(self) -> PostFilters:
        """Refuse an empty or inverted time range."""
        if self.start and self.end and self.end <= self.start:
            details = {"start": self.start.isoformat(), "end": self.end.isoformat()}
            raise BadRequest("end must be after start", details=details)
        return self


def encode_cursor(published_at: datetime, post_id: int) -> str:
    """An opaque cursor pointing just after the given post in (published_at desc, id desc) order."""
    payload = json.dumps([published_at.astimezone(UTC).isoformat(), post_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Read a cursor made by `encode_cursor`.

    Raises:
        BadRequest: the cursor was not made by this API.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, post_id = json.loads(raw)
        published = datetime.fromisoformat(moment)
        if published.tzinfo is None or not isinstance(post_id, int) or isinstance(post_id, bool):
            raise ValueError("bad cursor fields")
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("invalid cursor: pass back the next_cursor of a previous page unchanged") from None
    return published, post_id


def _statement(filters: PostFilters, dialect: str) -> tuple[Select[Any], Any, Any]:
    """The filtered query and the (time, id) columns its keyset order uses."""
    stmt = select(Post)
    time_col, id_col = Post.published_at, Post.id
    if filters.topic_id is not None:
        on_topic = and_(PostTopic.post_id == Post.id, PostTopic.topic_id == filters.topic_id)
        stmt = stmt.join(PostTopic, on_topic)
        time_col, id_col = PostTopic.published_at, PostTopic.post_id
    if filters.start is not None:
        stmt = stmt.where(time_col >= filters.start)
    if filters.end is not None:
        stmt = stmt.where(time_col < filters.end)
    if filters.sentiment is not None:
        stmt = stmt.where(Post.sentiment == filters.sentiment)
    if filters.source_id is not None:
        stmt = stmt.where(Post.source_id == filters.source_id)
    if filters.cluster_id is not None:
        stmt = stmt.where(or_(Post.cluster_id == filters.cluster_id, Post.id == filters.cluster_id))
    if filters.q and filters.q.strip():
        stmt = stmt.where(_text_condition(filters.q.strip(), dialect))
    return stmt, time_col, id_col


def _text_condition(q: str, dialect: str) -> Any:
    """Posts whose text or title contains `q` (繁体 and width folded, any case).

    Queries of two characters or more are answered by the search index (app/posts/search_index.py
    defines the match); shorter ones by the substring scan, which reads every post in range.
    """
    scan = _scan_condition(q)
    if search_index.indexable(q):
        return search_index.condition(dialect, q, scan)
    return scan


def _scan_condition(q: str) -> Any:
    """Case-insensitive substring match on the normalised text (繁体 folded) or the title."""
    folded = to_simplified(fold_chars(q))
    conditions = [Post.text.icontains(folded, autoescape=True), Post.title.icontains(q, autoescape=True)]
    if folded != q:
        conditions.append(Post.text.icontains(q, autoescape=True))
    return or_(*conditions)


Keyset = tuple[datetime, int]

# PostgreSQL: a word of several terms is read newest first in two phases (see `_indexed_page`).
WALK_POSTS = 5000


def _after(stmt: Select[Any], time_col: Any, id_col: Any, after: Keyset | None) -> Select[Any]:
    if after is None:
        return stmt
    moment, post_id = after
    return stmt.where(or_(time_col < moment, and_(time_col == moment, id_col < post_id)))


def _page(session: Session, filters: PostFilters, limit: int, after: Keyset | None) -> list[Post]:
    dialect = session.get_bind().dialect.name
    q = (filters.q or "").strip()
    if dialect == "postgresql" and q and search_index.indexable(q) and not search_index.single_term(q):
        return _indexed_page(session, filters, q, limit, after)
    stmt, time_col, id_col = _statement(filters, dialect)
    stmt = _after(stmt, time_col, id_col, after).order_by(time_col.desc(), id_col.desc()).limit(limit)
    return list(session.scalars(stmt))


def _indexed_page(
    session: Session, filters: PostFilters, q: str, limit: int, after: Keyset | None
) -> list[Post]:
    """One page of a search for a word of three characters or more on PostgreSQL, newest first.

    The GIN index finds the posts holding all of a word's terms but knows nothing of time, so a
    page "newest first" fetches and sorts every candidate. The planner cannot tell how many there
    are: it estimates a phrase from its terms as if they were independent (确诊病例 27× too rare at
    1 M posts, so it fetched and sorted all 78,000 candidates: 2.3 s). So the page is read in two
    bounded phases:

    1. walk: the newest `WALK_POSTS` posts of the filtered stream, along the time index, each
       tested with `search_index.exact` (a substring test on the row for most posts). A word in
       ≥ 1 % of recent posts fills its page here.
    2. the index: then GIN once, over everything older than the walk.

    A two-character word is one term whose frequency the column's statistics give, and the
    planner chooses well between the GIN bitmap and walking the time index for it (`_page` runs
    the plain statement). The order and the page are exactly those of the plain query; only the
    work differs.
    """
    plain = replace(filters, q=None)
    base, time_col, id_col = _statement(plain, "postgresql")
    base = _after(base, time_col, id_col, after)
    scan = _scan_condition(q)
    ordered = (time_col.desc(), id_col.desc())
    # by time alone: an index-only scan of the time index when no other filter applies
    boundary_query = (
        base.with_only_columns(time_col).order_by(time_col.desc()).offset(WALK_POSTS - 1).limit(1)
    )
    boundary = session.scalar(boundary_query)
    if boundary is None:  # fewer posts in range than one walk: walk them all
        stmt = base.where(search_index.exact(q, scan)).order_by(*ordered).limit(limit)
        return list(session.scalars(stmt))
    walk = base.where(time_col >= boundary, search_index.exact(q, scan)).order_by(*ordered).limit(limit)
    found = list(session.scalars(walk))
    if len(found) < limit:
        older = base.where(time_col < boundary, search_index.condition("postgresql", q, scan))
        found += session.scalars(older.order_by(*ordered).limit(limit - len(found)))
    return found


def search(
    *, session: Session, filters: PostFilters, limit: int, cursor: str | None = None
) -> tuple[list[Post], str | None]:
    """One page of matching posts, newest first, and the cursor of the next page (None at the end)."""
    after = decode_cursor(cursor) if cursor else None
    posts = _page(session, filters.check(), limit + 1, after)
    if len(posts) <= limit:
        return posts, None
    posts = posts[:limit]
    return posts, encode_cursor(posts[-1].published_at, posts[-1].id)


def get_post(*, session: Session, post_id: int) -> Post:
    """A post by id, or NotFound."""
    post = session.get(Post, post_id)
    if post is None:
        raise NotFound(f"post {post_id} not found")
    return post


def iter_posts(*, db: Database, filters: PostFilters, max_rows: int = EXPORT_MAX_ROWS) -> Iterator[Post]:
    """Every matching post, newest first, read in keyset batches (one short session each)."""
    after: tuple[datetime, int] | None = None
    remaining = max_rows
    while remaining > 0:
        with db.session() as session:
            batch = _page(session, filters, min(EXPORT_BATCH, remaining), after)
        yield from batch
        if len(batch) < min(EXPORT_BATCH, remaining):
            return
        remaining -= len(batch)
        after = (batch[-1].published_at, batch[-1].id)


def export_row(post: Post) -> dict[str, Any]:
    """A post as an export row (JSON-ready)."""
    row = {name: getattr(post, name) for name in EXPORT_COLUMNS}
    for name in ("published_at", "collected_at"):
        row[name] = row[name].isoformat() if row[name] else None
    row["keywords"] = list(row["keywords"] or [])
    return row


def _csv_cell(name: str, value: Any) -> Any:
    """Flatten lists and defuse spreadsheet formulas in free-text cells."""
    if isinstance(value, list):
        value = " ".join(str(item) for item in value)
    if name in _TEXT_COLUMNS and isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return "" if value is None else value


def csv_lines(rows: Iterable[dict[str, Any]], columns: tuple[str, ...]) -> Iterator[str]:
    """CSV text (UTF-8 BOM first so spreadsheet programs read Chinese correctly), a chunk per 200 rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(columns)
    for index, row in enumerate(rows, start=1):
        writer.writerow([_csv_cell(name, row.get(name)) for name in columns])
        if index % 200 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def jsonl_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """One JSON object per line."""
    for row in rows:
        yield json.dumps(row, ensure_ascii=False, default=str) + "\n"


def render_export(rows: Iterable[dict[str, Any]], fmt: str, columns: tuple[str, ...]) -> Iterator[str]:
    """Export rows as CSV or JSONL text chunks."""
    return csv_lines(rows, columns) if fmt == "csv" else jsonl_lines(rows)


def post_export(*, db: Database, filters: PostFilters, fmt: str, max_rows: int) -> Iterator[str]:
    """The streamed text of a post export."""
    rows = (export_row(post) for post in iter_posts(db=db, filters=filters, max_rows=max_rows))
    return render_export(rows, fmt, EXPORT_COLUMNS)
