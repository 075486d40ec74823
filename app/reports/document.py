"""A report as a list of simple blocks (headings, paragraphs, lists, tables, the chart), so the
Markdown and HTML renderers share one content definition and differ only in syntax and escaping."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.core.vocab import IncidentStatus
from app.reports.periods import CHINA_TZ
from app.reports.service import IncidentItem, PostItem, Report

SENTIMENT_LABELS = {"positive": "正面", "neutral": "中性", "negative": "负面"}
STATUS_LABELS = {status.value: status.label for status in IncidentStatus}
EVENT_LABELS = {
    "opened": "开启",
    "escalated": "升级",
    "acknowledged": "认领",
    "coordination": "协同迹象",
    "note": "备注",
    "silenced": "静默",
    "resolved": "解除",
}
POST_CHARS = 120


@dataclass(frozen=True)
class Link:
    """Text that links to a URL (rendered as plain text when the URL is not http(s))."""

    text: str
    url: str | None


Cell = str | Link


@dataclass(frozen=True)
class Heading:
    """A heading; level 1 is the title."""

    level: int
    text: str


@dataclass(frozen=True)
class Para:
    """A paragraph of plain text; `note` renders as a quote/aside."""

    text: str
    note: bool = False


@dataclass(frozen=True)
class Bullets:
    """A bullet list; `checks` (same length) turns it into a checklist."""

    items: list[str]
    checks: list[bool] | None = None


@dataclass(frozen=True)
class Table:
    """A table with a header row."""

    headers: list[str]
    rows: list[list[Cell]] = field(default_factory=list)


@dataclass(frozen=True)
class Chart:
    """The trend chart image."""

    alt: str


Block = Heading | Para | Bullets | Table | Chart


def china(moment: datetime | None, fmt: str = "%m-%d %H:%M") -> str:
    """A moment in China time, or a dash."""
    return moment.astimezone(CHINA_TZ).strftime(fmt) if moment else "—"


def percent(value: float) -> str:
    """A share as a percentage with one decimal."""
    return f"{value * 100:.1f}%"


def clip(text: str, limit: int = POST_CHARS) -> str:
    """One line of at most `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _change(report: Report) -> str:
    current, previous = report.totals["total"], report.previous_total
    if previous == 0:
        return "上一周期无数据"
    change = (current - previous) / previous
    return f"上一周期 {previous} 条，环比 {'+' if change >= 0 else ''}{change * 100:.1f}%"


def _overview(report: Report) -> list[Block]:
    win = report.window
    open_count = sum(1 for item in report.incidents if item.status != IncidentStatus.RESOLVED)
    kind = "日报" if win.period == "day" else "周报"
    return [
        Heading(1, f"舆情简报（{kind}）：{report.topic}"),
        Para(
            f"统计周期：{win.label}，按中国时间（Asia/Shanghai，UTC+8）计算，"
            f"{china(win.start, '%Y-%m-%d %H:%M')} 至 {china(win.end, '%Y-%m-%d %H:%M')}。"
            f"生成时间：{china(report.generated_at, '%Y-%m-%d %H:%M')}（中国时间）。",
            note=True,
        ),
        Heading(2, "概览"),
        Bullets(
            [
                f"相关帖子 {report.totals['total']} 条（{_change(report)}），发帖账号 {report.authors} 个",
                f"负面 {report.totals['negative']} 条，负面占比 {percent(report.share('negative'))}",
                f"本期涉及事件 {len(report.incidents)} 起，其中未解除 {open_count} 起",
                *(report.gaps or ["数据完整：本期所有数据源均正常采集"]),
            ]
        ),
    ]


def _trend(report: Report) -> list[Block]:
    rows: list[list[Cell]] = [
        [SENTIMENT_LABELS[name], str(report.totals[name]), percent(report.share(name))]
        for name in ("positive", "neutral", "negative")
    ]
    rows.append(["合计", str(report.totals["total"]), percent(1.0) if report.totals["total"] else "—"])
    unit = "每小时" if report.window.period == "day" else "每天"
    return [
        Heading(2, "声量趋势"),
        Chart(f"{report.topic} {unit}帖子数，按情感堆叠（中国时间）"),
        Heading(2, "情感分布"),
        Table(["情感", "帖子数", "占比"], rows),
    ]


def _post_rows(posts: list[PostItem]) -> list[list[Cell]]:
    return [
        [
            str(index),
            china(post.published_at),
            post.source,
            post.author or "—",
            str(post.engagement),
            SENTIMENT_LABELS.get(post.sentiment or "", "—"),
            Link(clip(post.text), post.url),
        ]
        for index, post in enumerate(posts, 1)
    ]


def _post_table(headers: list[str], posts: list[PostItem], empty: str) -> Block:
    return Table(headers, _post_rows(posts)) if posts else Para(empty)


def _posts(report: Report) -> list[Block]:
    headers = ["序号", "时间", "来源", "作者", "互动量", "情感", "内容"]
    return [
        Heading(2, "热门帖子（互动量最高）"),
        _post_table(headers, report.top_engaged, "本期没有相关帖子。"),
        Heading(2, "负面帖子（负面程度最高）"),
        _post_table(headers, report.top_negative, "本期没有负面帖子。"),
    ]


def _sources_and_keywords(report: Report) -> list[Block]:
    total = report.totals["total"] or 1
    source_rows: list[list[Cell]] = [
        [s["name"], str(s["posts"]), percent(s["posts"] / total), str(s["negative"])] for s in report.sources
    ]
    keywords = "、".join(f"{term}（{count}）" for term, count in report.keywords)
    return [
        Heading(2, "主要来源"),
        Table(["来源", "帖子数", "占比", "负面"], source_rows) if source_rows else Para("本期没有来源数据。"),
        Heading(2, "关键词"),
        Para(keywords or "本期没有关键词。"),
    ]


def _incident(item: IncidentItem) -> list[Block]:
    facts = [
        f"分级：{item.grade_label}；状态：{STATUS_LABELS.get(item.status, item.status)}",
        f"开启：{china(item.opened_at)}；认领：{china(item.acknowledged_at)}；解除：{china(item.resolved_at)}"
        + (f"（{item.resolved_by}）" if item.resolved_by else ""),
        f"应对清单进度：{item.checklist_done}/{len(item.checklist)} 项已完成",
    ]
    if item.reasons:
        facts.append("分级依据：" + "；".join(item.reasons))
    facts.append("处置结果：" + (item.resolution or "尚未解除"))
    blocks: list[Block] = [Heading(3, f"事件 #{item.id} {item.title}"), Bullets(facts)]
    if item.highlights:
        lines = [
            f"{china(h['at'])} {EVENT_LABELS.get(h['kind'], h['kind'])}（{h['actor']}）："
            f"{clip(h['message'], 160)}"
            for h in item.highlights
        ]
        blocks += [Para("时间线要点："), Bullets(lines)]
    if item.checklist:
        blocks += [
            Para("应对清单："),
            Bullets(
                [step["text"] for step in item.checklist],
                checks=[bool(step.get("done")) for step in item.checklist],
            ),
        ]
    return blocks


def build_document(report: Report) -> list[Block]:
    """The report's content as blocks, in reading order."""
    blocks = [*_overview(report), *_trend(report), *_posts(report), *_sources_and_keywords(report)]
    blocks.append(Heading(2, "事件与处置"))
    if not report.incidents:
        blocks.append(Para("本期没有预警事件。"))
    for item in report.incidents:
        blocks.extend(_incident(item))
    blocks.append(
        Para(
            "说明：数量来自按 5 分钟汇总的统计；情感为模型自动判断，仅供参考。"
            "帖子内容为原文摘录，不代表本系统观点。",
            note=True,
        )
    )
    return blocks
