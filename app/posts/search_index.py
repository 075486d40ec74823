"""The post search index: character bigrams with positions, so a phrase query is a substring test.

What a query means (one definition, both databases): a post matches ``q`` when one of the query's
forms occurs as a substring in one of the post's segments.

- query forms: ``fold(q)`` and ``lower(q)`` (the second only when it differs), where
  ``fold(s) = lower(to_simplified(fold_chars(s)))``: width folding, 繁体 → 简体, lower case;
- post segments: ``lower(text)`` (the stored text is already folded by `analysis.normalize`),
  ``lower(title)`` and ``fold(title)``.

Every segment is cut into overlapping character bigrams (``"iphone15"`` → ``ip ph ho on ne e1 15``,
``"舆情监测"`` → ``舆情 情监 监测``), each at its own position, with a gap between segments. A query
of n ≥ 2 characters is the phrase of its n-1 bigrams at consecutive positions, which occurs exactly
when the query occurs as a substring: no false hits, no misses. Queries shorter than two characters
after folding cannot be cut into bigrams; `app/posts/search.py` answers them with the old scan.

Terms: a bigram of two alphanumeric characters (`str.isalnum`: Chinese characters, letters, digits)
is stored as itself; any other bigram (spaces, punctuation, emoji) as ``<hex>z<hex>`` of its two code
points, so every term is one token for both engines and no term can be mistaken for another.

Storage, maintained in the one place posts are inserted (`app/posts/ingest.py` calls `add_terms`):

- PostgreSQL: ``posts.search_terms`` is a ``tsvector`` of the positioned terms (built here as a
  literal, no text-search parser involved) with a GIN index ``ix_posts_search_terms``; a
  two-character query is its one term, a longer one the AND of its terms (exact in GIN, no
  recheck), then per candidate the substring scan or the phrase ``search_terms @@ 'ab' <-> 'bc'
  <-> …`` (`exact`). A tsvector keeps at most 256
  positions per term and positions up to 16,383; a post beyond either limit (a very long article,
  "哈哈哈…" 300 times) is stored with its distinct terms without positions plus the marker term
  ``0long``, and is decided by the substring scan alone. Deleting a post deletes its terms with it.
  How a page of a longer query is read (the newest posts first, then GIN) is
  `app/posts/search.py`'s.
- SQLite: ``posts.search_terms`` holds the same terms as text (segments separated by the one-character
  token ``0``) and the FTS5 table ``post_search`` indexes it as external content; triggers on
  ``posts`` keep it in step on insert, delete (retention, a deleted source) and update of the terms.

Changing a post's title or text must go through `terms_value` again (no path does so today).
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    cast,
    literal,
    literal_column,
    or_,
    select,
    table,
    text,
)
from sqlalchemy import column as column_
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session
from sqlalchemy.types import Text

from analysis.textfold import fold_chars, to_simplified

MIN_QUERY_CHARS = 2
PG_MAX_POSITION = 16383  # tsvector limits (PostgreSQL's MAXENTRYPOS - 1, MAXNUMPOS)
PG_MAX_POSITIONS_PER_TERM = 256
LONG_MARKER = "0long"
SQLITE_SEPARATOR = "0"
FTS_TABLE = "post_search"
GIN_INDEX = "ix_posts_search_terms"
SQLITE_TRIGGERS = ("posts_search_ai", "posts_search_ad", "posts_search_au")
BACKFILL_BATCH = 2000
PG_STATISTICS = 1000


def fold(value: str) -> str:
    """The fold every query and title goes through: width, 繁体 → 简体, lower case."""
    return to_simplified(fold_chars(value)).lower()


def query_forms(q: str) -> list[str]:
    """The strings a query matches as substrings: its folded form, then its lower-cased form."""
    forms = [fold(q)]
    if q.lower() != forms[0]:
        forms.append(q.lower())
    return forms


def segments(title: str | None, text: str | None) -> list[str]:
    """The strings of a post a query is looked for in (distinct, in a fixed order)."""
    found: list[str] = []
    for value in ((text or "").lower(), (title or "").lower(), fold(title or "")):
        if len(value) >= MIN_QUERY_CHARS and value not in found:
            found.append(value)
    return found


def matches(q: str, title: str | None, text: str | None) -> bool:
    """The reference definition of a match, in plain Python (tests compare the index with it)."""
    return any(form in segment for form in query_forms(q) for segment in segments(title, text))


def bigrams(value: str) -> list[str]:
    """The terms of a string's overlapping character bigrams, in order."""
    pairs = [first + second for first, second in zip(value, value[1:], strict=False)]
    if value.isalnum():
        return pairs
    return [pair if pair.isalnum() else f"{ord(pair[0]):x}z{ord(pair[1]):x}" for pair in pairs]


def indexable(q: str) -> bool:
    """Whether the index can answer `q`: every form has at least two characters."""
    return all(len(form) >= MIN_QUERY_CHARS for form in query_forms(q))


def single_term(q: str) -> bool:
    """Whether every form of `q` is one term (a two-character word)."""
    return all(len(bigrams(form)) == 1 for form in query_forms(q))


def sqlite_terms(title: str | None, text: str | None) -> str:
    """The FTS5 content of a post: its segments' terms, the segments separated by ``0``."""
    return f" {SQLITE_SEPARATOR} ".join(" ".join(bigrams(segment)) for segment in segments(title, text))


def pg_terms(title: str | None, text: str | None) -> str:
    """The tsvector literal of a post: each term with its positions, a one-position gap between
    segments; distinct terms with no positions plus ``0long`` when the tsvector limits would cut it."""
    entries: dict[str, str] = {}  # term → "'term':p1,p2,…" (built as it grows: the fast way in CPython)
    counts: dict[str, int] = {}
    position = 1
    for segment in segments(title, text):
        terms = bigrams(segment)
        for offset, term in enumerate(terms, position):
            entry = entries.get(term)
            if entry is None:
                entries[term], counts[term] = f"'{term}':{offset}", 1
            else:
                entries[term], counts[term] = f"{entry},{offset}", counts[term] + 1
        position += len(terms) + 1
    if position > PG_MAX_POSITION or max(counts.values(), default=0) > PG_MAX_POSITIONS_PER_TERM:
        return " ".join([LONG_MARKER, *(f"'{term}'" for term in entries)])
    return " ".join(entries.values())


def terms_value(dialect: str, title: str | None, text: str | None) -> str:
    """What `posts.search_terms` holds for a post on this database."""
    return pg_terms(title, text) if dialect == "postgresql" else sqlite_terms(title, text)


def add_terms(session: Session, rows: Iterable[MutableMapping[str, Any]]) -> None:
    """Set ``search_terms`` on post insert rows (which carry ``title`` and ``text``)."""
    dialect = session.get_bind().dialect.name
    for row in rows:
        row["search_terms"] = terms_value(dialect, row.get("title"), row.get("text"))


def _tsquery(value: str) -> ColumnElement[Any]:
    return cast(literal(value, Text()), TSQUERY())


def condition(dialect: str, q: str, scan: ColumnElement[bool]) -> ColumnElement[bool]:
    """The WHERE condition for an indexable query `q` (see `indexable`), answerable from the index.

    `scan` is the plain substring condition (`app/posts/search.py`). On PostgreSQL the index part is
    the AND of the query's terms, which GIN answers exactly without reading the posts (no phrase
    operator, so no recheck); `exact` then decides each candidate. A two-character query is one
    term, and holding it is the match: no row test, which also keeps the planner's estimate of
    the condition (from the term's statistics) true, so it walks the time index for common words.
    """
    from app.posts.models import Post

    forms = [bigrams(form) for form in query_forms(q)]
    if dialect == "postgresql":
        column = Post.__table__.c.search_terms
        every = " | ".join("(" + " & ".join(f"'{t}'" for t in sorted(set(terms))) + ")" for terms in forms)
        if single_term(q):  # holding the one term is the match (titles' folded forms are terms too)
            return column.op("@@")(_tsquery(every))
        return and_(column.op("@@")(_tsquery(every)), exact(q, scan))
    match = " OR ".join('"' + " ".join(terms) + '"' for terms in forms)
    fts = table(FTS_TABLE, column_("rowid"))
    hits = select(fts.c.rowid).where(literal_column(FTS_TABLE).op("MATCH")(literal(match, Text())))
    return Post.id.in_(hits.scalar_subquery())


def exact(q: str, scan: ColumnElement[bool]) -> ColumnElement[bool]:
    """PostgreSQL: whether one post matches `q`, deciding most posts without reading their terms.

    The substring scan is cheap per post (the text sits in the row; the terms are usually
    TOASTed) and decides the text exactly: the stored text is already folded, so the scan's
    case-insensitive test of the query's forms is `matches` on the text. What it cannot decide is a
    title that matches only after folding (繁体, full width), so for posts with a title the phrase
    of positioned terms is asked too. Over-long posts (``0long``) store no positions, so only the
    scan decides them: the phrase is asked with ``!0long``. SQL evaluates an OR's arms in order and
    stops at the first true one, so the terms are read only for titled posts the scan does not
    settle. Not indexable (the scan is an arm of the OR): a walk along the time index uses this as
    its filter.
    """
    from app.posts.models import Post

    column = Post.__table__.c.search_terms
    forms = [bigrams(form) for form in query_forms(q)]
    phrase = " | ".join("(" + " <-> ".join(f"'{t}'" for t in terms) + ")" for terms in forms)
    titled = and_(Post.title.is_not(None), column.op("@@")(_tsquery(f"({phrase}) & !'{LONG_MARKER}'")))
    return or_(scan, titled)


# --- schema: created by the migrations, outside the models' metadata -------------------------------

_SQLITE_DDL = (
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(search_terms, content='posts', content_rowid='id', "
    "tokenize='ascii', detail='full')",
    f"CREATE TRIGGER posts_search_ai AFTER INSERT ON posts WHEN new.search_terms IS NOT NULL BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, search_terms) VALUES (new.id, new.search_terms); END",
    f"CREATE TRIGGER posts_search_ad AFTER DELETE ON posts WHEN old.search_terms IS NOT NULL BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_terms) "
    "VALUES ('delete', old.id, old.search_terms); END",
    f"CREATE TRIGGER posts_search_au AFTER UPDATE OF search_terms ON posts BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_terms) "
    "SELECT 'delete', old.id, old.search_terms WHERE old.search_terms IS NOT NULL; "
    f"INSERT INTO {FTS_TABLE}(rowid, search_terms) SELECT new.id, new.search_terms "
    "WHERE new.search_terms IS NOT NULL; END",
)


def create_structures(connection: Connection) -> None:
    """Create the index beside ``posts.search_terms``: GIN on PostgreSQL, FTS5 and triggers on SQLite."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"CREATE INDEX {GIN_INDEX} ON posts USING gin (search_terms)"))
        # Term frequencies decide between the GIN bitmap (rare words) and walking the time index (common
        # words): with the default target, rare terms were estimated 40x too common at 1 M posts and the
        # walk read a third of the table (docs/BENCHMARKS.md, section 8).
        connection.execute(
            text(f"ALTER TABLE posts ALTER COLUMN search_terms SET STATISTICS {PG_STATISTICS}")
        )
        return
    for statement in _SQLITE_DDL:
        connection.execute(text(statement))


def drop_structures(connection: Connection) -> None:
    """Drop what `create_structures` made."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"DROP INDEX IF EXISTS {GIN_INDEX}"))
        return
    for trigger in SQLITE_TRIGGERS:
        connection.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
    connection.execute(text(f"DROP TABLE IF EXISTS {FTS_TABLE}"))


def is_index_object(name: str | None) -> bool:
    """Whether a table or index name belongs to the search index (kept out of the models' metadata)."""
    return bool(name) and (name == GIN_INDEX or name == FTS_TABLE or str(name).startswith(f"{FTS_TABLE}_"))


def backfill(connection: Connection, *, batch: int = BACKFILL_BATCH) -> int:
    """Fill ``search_terms`` for posts that have none, `batch` posts per statement; returns the count."""
    dialect = connection.dialect.name
    value = "CAST(:terms AS tsvector)" if dialect == "postgresql" else ":terms"
    update = text(f"UPDATE posts SET search_terms = {value} WHERE id = :id")
    done, after = 0, 0
    while True:
        rows = connection.execute(
            text(
                "SELECT id, title, text FROM posts WHERE search_terms IS NULL AND id > :after "
                "ORDER BY id LIMIT :batch"
            ),
            {"after": after, "batch": batch},
        ).all()
        if not rows:
            return done
        connection.execute(
            update, [{"id": r.id, "terms": terms_value(dialect, r.title, r.text)} for r in rows]
        )
        done += len(rows)
        after = rows[-1].id
