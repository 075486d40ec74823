"""Cutting a big feed to its newest entries before feedparser (collectors/bigfeed.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from collectors.base import RawPost
from collectors.bigfeed import newest_entries
from collectors.rss import keep_newest, parse_feed

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>投诉</title>
<entry><id>e1</id><title>一</title><updated>2026-12-01T08:00:00+08:00</updated><content>一号</content></entry>
<entry><id>e2</id><title>二</title><content>没有日期</content></entry>
<entry><id>e3</id><title>三</title><published>2026-12-03T08:00:00Z</published><content>三号</content></entry>
<entry><id>e4</id><title>四</title><updated><![CDATA[2026-12-02T08:00:00Z]]></updated><content>四号</content></entry>
</feed>"""


def test_an_atom_feed_keeps_its_newest_entries_in_document_order() -> None:
    cut = newest_entries(ATOM, 2)
    assert cut is not None and (cut.total, cut.kept) == (4, 2)
    assert cut.oldest_kept == datetime(2026, 12, 2, 8, tzinfo=UTC)
    posts, warnings = parse_feed(cut.document, url="https://x.example/", content_type=None, platform=None)
    assert [p.title for p in posts] == ["三", "四"] and warnings == []


def test_undated_entries_count_as_oldest_and_small_feeds_are_left_alone() -> None:
    cut = newest_entries(ATOM, 3)
    assert cut is not None and "没有日期" not in cut.document and "一号" in cut.document
    assert newest_entries(ATOM, 4) is None
    assert newest_entries(ATOM.replace("<entry>", "<entry >"), 10) is None


def test_json_feed_posts_are_cut_the_same_way() -> None:
    posts = [
        RawPost(external_id=str(i), text=f"第{i}条", published_at=datetime(2026, 12, 1 + i % 3, tzinfo=UTC))
        for i in range(6)
    ]
    kept, warnings = keep_newest(posts, ["earlier note"], 2)
    assert [p.external_id for p in kept] == ["2", "5"]
    assert (
        warnings[0].startswith("the feed has 6 entries; kept the newest 2") and warnings[1] == "earlier note"
    )
    assert keep_newest(posts, [], 6) == (posts, [])
