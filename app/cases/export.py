"""A case as a 复盘 document in Markdown: 背景, 时间线, 处置动作, 结果, 经验教训, 分级与依据."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from analysis.grading import GRADE_LABELS, rule_label
from app.cases.models import Case
from app.reports.document import EVENT_LABELS, STATUS_LABELS
from app.reports.periods import CHINA_TZ
from app.reports.render import md_text

INPUT_LABELS = {
    "observed": "5 分钟声量（条）",
    "baseline": "基线（条/5 分钟）",
    "ratio": "为基线倍数",
    "z": "偏离程度 z",
    "negative": "负面帖子（条）",
    "negative_share": "负面占比",
    "distinct_sources": "来源数",
    "distinct_platforms": "平台数",
    "media_sources": "媒体来源数",
    "authors": "发帖账号数",
    "engagement": "互动量",
    "duration_minutes": "持续时间（分钟）",
    "recurrences": "近 7 天复发次数",
    "critical_terms": "命中的关键风险词",
    "critical_posts": "提到风险词的帖子（条）",
    "scanned_posts": "近 1 小时参与判定的帖子（条）",
    "max_followers": "参与账号最大粉丝数",
    "verified_authors": "参与的认证账号数",
}
DETECTOR_LABELS = {
    "volume": "声量突增",
    "negative_volume": "负面声量突增",
    "negative_share": "负面占比上升",
    "coordination": "多账号相似内容",
}
TIMELINE_KINDS = {**EVENT_LABELS, "alert": "预警", "checklist": "清单"}


def _time(value: str | None) -> str:
    if not value:
        return "—"
    return datetime.fromisoformat(value).astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")


def _duration(incident: dict[str, Any]) -> str:
    if not incident.get("opened_at") or not incident.get("resolved_at"):
        return "—"
    minutes = int(
        (
            datetime.fromisoformat(incident["resolved_at"]) - datetime.fromisoformat(incident["opened_at"])
        ).total_seconds()
        // 60
    )
    return f"{minutes // 60} 小时 {minutes % 60} 分钟" if minutes >= 60 else f"{minutes} 分钟"


def _paragraphs(text: str) -> list[str]:
    """Each non-empty line of the text as its own Markdown paragraph."""
    paragraphs = [md_text(line) for line in text.splitlines() if line.strip()] or ["（未填写）"]
    return [line for paragraph in paragraphs for line in (paragraph, "")][:-1]


def _background(case: Case, snap: dict[str, Any]) -> list[str]:
    incident = snap.get("incident", {})
    return [
        "## 背景",
        "",
        f"- 话题：{md_text(snap.get('topic') or '（已删除）')}",
        f"- 事件：#{incident.get('id', '—')} {md_text(incident.get('title', case.title))}",
        f"- 开启：{_time(incident.get('opened_at'))}；解除：{_time(incident.get('resolved_at'))}；"
        f"持续：{_duration(incident)}",
        "",
        *_paragraphs(case.summary),
        "",
    ]


def _kind(kind: str) -> str:
    return TIMELINE_KINDS.get(kind) or md_text(kind)


def _timeline(snap: dict[str, Any]) -> list[str]:
    lines = ["## 时间线", "", "| 时间（中国时间） | 类型 | 操作人 | 内容 |", "|---|---|---|---|"]
    for event in snap.get("events", []):
        lines.append(
            f"| {_time(event.get('at'))} | {_kind(event.get('kind', ''))}"
            f" | {md_text(event.get('actor', ''))} | {md_text(event.get('message', ''))} |"
        )
    return [*lines, ""]


def _actions(snap: dict[str, Any]) -> list[str]:
    incident = snap.get("incident", {})
    lines = ["## 处置动作", ""]
    if incident.get("acknowledged_at"):
        lines.append(
            f"- 认领：{md_text(incident.get('acknowledged_by') or '—')}"
            f" 于 {_time(incident['acknowledged_at'])}"
        )
    checklist = snap.get("checklist", [])
    done = [item for item in checklist if item.get("done")]
    lines.append(f"- 应对清单完成 {len(done)}/{len(checklist)} 项：")
    for item in checklist:
        who = (
            f"（{md_text(item.get('done_by') or '')} {_time(item.get('done_at'))}）"
            if item.get("done")
            else ""
        )
        lines.append(f"  - [{'x' if item.get('done') else ' '}] {md_text(item.get('text', ''))}{who}")
    notes = [e for e in snap.get("events", []) if e.get("kind") == "note"]
    if notes:
        lines.append("- 处置记录：")
        lines += [
            f"  - {_time(e.get('at'))} {md_text(e.get('actor', ''))}：{md_text(e.get('message', ''))}"
            for e in notes
        ]
    return [*lines, ""]


def _result(case: Case, snap: dict[str, Any]) -> list[str]:
    incident = snap.get("incident", {})
    closing = next((e for e in reversed(snap.get("events", [])) if e.get("kind") == "resolved"), None)
    lines = ["## 结果", "", *_paragraphs(case.outcome), ""]
    lines.append(
        f"- 解除方式：{md_text(closing['message']) if closing else '—'}"
        f"（{md_text(incident.get('resolved_by') or '—')}，{_time(incident.get('resolved_at'))}）"
    )
    return [*lines, ""]


def _grading(case: Case, snap: dict[str, Any]) -> list[str]:
    incident = snap.get("incident", {})
    lines = ["## 分级与依据", "", f"- 最终分级：{GRADE_LABELS.get(case.grade, case.grade)}"]
    lines += [f"- 分级依据：{md_text(reason)}" for reason in incident.get("reasons", [])]
    if incident.get("rules"):
        lines.append("- 触发规则：" + "、".join(md_text(rule_label(str(rule))) for rule in incident["rules"]))
    escalations = [e for e in snap.get("events", []) if e.get("kind") == "escalated"]
    lines += [f"- 升级：{_time(e.get('at'))} {md_text(e.get('message', ''))}" for e in escalations]
    alerts = snap.get("alerts", {})
    detectors = "、".join(DETECTOR_LABELS.get(d, d) for d in alerts.get("detectors", [])) or "—"
    lines.append(f"- 预警次数：{alerts.get('count', 0)}（检测器：{detectors}）")
    inputs = incident.get("inputs", {})
    if inputs:
        lines += ["", "| 指标 | 数值 |", "|---|---|"]
        for key, label in INPUT_LABELS.items():
            if key in inputs:
                value = inputs[key]
                if value is None:
                    shown = ""
                elif isinstance(value, list):
                    shown = "、".join(value)
                else:
                    shown = f"{value:.1%}" if key == "negative_share" else str(value)
                lines.append(f"| {label} | {md_text(shown or '—')} |")
    return [*lines, ""]


def to_markdown(case: Case) -> str:
    """The 复盘 document of a case."""
    snap = case.timeline or {}
    status = STATUS_LABELS.get("resolved", "")
    head = [
        f"# 复盘：{md_text(case.title)}",
        "",
        f"> 案例 #{case.id} · 分级 {GRADE_LABELS.get(case.grade, case.grade)} · {status} · "
        f"标签：{'、'.join(md_text(t) for t in case.tags) or '无'} · 时间均为中国时间（UTC+8）",
        "",
    ]
    body = [
        *_background(case, snap),
        *_timeline(snap),
        *_actions(snap),
        *_result(case, snap),
        "## 经验教训",
        "",
        *_paragraphs(case.lessons),
        "",
        *_grading(case, snap),
    ]
    return "\n".join(head + body).rstrip() + "\n"
