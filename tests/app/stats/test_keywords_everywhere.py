"""One definition of a topic's keywords over a window: the dashboard (API), the 舆情简报 report and
the chat message show the same list for the same window."""

from __future__ import annotations

from datetime import timedelta

from app.alerts.models import Incident
from app.channels.outbox import POST_WINDOW, TOP_KEYWORDS, compose_notice
from app.reports.periods import window
from app.reports.service import build_report
from tests.support.seed import create_topic, iso, now, open_incident, post, push

CALM = ["星河汽车新车外观设计很漂亮", "星河汽车的价格比较合理", "星河汽车车展现场人很多，试驾排队"]
STORY = [
    "星河汽车刹车失灵，车主要求召回，4S店拒绝退款",
    "星河汽车刹车出问题还不召回？维权车主越来越多",
    "又一位星河汽车车主投诉刹车异响，厂家回应含糊",
]


def _seed(client, headers):  # type: ignore[no-untyped-def]
    moment = now()
    topic = create_topic(client, headers, "星河汽车", "星河汽车")
    calm = [
        post(f"c{h}-{i}", text, moment - timedelta(hours=h, minutes=7))
        for h in range(2, 30)
        for i, text in enumerate(CALM)
    ]
    story = [
        post(f"s{i}", STORY[i % len(STORY)] + f"（第{i}位车主）", moment - timedelta(minutes=40 - i))
        for i in range(30)
    ]
    push(client, headers, "weibo", calm + story)
    return topic, moment


def _api_terms(client, headers, topic_id, start, end, k):  # type: ignore[no-untyped-def]
    response = client.get(
        f"/api/v1/topics/{topic_id}/keywords",
        params={"start": iso(start), "end": iso(end), "k": k},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return [item["term"] for item in response.json()["keywords"]]


def test_dashboard_report_and_chat_show_the_same_keywords(  # type: ignore[no-untyped-def]
    client, write_headers, read_headers, db
) -> None:
    topic, moment = _seed(client, write_headers)
    # chat message: the last hour
    incident_id = open_incident(db, topic["id"], at=moment)
    with db.session() as session:
        incident = session.get(Incident, incident_id)
        notice = compose_notice(session, incident, "incident_opened", moment, base_url="http://x")
    dashboard = _api_terms(client, read_headers, topic["id"], moment - POST_WINDOW, moment, TOP_KEYWORDS)
    assert notice.keywords == dashboard
    assert {"刹车", "召回"} <= set(dashboard[:6])
    assert all(len(term) >= 2 for term in dashboard)
    assert "星河汽车" not in dashboard  # the topic's own rule term is in every post: it says nothing new
    # report: the China-time day
    with db.session() as session:
        report = build_report(session=session, topic_id=topic["id"], period="day", day=None, now=moment)
    win = window("day", None, now=moment)
    day_terms = _api_terms(client, read_headers, topic["id"], win.start, win.end, len(report.keywords) or 1)
    assert [term for term, _ in report.keywords] == day_terms
    assert all(count > 0 for _, count in report.keywords)
