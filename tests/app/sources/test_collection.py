"""Collection through the real scheduler path: sources created by the API, claimed by the worker,
fetched from loopback servers serving real fixtures; broken sources fail alone; re-collection is a no-op."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from app.posts.models import Post
from app.sources.models import Source
from tests.support.loopback import LoopbackServer, Reply
from tests.support.shared import SHARED_DIR

OWN = Path(__file__).resolve().parents[2] / "fixtures" / "collectors"
XML = "application/xml"
JSON = "application/json"

# (fixture folder, file, kind, content type, expected: None for success or a phrase of last_error)
SHARED_CASES = [
    ("feeds", "feedparser_docs_example_rss20.xml", "rss", XML, None),
    ("feeds", "feedparser_docs_example_atom10.xml", "rss", XML, None),
    ("feeds", "feedparser_gb2312_no_encoding_decl.xml", "rss", XML, None),
    ("feeds", "oschina_news_industry_rss.xml", "rss", XML, None),
    ("feeds", "wordpress_zh_rss_tmioe.xml", "rss", XML, None),
    ("feeds", "v2ex_atom_entries_missing_id_link_title.xml", "rss", XML, None),
    ("feeds", "feedparser_rss_link_ampersand_unclosed_root.xml", "rss", XML, None),
    ("feeds", "feedparser_rss_incomplete_cdata.xml", "rss", XML, "no entries could be recovered"),
    ("feeds", "feedparser_rss_unclosed_root.xml", "rss", XML, "no entries could be recovered"),
    ("feeds", "feedparser_rss_undeclared_namespace.xml", "rss", XML, "no entries could be recovered"),
    ("feeds", "html_waf_challenge_served_as_feed.xml", "rss", XML, "WAF"),
    ("feeds", "html_js_redirect_served_as_feed.xml", "rss", XML, "JavaScript"),
    ("feeds", "html_fragment_served_as_atom.xml", "rss", XML, "not a feed"),
    ("rsshub", "rsshub_bilibili_user_channel_2020.xml", "rss", XML, None),
    ("jsonfeed", "jsonfeed_spec_1_1_simple_example.json", "jsonfeed", JSON, None),
    ("jsonfeed", "jsonfeed_spec_1_1_microblog_example.json", "jsonfeed", JSON, None),
    ("jsonfeed", "feedparser_test_jsonfeed_v1_example.json", "jsonfeed", JSON, None),
    ("jsonfeed", "v2ex_jsonfeed_v1_zh.json", "jsonfeed", JSON, None),
    ("jsonfeed", "v2ex_jsonfeed_item_empty_id.json", "jsonfeed", JSON, None),
    ("jsonfeed", "jsonfeed_gbk_encoded_no_charset.json", "jsonfeed", JSON, None),
    ("jsonfeed", "jsonfeed_truncated_invalid_json.json", "jsonfeed", JSON, "JSON"),
]
OWN_CASES = [
    ("zh_weibo_rss20.xml", "rss", XML, None),
    ("zh_atom.xml", "rss", XML, None),
    ("waf_challenge.html", "rss", "text/html", "WAF"),
    ("js_redirect.html", "rss", "text/html", "JavaScript"),
    ("jsonfeed_ids.json", "jsonfeed", JSON, None),
    ("jsonfeed_truncated.json", "jsonfeed", JSON, "JSON"),
]


def _cases() -> list[tuple[str, bytes, str, str, str | None]]:
    cases = [
        (f"own-{name}", (OWN / name).read_bytes(), kind, ctype, err) for name, kind, ctype, err in OWN_CASES
    ]
    if SHARED_DIR.exists():
        cases += [
            (f"shared-{name}", (SHARED_DIR / "fixtures" / folder / name).read_bytes(), kind, ctype, err)
            for folder, name, kind, ctype, err in SHARED_CASES
        ]
    return cases


def _make_sources(client, headers, server: LoopbackServer) -> dict[str, tuple[int, str | None]]:  # type: ignore[no-untyped-def]
    created = {}
    for index, (name, body, kind, ctype, expected) in enumerate(_cases()):
        path = f"/f{index}"
        server.serve(path, body, content_type=ctype, etag=f'"v{index}"')
        response = client.post(
            "/api/v1/sources",
            headers=headers,
            json={"name": name, "kind": kind, "url": server.url(path), "interval_seconds": 60},
        )
        assert response.status_code == 201, response.text
        created[name] = (response.json()["id"], expected)
    server.hang("/hang", seconds=30)
    response = client.post(
        "/api/v1/sources",
        headers=headers,
        json={"name": "hanging", "kind": "rss", "url": server.url("/hang")},
    )
    created["hanging"] = (response.json()["id"], "no complete response")
    return created


def _one_pass(services) -> None:  # type: ignore[no-untyped-def]
    async def run() -> None:
        started = await services.worker.tick()
        assert started > 0
        await services.worker.drain(timeout=60)

    asyncio.run(run())


def _make_due(db) -> None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        session.execute(update(Source).values(next_run_at=None))


@pytest.mark.slow
def test_every_fixture_is_collected_and_broken_ones_fail_alone(  # type: ignore[no-untyped-def]
    client, db, services, write_headers, loopback_server: LoopbackServer
) -> None:
    from collectors.http import Fetcher

    services.worker.fetcher = Fetcher(timeout=4.0, connect_timeout=2.0, max_retries=0, host_interval=0)
    services.worker.concurrency = 64
    created = _make_sources(client, write_headers, loopback_server)
    _one_pass(services)
    with db.session() as session:
        for name, (source_id, expected) in created.items():
            source = session.get(Source, source_id)
            posts = session.scalar(select(func.count(Post.id)).where(Post.source_id == source_id))
            if expected is None:
                assert source.last_status == "ok" and source.last_error is None, (name, source.last_error)
                assert posts > 0, name
                assert source.next_run_at is not None and source.consecutive_failures == 0
            else:
                assert source.last_status == "error" and expected in (source.last_error or ""), (
                    name,
                    source.last_error,
                )
                assert posts == 0 and source.consecutive_failures == 1
        total = session.scalar(select(func.count(Post.id)))

    _make_due(db)
    _one_pass(services)
    with db.session() as session:
        assert session.scalar(select(func.count(Post.id))) == total
        ok_sources = [sid for sid, expected in created.values() if expected is None]
        statuses = {session.get(Source, sid).last_status for sid in ok_sources}
        assert statuses == {"not_modified"}
    conditional = [r for r in loopback_server.requests if r.headers.get("if-none-match")]
    assert conditional, "second pass sent no If-None-Match"


def test_api_collect_now_returns_the_run_summary(
    client, write_headers, loopback_server: LoopbackServer
) -> None:  # type: ignore[no-untyped-def]
    loopback_server.serve("/feed", (OWN / "zh_weibo_rss20.xml").read_bytes(), content_type=XML, etag='"a"')
    source = client.post(
        "/api/v1/sources",
        headers=write_headers,
        json={"name": "weibo", "kind": "rss", "url": loopback_server.url("/feed")},
    ).json()
    first = client.post(f"/api/v1/sources/{source['id']}/collect", headers=write_headers).json()
    assert first["status"] == "ok" and first["new"] > 0 and first["error"] is None
    second = client.post(f"/api/v1/sources/{source['id']}/collect", headers=write_headers).json()
    assert second["status"] == "not_modified" and second["new"] == 0 and second["not_modified"] is True
    health = client.get(f"/api/v1/sources/{source['id']}", headers=write_headers).json()
    assert health["last_success_at"] and health["consecutive_failures"] == 0


@pytest.mark.parametrize(
    "replies,expected_status",
    [
        ([Reply(500), Reply(200, (OWN / "zh_atom.xml").read_bytes(), XML)], "ok"),
        (
            [Reply(429, headers={"Retry-After": "1"}), Reply(200, (OWN / "zh_atom.xml").read_bytes(), XML)],
            "ok",
        ),
    ],
)
def test_transient_errors_are_retried(
    client, write_headers, loopback_server, replies, expected_status
) -> None:  # type: ignore[no-untyped-def]
    loopback_server.script("/flaky", *replies)
    source = client.post(
        "/api/v1/sources",
        headers=write_headers,
        json={"name": "flaky", "kind": "rss", "url": loopback_server.url("/flaky")},
    ).json()
    summary = client.post(f"/api/v1/sources/{source['id']}/collect", headers=write_headers).json()
    assert summary["status"] == expected_status and summary["new"] > 0
    assert len(loopback_server.requests_to("/flaky")) == 2


def test_credentials_are_masked_and_survive_a_round_trip_of_the_options(
    client, db, write_headers, loopback_server: LoopbackServer
) -> None:  # type: ignore[no-untyped-def]
    options = {
        "fields": {"id": "id", "text": "content"},
        "headers": {"Authorization": "Bearer s3cr3t-token", "X-Trace": "on"},
    }
    created = client.post(
        "/api/v1/sources",
        headers=write_headers,
        json={"name": "api", "kind": "json", "url": loopback_server.url("/api"), "options": options},
    )
    assert created.status_code == 201, created.text
    shown = created.json()["options"]
    assert shown["headers"] == {"Authorization": "***", "X-Trace": "on"}
    # A client edits one option and sends back what it was shown: the token must stay.
    shown["headers"]["X-Trace"] = "off"
    patched = client.patch(
        f"/api/v1/sources/{created.json()['id']}", headers=write_headers, json={"options": shown}
    )
    assert patched.status_code == 200, patched.text
    with db.session() as session:
        stored = session.scalar(select(Source.options).where(Source.name == "api"))
    assert stored["headers"] == {"Authorization": "Bearer s3cr3t-token", "X-Trace": "off"}
    # A masked value with nothing stored behind it is refused, not stored as "***".
    shown["headers"]["Cookie"] = "***"
    refused = client.patch(
        f"/api/v1/sources/{created.json()['id']}", headers=write_headers, json={"options": shown}
    )
    assert refused.status_code in (400, 422), refused.text
    assert "options.headers.Cookie" in refused.json()["error"]["message"]
