"""舆情简报: day/week windows in China time, numbers that match the pushed posts, the SVG chart,
escaping of post text, incidents with their handling, the API and the CLI — on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from typer.testing import CliRunner

from analysis.sentiment.view import SentimentView
from app.alerts import incidents
from app.reports.chart import nice_step
from app.reports.periods import window
from app.reports.render import md_text, to_html, to_markdown
from app.reports.service import build_report
from app.topics import service as topics
from app.topics.schemas import TopicCreate
from tests.support.seed import open_incident, post

NOW = datetime(2026, 11, 21, 4, 0, tzinfo=UTC)  # 12:00 on Saturday 21 November, China time
DAY = date(2026, 11, 20)  # a Friday
SCRIPT = "&lt;script&gt;alert('x')&lt;/script&gt;"  # entities: normalisation turns them into a real tag


@dataclass(frozen=True)
class FakeSentiment:
    """What the pipeline reads from a sentiment prediction."""

    label: str
    score: float


class KeywordModel:
    """A deterministic stand-in for the sentiment model: 失灵/气死 negative, 点赞 positive."""

    view = SentimentView.FULL

    def predict_many(self, texts, tokens_list=None):  # type: ignore[no-untyped-def]
        """Label each text by keyword."""
        return [self._one(text) for text in texts]

    @staticmethod
    def _one(text: str) -> FakeSentiment:
        if "失灵" in text or "气死" in text:
            return FakeSentiment("negative", 0.05 if "气死" in text else 0.2)
        if "点赞" in text:
            return FakeSentiment("positive", 0.9)
        return FakeSentiment("neutral", 0.5)


@pytest.fixture
def analyzer(shared_tokenizer):  # type: ignore[no-untyped-def]
    """The real analyser with a keyword sentiment model, so counts are exact."""
    from app.posts.analyzer import PostAnalyzer

    return PostAnalyzer(model=KeywordModel(), tokenizer=shared_tokenizer)


def at(text: str) -> datetime:
    """A China-time `YYYY-MM-DD HH:MM` as UTC."""
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


@pytest.fixture
def data(services, db):  # type: ignore[no-untyped-def]
    """A topic, posts around the day and week boundaries (China time) and a handled incident."""
    services.pipeline.clock = lambda: NOW
    with db.session() as session:
        topic_id = topics.create(session=session, data=TopicCreate(name="星河汽车", rule="星河汽车")).id
    weibo = [
        post("p1", "星河汽车 昨晚路过门店", at("2026-11-19 23:30")),  # previous day, same week
        post("p2", "星河汽车客服回复很快，点赞", at("2026-11-20 00:00")),
        post("p3", "星河汽车刹车失灵，吓死了", at("2026-11-20 10:00"), engagement={"likes": 50}),
        post(
            "p4",
            f"星河汽车又失灵了 {SCRIPT}",
            at("2026-11-20 12:10"),
            engagement={"reposts": 400, "likes": 100},
            url="https://weibo.example/p4",
        ),
        post("p5", "星河汽车新车发布会在上海", at("2026-11-20 12:20")),
        post("p6", "星河汽车门店周末营业", at("2026-11-20 23:59")),
        post("p7", "星河汽车又失灵，气死了", at("2026-11-21 00:00")),  # next day, same week
        post("p8", "星河汽车上周的消息", at("2026-11-15 23:59")),  # Sunday of the previous week
        post("p9", "星河汽车试驾体验，点赞", at("2026-11-16 00:00")),  # Monday: first moment of the week
        post("x1", "无关的一条消息，失灵", at("2026-11-20 12:30")),
    ]
    news = [post("n1", "星河汽车回应刹车问题", at("2026-11-20 12:40"), engagement={"comments": 3})]
    assert services.pipeline.push("weibo", weibo).accepted == len(weibo)
    assert services.pipeline.push("news-site", news).accepted == 1
    incident_id = open_incident(db, topic_id, at=at("2026-11-20 12:15"))
    with db.session() as session:
        incidents.acknowledge(session, incident_id, actor="值班员", now=at("2026-11-20 12:20"))
        incidents.set_checklist_item(
            session, incident_id, code="verify", done=True, actor="值班员", now=at("2026-11-20 12:30")
        )
        incidents.add_note(
            session, incident_id, actor="值班员", text="已联系售后核实", now=at("2026-11-20 12:40")
        )
        incidents.resolve(
            session, incident_id, actor="值班员", now=at("2026-11-20 14:00"), note="官方说明后回落"
        )
    return {"topic_id": topic_id, "incident_id": incident_id}


def _report(db, topic_id: int, period: str, day: date = DAY):  # type: ignore[no-untyped-def]
    with db.session() as session:
        return build_report(session=session, topic_id=topic_id, period=period, day=day, now=NOW)


def test_day_and_week_windows_are_china_time() -> None:
    day = window("day", DAY, now=NOW)
    assert (day.start, day.end) == (
        datetime(2026, 11, 19, 16, tzinfo=UTC),
        datetime(2026, 11, 20, 16, tzinfo=UTC),
    )
    assert len(day.buckets()) == 24 and day.step == timedelta(hours=1)
    week = window("week", DAY, now=NOW)
    assert week.start == datetime(2026, 11, 15, 16, tzinfo=UTC)  # Monday 16 November 00:00 China time
    assert week.end - week.start == timedelta(days=7) and len(week.buckets()) == 7
    assert window("day", None, now=datetime(2026, 11, 20, 16, 30, tzinfo=UTC)).label.startswith("2026-11-21")


def test_day_report_counts_match_pushed_posts(data, db) -> None:  # type: ignore[no-untyped-def]
    report = _report(db, data["topic_id"], "day")
    assert report.totals == {"positive": 1, "neutral": 3, "negative": 2, "total": 6}
    assert report.previous_total == 1  # p1 on the previous China day
    by_hour = {report.window.china(bar.start).hour: bar.total for bar in report.bars if bar.total}
    assert by_hour == {0: 1, 10: 1, 12: 3, 23: 1}
    assert (
        report.top_engaged[0].text.startswith("星河汽车又失灵了") and report.top_engaged[0].engagement == 500
    )
    assert report.top_negative[0].id != report.top_negative[1].id
    assert {item.sentiment for item in report.top_negative} == {"negative"}
    assert report.sources[0] == {"name": "weibo", "posts": 5, "negative": 2}
    assert report.sources[1]["name"] == "news-site"
    assert [item.id for item in report.incidents] == [data["incident_id"]]
    keywords = dict(report.keywords)
    assert "星河汽车" not in keywords and keywords.get("失灵") == 2  # the topic's own rule term is left out


def test_copies_of_one_text_are_listed_once(services, db) -> None:  # type: ignore[no-untyped-def]
    services.pipeline.clock = lambda: NOW
    with db.session() as session:
        topic_id = topics.create(session=session, data=TopicCreate(name="月光手机", rule="月光手机")).id
    copies = [
        post(
            f"c{i}",
            "月光手机屏幕失灵，气死了",
            at("2026-11-20 09:00") + timedelta(minutes=i),
            author=f"用户{i}",
            engagement={"reposts": 10 - i},
        )
        for i in range(4)
    ]
    other = post("o1", "月光手机电池失灵", at("2026-11-20 10:00"))
    assert services.pipeline.push("weibo", [*copies, other]).accepted == 5
    report = _report(db, topic_id, "day")
    assert report.totals["negative"] == 5
    assert [item.text for item in report.top_negative] == ["月光手机屏幕失灵，气死了", "月光手机电池失灵"]
    assert len(report.top_engaged) == 2 and report.top_engaged[0].engagement == 10


def test_week_report_uses_monday_to_sunday_china_time(data, db) -> None:  # type: ignore[no-untyped-def]
    report = _report(db, data["topic_id"], "week")
    assert report.totals == {
        "positive": 2,
        "neutral": 4,
        "negative": 3,
        "total": 9,
    }  # p8 excluded, p9 included
    assert report.previous_total == 1
    assert [bar.total for bar in report.bars] == [1, 0, 0, 1, 6, 1, 0]
    markdown = to_markdown(report)
    assert "2026-11-16 00:00 至 2026-11-23 00:00" in markdown and "周报" in markdown


def test_markdown_sections_numbers_chart_and_incident(data, db) -> None:  # type: ignore[no-untyped-def]
    markdown = to_markdown(_report(db, data["topic_id"], "day"))
    for heading in (
        "# 舆情简报（日报）：星河汽车",
        "## 概览",
        "## 声量趋势",
        "## 情感分布",
        "## 热门帖子（互动量最高）",
        "## 负面帖子（负面程度最高）",
        "## 主要来源",
        "## 关键词",
        "## 事件与处置",
    ):
        assert f"\n{heading}\n" in f"\n{markdown}", heading
    assert "Asia/Shanghai" in markdown and "2026-11-20 00:00 至 2026-11-21 00:00" in markdown
    assert "相关帖子 6 条（上一周期 1 条，环比 +500.0%）" in markdown
    assert "| 负面 | 2 | 33.3% |" in markdown and "| 正面 | 1 | 16.7% |" in markdown
    assert "| weibo | 5 | 83.3% | 2 |" in markdown
    assert "![" in markdown and "(data:image/svg+xml;base64," in markdown
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown
    assert f"### 事件 #{data['incident_id']}" in markdown
    assert "应对清单进度：1/" in markdown and "处置结果：官方说明后回落" in markdown
    assert "- [x] 核实事实" in markdown and "已联系售后核实" in markdown


def test_html_escapes_post_text_and_embeds_svg(data, db) -> None:  # type: ignore[no-untyped-def]
    page = to_html(_report(db, data["topic_id"], "day"))
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert '<a href="https://weibo.example/p4"' in page
    match = re.search(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)
    assert match, "the chart is an inline data-URI image"
    svg = base64.b64decode(match.group(1)).decode()
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    texts = [el.text for el in root.iter() if el.tag.endswith("text")]
    assert "12时" in texts and "负面" in texts and any("中国时间" in (t or "") for t in texts)
    assert len([el for el in root.iter() if el.tag.endswith("rect")]) > 5


def test_api_serves_markdown_and_html_with_read_scope(data, client, read_headers) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/reports/topics/{data['topic_id']}"
    response = client.get(
        url, params={"period": "day", "date": "2026-11-20", "format": "md"}, headers=read_headers
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    assert "相关帖子 6 条" in response.text
    page = client.get(url, params={"date": "2026-11-20", "format": "html"}, headers=read_headers)
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"] and "<script" not in page.text
    assert client.get(url).status_code == 401
    assert client.get(url, params={"period": "month"}, headers=read_headers).status_code == 422
    assert client.get(url, params={"date": "20-11-2026"}, headers=read_headers).status_code == 400
    assert client.get(url, params={"date": "0001-01-01"}, headers=read_headers).status_code == 400
    assert client.get("/api/v1/reports/topics/99999999999", headers=read_headers).status_code == 422
    assert client.get("/api/v1/reports/topics/999999", headers=read_headers).status_code == 404


def test_cli_writes_markdown_with_sibling_svg(data, settings, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from app.cli import cli

    monkeypatch.setenv("YUQING_DATABASE_URL", settings.database_url)
    output = tmp_path / "daily.md"
    args = [
        "report",
        "--topic",
        "星河汽车",
        "--period",
        "day",
        "--date",
        "2026-11-20",
        "--format",
        "md",
        "--output",
        str(output),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    svg = tmp_path / "daily.trend.svg"
    assert svg.exists() and "(daily.trend.svg)" in output.read_text(encoding="utf-8")
    ET.fromstring(svg.read_text(encoding="utf-8"))
    html = CliRunner().invoke(
        cli, ["report", "--topic", "星河汽车", "--date", "2026-11-20", "--format", "html"]
    )
    assert html.exit_code == 0 and html.stdout.startswith("<!DOCTYPE html>")
    missing = CliRunner().invoke(cli, ["report", "--topic", "不存在的话题"])
    assert missing.exit_code == 1


def test_empty_period_still_renders() -> None:
    from app.reports.service import Bar, Report

    win = window("day", DAY, now=NOW)
    report = Report(
        topic_id=1,
        topic="空话题",
        window=win,
        generated_at=NOW,
        bars=[Bar(s) for s in win.buckets()],
        totals={"positive": 0, "neutral": 0, "negative": 0, "total": 0},
        previous_total=0,
        authors=0,
    )
    markdown = to_markdown(report)
    assert "本期没有相关帖子" in markdown and "本期没有预警事件" in markdown and "上一周期无数据" in markdown
    assert "本期无数据" in base64.b64decode(markdown.split("base64,")[1].split(")")[0]).decode()


@pytest.mark.parametrize(("peak", "step"), [(0, 1), (4, 1), (12, 5), (37, 10), (99, 20), (1234, 500)])
def test_nice_step(peak: int, step: int) -> None:
    assert nice_step(peak) == step


def test_md_text_neutralises_markup() -> None:
    assert md_text("a|b *c* [d](e) <b>\n新行") == "a\\|b \\*c\\* \\[d\\](e) &lt;b&gt; 新行"
    assert (
        md_text("# 标题") == "\\# 标题"
        and md_text("1. 第一") == "1\\. 第一"
        and md_text("环比 +5%") == "环比 +5%"
    )
