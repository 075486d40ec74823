"""复盘 case library: only resolved incidents become cases, search hits and misses, edits, and the
exported Markdown document — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from typer.testing import CliRunner

from analysis.sentiment.view import SentimentView
from app.alerts import incidents
from app.topics import service as topics
from app.topics.schemas import TopicCreate
from tests.support.seed import now, open_incident


class NeutralModel:
    """No posts are pushed here, so the sentiment model is never asked; this keeps it unloaded."""

    view = SentimentView.FULL

    def predict_many(self, texts, tokens_list=None):  # type: ignore[no-untyped-def]
        """Not used."""
        raise AssertionError("no posts expected")


@pytest.fixture
def analyzer(shared_tokenizer):  # type: ignore[no-untyped-def]
    """An analyser that needs no model file."""
    from app.posts.analyzer import PostAnalyzer

    return PostAnalyzer(model=NeutralModel(), tokenizer=shared_tokenizer)


SECTIONS = ("## 背景", "## 时间线", "## 处置动作", "## 结果", "## 经验教训", "## 分级与依据")


@pytest.fixture
def incident(db):  # type: ignore[no-untyped-def]
    """An open incident on topic 星河汽车 with a note and one ticked checklist step."""
    moment = now() - timedelta(hours=2)
    with db.session() as session:
        topic_id = topics.create(session=session, data=TopicCreate(name="星河汽车", rule="星河汽车")).id
    incident_id = open_incident(db, topic_id, at=moment)
    with db.session() as session:
        incidents.add_note(
            session, incident_id, actor="值班员", text="已联系售后，确认为个别车辆", now=moment
        )
        incidents.set_checklist_item(
            session, incident_id, code="verify", done=True, actor="值班员", now=moment + timedelta(minutes=5)
        )
    return {"id": incident_id, "topic_id": topic_id}


def _resolve(db, incident_id: int) -> None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        incidents.resolve(session, incident_id, actor="值班员", now=now(), note="官方声明发布后负面回落")


BODY = {
    "outcome": "声明发布 3 小时后负面占比回落到 12%",
    "lessons": "首次声明应在 1 小时内发出；客服口径需提前同步",
    "summary": "刹车失灵传闻在微博集中扩散",
    "tags": ["刹车", "Brake-Recall", "微博"],
}


def test_only_resolved_incidents_become_cases(client, db, incident, write_headers, read_headers) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/incidents/{incident['id']}/case"
    refused = client.post(url, json=BODY, headers=write_headers)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict"
    _resolve(db, incident["id"])
    assert client.post(url, json=BODY, headers=read_headers).status_code == 403
    assert client.post(url, json={"outcome": "x"}, headers=write_headers).status_code == 422
    created = client.post(url, json=BODY, headers=write_headers)
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["incident_id"] == incident["id"] and case["topic_id"] == incident["topic_id"]
    assert case["grade"] == "severe" and case["grade_label"] == "严重" and case["created_by"] == "test-writer"
    assert case["tags"] == BODY["tags"] and case["title"].startswith("【严重】星河汽车")
    kinds = [event["kind"] for event in case["timeline"]["events"]]
    assert kinds[0] == "opened" and "note" in kinds and kinds[-1] == "resolved"
    assert case["timeline"]["incident"]["reasons"] and case["timeline"]["topic"] == "星河汽车"
    assert client.post(url, json=BODY, headers=write_headers).status_code == 409  # one case per incident
    assert client.post("/api/v1/incidents/999999/case", json=BODY, headers=write_headers).status_code == 404


def _case(client, db, topic_id: int, headers, **body):  # type: ignore[no-untyped-def]
    from tests.support.seed import open_incident as open_one

    incident_id = open_one(db, topic_id, at=now() - timedelta(hours=1))
    _resolve(db, incident_id)
    response = client.post(f"/api/v1/incidents/{incident_id}/case", json={**BODY, **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_search_hits_and_misses(client, db, incident, write_headers, read_headers) -> None:  # type: ignore[no-untyped-def]
    _resolve(db, incident["id"])
    brakes = client.post(f"/api/v1/incidents/{incident['id']}/case", json=BODY, headers=write_headers).json()
    fire = _case(
        client,
        db,
        incident["topic_id"],
        write_headers,
        outcome="召回 2,000 辆并公开检测报告",
        lessons="自燃类事件必须当天上报管理层",
        summary="电池自燃视频在抖音传播",
        tags=["自燃", "抖音"],
    )

    def ids(q: str) -> list[int]:
        response = client.get("/api/v1/cases", params={"q": q}, headers=read_headers)
        assert response.status_code == 200
        return [case["id"] for case in response.json()]

    assert ids("刹车") == [brakes["id"]]  # summary and tag
    assert ids("brake-recall") == [brakes["id"]]  # tag, case-insensitive
    assert ids("当天上报") == [fire["id"]]  # lessons
    assert ids("检测报告") == [fire["id"]]  # outcome
    assert sorted(ids("星河汽车")) == sorted([brakes["id"], fire["id"]])  # title
    assert ids("抖音 自燃") == [fire["id"]] and ids("抖音 刹车") == []  # every word must match
    assert ids("爆炸") == [] and ids("12_") == []  # "_" is literal, not a LIKE wildcard
    assert ids("%") == [brakes["id"]]  # literal "12%" in the outcome
    listed = client.get("/api/v1/cases", headers=read_headers).json()
    assert [case["id"] for case in listed] == [fire["id"], brakes["id"]] and "timeline" not in listed[0]
    assert client.get("/api/v1/cases").status_code == 401


def test_get_and_patch_case(client, db, incident, write_headers, read_headers) -> None:  # type: ignore[no-untyped-def]
    _resolve(db, incident["id"])
    case = client.post(f"/api/v1/incidents/{incident['id']}/case", json=BODY, headers=write_headers).json()
    url = f"/api/v1/cases/{case['id']}"
    assert client.get(url, headers=read_headers).json()["lessons"] == BODY["lessons"]
    assert client.patch(url, json={"lessons": "新的教训"}, headers=read_headers).status_code == 403
    patched = client.patch(
        url, json={"lessons": "应提前准备 FAQ", "tags": ["FAQ", "刹车"]}, headers=write_headers
    )
    assert patched.status_code == 200 and patched.json()["lessons"] == "应提前准备 FAQ"
    hits = client.get("/api/v1/cases", params={"q": "faq"}, headers=read_headers).json()
    assert [hit["id"] for hit in hits] == [case["id"]]
    assert (
        client.get("/api/v1/cases", params={"q": "微博"}, headers=read_headers).json()[0]["id"] == case["id"]
    )
    assert client.patch(url, json={"grade": "general"}, headers=write_headers).status_code == 422
    assert client.get("/api/v1/cases/999999", headers=read_headers).status_code == 404


def test_export_markdown_through_cli_and_api(
    client, db, incident, write_headers, read_headers, settings, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from app.cli import cli

    _resolve(db, incident["id"])
    case = client.post(f"/api/v1/incidents/{incident['id']}/case", json=BODY, headers=write_headers).json()
    lessons = {"lessons": "首次声明应在 1 小时内发出\n客服口径需提前同步"}
    assert client.patch(f"/api/v1/cases/{case['id']}", json=lessons, headers=write_headers).status_code == 200
    monkeypatch.setenv("YUQING_DATABASE_URL", settings.database_url)
    output = tmp_path / "review.md"
    result = CliRunner().invoke(cli, ["case", "export", str(case["id"]), "--output", str(output)])
    assert result.exit_code == 0, result.output
    document = output.read_text(encoding="utf-8")
    positions = [document.index(f"\n{section}\n") for section in SECTIONS]
    assert positions == sorted(positions)
    assert document.startswith("# 复盘：【严重】星河汽车")
    assert "已联系售后，确认为个别车辆" in document and "- [x] 核实事实" in document
    assert "官方声明发布后负面回落" in document and "1 小时内发出\n\n客服口径需提前同步" in document
    assert (
        "声量激增且负面集中" in document
        and "severe.volume_negative" not in document
        and "检测器：声量突增" in document
    )
    assert (
        "| 为基线倍数 | 9.0 |" in document and "召回" in document and "刹车、Brake-Recall、微博" in document
    )
    via_api = client.get(f"/api/v1/cases/{case['id']}/export", headers=read_headers)
    assert via_api.headers["content-type"].startswith("text/markdown") and via_api.text == document
    assert CliRunner().invoke(cli, ["case", "export", "999999"]).exit_code == 1
    listed = CliRunner().invoke(cli, ["case", "list", "--q", "brake"])
    assert listed.exit_code == 0 and f"{case['id']}\t严重" in listed.stdout


def test_case_outlives_its_topic(client, db, incident, write_headers, read_headers) -> None:  # type: ignore[no-untyped-def]
    _resolve(db, incident["id"])
    case = client.post(f"/api/v1/incidents/{incident['id']}/case", json=BODY, headers=write_headers).json()
    with db.session() as session:
        topics.delete_topic(session=session, topic_id=incident["topic_id"])
    kept = client.get(f"/api/v1/cases/{case['id']}", headers=read_headers).json()
    assert kept["incident_id"] is None and kept["topic_id"] is None
    assert kept["timeline"]["topic"] == "星河汽车"
