"""News outlets (`media`): a source-level flag set through the API, counted when grading 影响类."""

from __future__ import annotations

from analysis.grading import GradingInputs, grade
from app.sources import service as sources


def test_a_news_feed_can_be_marked_as_media_and_counts_for_grading(  # type: ignore[no-untyped-def]
    client, db, admin_headers
) -> None:
    created = client.post(
        "/api/v1/sources",
        json={"name": "人民网", "kind": "rss", "url": "http://127.0.0.1:9/rss.xml", "media": True},
        headers=admin_headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["media"] is True
    plain = client.post(
        "/api/v1/sources",
        json={"name": "微博关键词", "kind": "rss", "url": "http://127.0.0.1:9/weibo.xml"},
        headers=admin_headers,
    )
    assert plain.status_code == 201 and plain.json()["media"] is False
    rejected = client.post(
        "/api/v1/sources",
        json={"name": "x", "kind": "rss", "url": "http://127.0.0.1:9/x.xml", "options": {"media": True}},
        headers=admin_headers,
    )
    assert rejected.status_code == 400  # the flag belongs to the source, not to the feed's options
    media_id, plain_id = created.json()["id"], plain.json()["id"]
    with db.session() as session:
        assert sources.count_media(session=session, source_ids={str(media_id), str(plain_id)}) == 1
        assert sources.count_media(session=session, source_ids={str(plain_id)}) == 0
    patched = client.patch(f"/api/v1/sources/{plain_id}", json={"media": True}, headers=admin_headers)
    assert patched.status_code == 200 and patched.json()["media"] is True
    with db.session() as session:
        counted = sources.count_media(session=session, source_ids={str(media_id), str(plain_id)})
    assert counted == 2
    inputs = GradingInputs(observed=20, baseline=4, ratio=5, media_sources=counted)
    assert grade(inputs).grade == "influential"
