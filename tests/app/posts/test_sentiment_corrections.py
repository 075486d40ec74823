"""Analysts' sentiment corrections (人工校正), end to end on SQLite and PostgreSQL: the correction is
audited, the trend at every grain, the export and the detectors' inputs change exactly; the
sentiment-quality figures count it; a retrain folds it in; the service loads the retrained model."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from analysis.sentiment import SentimentModel
from app.alerts import detection
from app.alerts.models import DetectorState
from app.audit.models import AuditEntry
from app.core.config import SettingsError, load_settings
from app.posts.models import Post, SentimentCorrection
from app.runtime.container import Services
from app.stats.rollups import BUCKET, bucket_start
from tests.support.seed import create_topic, iso, now, post, push

ROOT = Path(__file__).resolve().parents[3]
TEXTS = ["青禾牛奶新品上市，口感不错", "青禾牛奶包装换了新设计", "多地消费者称喝青禾牛奶后腹泻"]


def _trend(client, headers, topic_id, start, end, interval):  # type: ignore[no-untyped-def]
    response = client.get(
        f"/api/v1/topics/{topic_id}/trend",
        params={"start": iso(start), "end": iso(end), "interval": interval},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return {b["start"]: b for b in response.json()["buckets"] if b["total"]}


def _seed(client, headers):  # type: ignore[no-untyped-def]
    moment = now()
    topic = create_topic(client, headers, "青禾牛奶", "青禾牛奶")
    at = moment - timedelta(minutes=15)  # a closed bucket: the detectors have processed it
    push(client, headers, "weibo", [post(f"p{i}", text, at) for i, text in enumerate(TEXTS)])
    return topic, moment, at


def _post_id(db, external_id):  # type: ignore[no-untyped-def]
    with db.session() as session:
        return session.scalar(select(Post.id).where(Post.external_id == external_id))


def _bucket_states(topic_id: int):  # type: ignore[no-untyped-def]
    """The topic's rollup-fed detector states (the coordination row is fed posts, not counts)."""
    return select(DetectorState).where(
        DetectorState.topic_id == topic_id, DetectorState.detector.in_(detection.BUCKET_DETECTORS)
    )


def test_a_correction_changes_every_count_exactly_and_is_audited(  # type: ignore[no-untyped-def]
    client, db, write_headers, read_headers, services
) -> None:
    topic, moment, at = _seed(client, write_headers)
    start, end = moment - timedelta(days=2), moment + timedelta(minutes=5)
    before = {
        grain: _trend(client, read_headers, topic["id"], start, end, grain) for grain in ("5m", "1h", "1d")
    }
    with db.session() as session:
        fed_before = detection.load_counts(session, topic["id"], bucket_start(at), bucket_start(at) + BUCKET)
    with db.session() as session:  # detectors brought up to date: nothing stale before the correction
        detection.advance(session, topic["id"], bucket_start(moment))
    with db.session() as session:
        states = session.scalars(_bucket_states(topic["id"])).all()
        assert states and not any(state.stale for state in states)
    target = _post_id(db, "p0")  # a launch post: the model should not call it negative
    original = client.get(f"/api/v1/posts/{target}", headers=read_headers).json()
    assert original["sentiment"] != "negative" and original["sentiment_model"] is None

    response = client.patch(f"/api/v1/posts/{target}", json={"sentiment": "negative"}, headers=write_headers)
    assert response.status_code == 200, response.text
    corrected = response.json()
    assert corrected["sentiment"] == "negative" and corrected["sentiment_model"] == original["sentiment"]

    old = original["sentiment"]
    for grain, buckets in before.items():
        after = _trend(client, read_headers, topic["id"], start, end, grain)
        assert after.keys() == buckets.keys()
        changed = [key for key in buckets if after[key] != buckets[key]]
        assert len(changed) == 1, grain  # the one bucket of each grain that holds the post
        key = changed[0]
        assert after[key]["negative"] == buckets[key]["negative"] + 1, grain
        assert after[key][old] == buckets[key][old] - 1, grain
        assert after[key]["total"] == buckets[key]["total"], grain
    with db.session() as session:
        states = session.scalars(_bucket_states(topic["id"])).all()
        assert states and all(state.stale for state in states)  # detectors replay with the new counts
        fed_after = detection.load_counts(session, topic["id"], bucket_start(at), bucket_start(at) + BUCKET)
        key = bucket_start(at)  # what the detectors are fed (and replay) for the post's bucket
        assert fed_after[key].negative == fed_before[key].negative + 1
        assert fed_after[key].total == fed_before[key].total
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "correct_sentiment")).all()
        assert [(a.actor, a.entity_id, a.details["from"], a.details["to"]) for a in audit] == [
            ("test-writer", str(target), old, "negative")
        ]
    export = client.get(
        "/api/v1/posts/export", params={"format": "jsonl", "topic_id": topic["id"]}, headers=read_headers
    )
    assert export.status_code == 200
    assert f'"id": {target}' in export.text or f'"id":{target}' in export.text
    negative = client.get(
        "/api/v1/posts", params={"topic_id": topic["id"], "sentiment": "negative"}, headers=read_headers
    ).json()
    assert target in {item["id"] for item in negative["items"]}


def test_quality_counts_corrections_and_confirmations_per_source(  # type: ignore[no-untyped-def]
    client, db, write_headers, read_headers
) -> None:
    topic, _, _ = _seed(client, write_headers)
    first, second = _post_id(db, "p0"), _post_id(db, "p1")
    model_label = client.get(f"/api/v1/posts/{second}", headers=read_headers).json()["sentiment"]
    other = "positive" if model_label != "positive" else "neutral"
    assert client.patch(
        f"/api/v1/posts/{first}", json={"sentiment": "negative"}, headers=write_headers
    ).is_success
    # a second look at the same post: only the latest verdict counts
    assert client.patch(f"/api/v1/posts/{first}", json={"sentiment": other}, headers=write_headers).is_success
    assert client.patch(
        f"/api/v1/posts/{second}", json={"sentiment": model_label}, headers=write_headers
    ).is_success
    bad = client.patch(f"/api/v1/posts/{second}", json={"sentiment": "angry"}, headers=write_headers)
    assert bad.status_code == 422
    denied = client.patch(f"/api/v1/posts/{second}", json={"sentiment": "negative"}, headers=read_headers)
    assert denied.status_code == 403

    quality = client.get(f"/api/v1/topics/{topic['id']}/sentiment-quality", headers=read_headers)
    assert quality.status_code == 200, quality.text
    body = quality.json()
    first_model = client.get(f"/api/v1/posts/{first}", headers=read_headers).json()["sentiment_model"]
    changed = int(other != first_model)
    assert (body["reviewed"], body["corrected"]) == (2, changed)
    assert body["disagreement_rate"] == pytest.approx(changed / 2)
    assert [(s["source"], s["reviewed"], s["corrected"]) for s in body["sources"]] == [("weibo", 2, changed)]
    assert sum(change["posts"] for change in body["changes"]) == 2
    with db.session() as session:
        rows = session.scalars(select(SentimentCorrection).order_by(SentimentCorrection.id)).all()
        assert [row.label for row in rows] == ["negative", other, model_label]
        assert rows[0].text.startswith("青禾牛奶新品上市")
    missing = client.patch("/api/v1/posts/999999", json={"sentiment": "negative"}, headers=write_headers)
    assert missing.status_code == 404


@pytest.mark.slow
def test_retrain_with_corrections_and_the_service_loads_the_new_model(  # type: ignore[no-untyped-def]
    client, db, settings, write_headers, tmp_path
) -> None:
    _seed(client, write_headers)
    target = _post_id(db, "p2")
    assert client.patch(
        f"/api/v1/posts/{target}", json={"sentiment": "negative"}, headers=write_headers
    ).is_success
    model_dir = tmp_path / "model"
    tiny = ROOT / "tests" / "fixtures" / "sentiment" / "tiny.jsonl"
    env = {**os.environ, "YUQING_DATABASE_URL": settings.database_url, "YUQING_LOG_LEVEL": "WARNING"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "train-sentiment",
            "--input",
            str(tiny),
            "--corrections",
            "--output",
            str(model_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "1 analyst-corrected posts added" in result.stderr
    assert (model_dir / "sentiment.npz").is_file()

    configured = load_settings(
        database_url=settings.database_url, sentiment_model=str(model_dir), scheduler_enabled=False
    )
    services = Services.create(configured)
    try:
        assert services.pipeline.analyzer.model is SentimentModel.load(model_dir)
        assert services.pipeline.analyzer.model is not SentimentModel.load()
    finally:
        services.db.dispose()

    with pytest.raises(SettingsError, match="YUQING_SENTIMENT_MODEL.*no sentiment model there"):
        load_settings(database_url=settings.database_url, sentiment_model=str(tmp_path / "nowhere"))
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a model")
    with pytest.raises(SettingsError, match="YUQING_SENTIMENT_MODEL.*not a sentiment model"):
        load_settings(database_url=settings.database_url, sentiment_model=str(junk))
