"""The search index answers `q` exactly like a plain substring test, on SQLite and PostgreSQL.

Posts go in through the push API (the one ingest path); each query's hits through the index are
compared with the reference definition (`search_index.matches`, plain Python over the stored text
and title) and with the substring scan the search used before the index.
"""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, text

from app.core.db import Database
from app.posts import retention, search, search_index
from app.posts.models import Post
from tests.support.seed import now, post, push
from tests.support.shared import shared_path

LONG_TEXT = "开头" + "，".join(f"第{n}段舆情监测报告正文" for n in range(1800)) + "结尾在这里"
POSTS = [
    ("p1", {"text": "苹果发布iPhone15，售价5999元起"}),
    ("p2", {"text": "ｉＰｈｏｎｅ１５ Pro 到手了，真香[哈哈]"}),
    ("p3", {"text": "這家店的服務真的很好，某品牌值得推薦"}),
    ("p4", {"text": "某品牌召回事件持续发酵，车主投诉无门"}),
    ("p5", {"text": "正文没有提到那个词", "title": "標題：某品牌發布會"}),
    ("p6", {"text": "哈" * 300 + "笑死我了"}),
    ("p7", {"text": LONG_TEXT}),
    ("p8", {"text": "A股今天大涨，沪指站上3000点 #财经#"}),
    ("p9", {"text": "iphone 15 和 iphone15 不是一回事"}),
    ("p10", {"text": "50%_的用户表示满意"}),
]
QUERIES: dict[str, set[str]] = {
    "iPhone15": {"p1", "p2", "p9"},
    "IPHONE15 PRO": {"p2"},
    "iphone 15": {"p9"},
    "服务": {"p3"},
    "服務真的": {"p3"},
    "某品牌": {"p3", "p4", "p5"},
    "發布會": {"p5"},
    "召回事件": {"p4"},
    "哈哈哈哈": {"p6"},
    "哈哈笑死": {"p6"},
    "结尾在这里": {"p7"},
    "第1799段舆情": {"p7"},
    "a股": {"p8"},
    "#财经#": {"p8"},
    "50%_": {"p10"},
    "满意的用户": set(),
    "头第1": set(),  # each bigram is in p7 (over-long, no positions), the string is not
    "车主投诉无门啊": set(),
}


def _store(client, headers, posts) -> None:  # type: ignore[no-untyped-def]
    base = now() - timedelta(hours=2)
    items = [
        post(
            ident,
            fields["text"],
            base + timedelta(seconds=i),
            **{k: v for k, v in fields.items() if k != "text"},
        )
        for i, (ident, fields) in enumerate(posts)
    ]
    for start in range(0, len(items), 200):
        push(client, headers, "search-push", items[start : start + 200])


def _hits(db: Database, q: str) -> set[str]:
    filters = search.PostFilters(q=q)
    return {p.external_id or "" for p in search.iter_posts(db=db, filters=filters)}


def _reference(db: Database, q: str) -> set[str]:
    with db.session() as session:
        rows = session.execute(select(Post.external_id, Post.title, Post.text)).all()
    return {row.external_id for row in rows if search_index.matches(q.strip(), row.title, row.text)}


def _scan(db: Database, q: str) -> set[str]:
    with db.session() as session:
        return set(session.scalars(select(Post.external_id).where(search._scan_condition(q.strip()))))


@pytest.fixture
def stored(client, write_headers):  # type: ignore[no-untyped-def]
    _store(client, write_headers, POSTS)


@pytest.mark.parametrize("q", sorted(QUERIES))
def test_index_answers_like_a_substring_test(db: Database, stored, q: str) -> None:  # type: ignore[no-untyped-def]
    assert search_index.indexable(q)
    assert _hits(db, q) == QUERIES[q] == _reference(db, q)


def test_index_agrees_with_the_old_scan(db: Database, stored) -> None:  # type: ignore[no-untyped-def]
    for q in QUERIES:
        assert _hits(db, q) == _scan(db, q), q


def test_over_long_posts_are_marked_on_postgresql(db: Database, stored) -> None:  # type: ignore[no-untyped-def]
    if db.is_sqlite:
        pytest.skip("FTS5 has no position limits")
    with db.session() as session:
        marked = session.scalars(
            select(Post.external_id).where(text("search_terms @@ CAST(:m AS tsquery)")),
            {"m": search_index.LONG_MARKER},
        )
        assert set(marked) == {"p6", "p7"}


PHASED = [
    (f"ph{n}", {"text": text, **({"title": title} if title else {})})
    for n, (text, title) in enumerate(
        [
            ("某品牌回应质疑", None),
            ("今天天气不错", None),
            ("正文无关", "某品牌發布會"),  # found through the folded title only
            ("某品牌召回", None),
            ("路过", None),
            ("某 品牌", None),
            ("又是某品牌", None),
            ("某品牌", "標題"),
            ("无关内容", None),
            ("老牌子某品牌了", None),
            ("某品", None),
            ("最早的某品牌帖子", None),
        ]
    )
]
PHASED_HOURS = [1, 2, 3, 5, 8, 30, 60, 100, 200, 400, 700, 900]  # hours before now, newest first


def test_pages_read_in_phases_equal_the_plain_order(client, write_headers, db: Database, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """On PostgreSQL a page of a word of several terms is read as a walk of the newest posts, then
    the index over what is older (`search._indexed_page`); with a 3-post walk, every page and
    cursor equal the plain newest-first order of the reference matches, on both databases."""
    monkeypatch.setattr(search, "WALK_POSTS", 3)
    items = [
        post(
            ident,
            fields["text"],
            now() - timedelta(hours=hours),
            **{k: v for k, v in fields.items() if k != "text"},
        )
        for (ident, fields), hours in zip(PHASED, PHASED_HOURS, strict=True)
    ]
    push(client, write_headers, "search-push", items)
    with db.session() as session:
        rows = session.execute(
            select(Post.external_id, Post.title, Post.text).order_by(Post.published_at.desc(), Post.id.desc())
        ).all()
    for q in ("某品牌", "品牌", "某品", "发布会", "天气", "没有的词"):
        expected = [row.external_id for row in rows if search_index.matches(q, row.title, row.text)]
        for limit in (1, 2, 3, 5, 50):
            pages, cursor = [], None
            while True:
                with db.session() as session:
                    found, cursor = search.search(
                        session=session, filters=search.PostFilters(q=q), limit=limit, cursor=cursor
                    )
                pages += [p.external_id for p in found]
                if cursor is None:
                    break
            assert pages == expected, (q, limit)
    assert len([r for r in rows if search_index.matches("某品牌", r.title, r.text)]) == 7


def test_one_character_queries_use_the_scan(db: Database, stored) -> None:  # type: ignore[no-untyped-def]
    assert not search_index.indexable("某")
    assert _hits(db, "某") == _scan(db, "某") == {"p3", "p4", "p5"}


def test_deleting_posts_removes_their_terms(db: Database, stored) -> None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        session.execute(delete(Post).where(Post.external_id == "p4"))
    assert _hits(db, "某品牌") == {"p3", "p5"}
    if db.is_sqlite:  # the FTS5 index is consistent with its content table
        with db.engine.begin() as connection:
            connection.execute(
                text("INSERT INTO post_search(post_search, rank) VALUES ('integrity-check', 1)")
            )
    pruned = retention.prune(db, older_than=now() + timedelta(days=1))
    assert pruned == len(POSTS) - 1
    assert _hits(db, "某品牌") == set()


def test_backfill_indexes_posts_stored_without_terms(db: Database, stored) -> None:  # type: ignore[no-untyped-def]
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE posts SET search_terms = NULL"))
    with db.session() as session:  # the index knows none of them (a walk's substring test still would)
        indexed = search_index.condition(
            "sqlite" if db.is_sqlite else "postgresql", "召回事件", search._scan_condition("召回事件")
        )
        assert session.scalar(select(func.count()).select_from(Post).where(indexed)) == 0
    with db.engine.begin() as connection:
        assert search_index.backfill(connection, batch=3) == len(POSTS)
    for q, expected in QUERIES.items():
        assert _hits(db, q) == expected, q


@pytest.mark.shared
def test_real_weibo_posts_match_the_reference(client, write_headers, db: Database) -> None:  # type: ignore[no-untyped-def]
    """300 real Weibo posts; 2- to 5-character queries cut from them, also in 繁体 and upper case."""
    from opencc import OpenCC

    lines = shared_path("data", "sentiment", "weibo2018_train.jsonl").read_text(encoding="utf-8").splitlines()
    rng = random.Random(15)
    texts = [json.loads(line)["text"] for line in rng.sample(lines, 300)]
    _store(client, write_headers, [(f"w{i}", {"text": t}) for i, t in enumerate(texts)])
    with db.session() as session:
        stored = [t for t in session.scalars(select(Post.text)) if len(t) >= 6]
        assert session.scalar(select(func.count()).select_from(Post)) == 300
    to_traditional = OpenCC("s2t")
    queries = set()
    for body in rng.sample(stored, 90):
        size = rng.randint(2, 5)
        start = rng.randrange(len(body) - size)
        piece = body[start : start + size]
        queries |= {piece, to_traditional.convert(piece), piece.upper()}
    checked = 0
    for q in sorted(queries):
        if not q.strip() or not search_index.indexable(q.strip()):
            continue
        hits = _hits(db, q)
        assert hits == _reference(db, q) == _scan(db, q), q
        assert hits, q
        checked += 1
    assert checked >= 100


def test_migration_indexes_posts_of_a_database_made_before_the_index(db: Database, stored) -> None:  # type: ignore[no-untyped-def]
    """A database at 0002 whose 0001 had no search column: 0003 adds it, its index, and the terms."""
    from app.core.migrate import upgrade

    with db.engine.begin() as connection:
        search_index.drop_structures(connection)
        connection.execute(text("ALTER TABLE posts DROP COLUMN search_terms"))
        connection.execute(text("UPDATE alembic_version SET version_num = '0002'"))
    db.engine.dispose()
    upgrade(db.url)
    for q, expected in QUERIES.items():
        assert _hits(db, q) == expected, q
