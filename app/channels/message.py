"""Chinese message composition shared by the chat channels, and byte-aware fitting to vendor limits.

`compose(notice, markup)` returns the message as lines: a title, a head (headline, trend, status),
a trimmable body (reasons, posts, keywords, checklist; or the items of a digest) and a foot (links,
time, mentions). `paginate(body, size=…, limit=…)` then packs body lines into at most `max_parts`
messages whose size, as measured by the channel on the final payload bytes, stays within the limit.
Lines are atomic: a cut never splits a multi-byte character or a link, and a trimmed message ends
with `TRUNCATED_TAIL`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from app.channels.base import MENTION_PATTERN
from app.channels.markup import LINK_SPAN, Markup, safe_url
from app.channels.notice import Notice, NoticePost
from app.core.vocab import IncidentStatus, NoticeKind

BEIJING = timezone(timedelta(hours=8), "CST")
SPARK_BARS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 24
TRUNCATED_TAIL = "…（已截断，完整内容见链接）"
POST_CHARS = 80


def utf8_len(text: str) -> int:
    """Size of a text in UTF-8 bytes."""
    return len(text.encode("utf-8"))


def sparkline(values: Sequence[int], width: int = SPARK_WIDTH) -> str:
    """A text sparkline (▁…█) of the last `width` counts, scaled from 0 to the peak."""
    recent = [max(0, int(value)) for value in values[-width:]]
    if not recent:
        return ""
    peak = max(recent)
    if peak == 0:
        return SPARK_BARS[0] * len(recent)
    return "".join(SPARK_BARS[round(value / peak * (len(SPARK_BARS) - 1))] for value in recent)


def beijing_time(moment: datetime) -> str:
    """`MM-DD HH:MM` in Beijing time (China has no DST, so a fixed +08:00)."""
    return moment.astimezone(BEIJING).strftime("%m-%d %H:%M")


def title_tag(notice: Notice) -> str:
    """The bracketed tag of a title: the grade, 测试 for a test, 日报/周报 for a report."""
    if notice.kind == NoticeKind.TEST:
        return "测试"
    return notice.period_label if notice.kind == NoticeKind.REPORT else notice.grade.label


def plain_title(notice: Notice, markup: Markup, *, part: str = "") -> str:
    """`【严重】舆情预警 · <topic>`; the tag is 测试 for test notices, 日报/周报 for reports."""
    tag = title_tag(notice)
    return f"【{tag}】{notice.kind.label} · {markup.text(notice.topic, 60)}{part}"


@dataclass(frozen=True)
class Composed:
    """A notice as message lines, before fitting; every line is already escaped for its markup."""

    title: str
    title_line: str
    head: list[str]
    body: list[str]
    foot: list[str]
    links: list[tuple[str, str]] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)


def _post_line(index: int, post: NoticePost, markup: Markup) -> str:
    label = markup.text(post.text, POST_CHARS) or "（无正文）"
    facts = [markup.text(value, 30) for value in (post.author, post.source) if value]
    if post.sentiment_score is not None:
        facts.append(f"情感 {post.sentiment_score:+.2f}")
    if post.published_at is not None:
        facts.append(beijing_time(post.published_at))
    suffix = f" — {' · '.join(facts)}" if facts else ""
    return f"{index}. {markup.link(label, post.url)}{suffix}"


def _section(markup: Markup, heading: str, items: list[str]) -> list[str]:
    return [markup.bold(heading), *items] if items else []


def _incident_body(notice: Notice, markup: Markup, max_posts: int) -> list[str]:
    reasons = [f"- {markup.text(reason)}" for reason in notice.reasons]
    posts = [_post_line(i, post, markup) for i, post in enumerate(notice.top_posts[:max_posts], 1)]
    hidden = len(notice.top_posts) - len(posts)
    if hidden > 0 and posts:
        posts.append(f"另有 {hidden} 条未列出")
    keywords = "、".join(markup.text(word, 20) for word in notice.keywords[:10])
    steps = [f"{i}. {markup.text(step)}" for i, step in enumerate(notice.checklist, 1)]
    lines = _section(markup, "研判依据", reasons) + _section(markup, "负面热帖", posts)
    if keywords:
        lines.append(f"{markup.bold('高频词')}：{keywords}")
    return lines + _section(markup, "处置建议", steps)


def _digest_body(notice: Notice, markup: Markup) -> list[str]:
    lines = []
    for item in notice.items:
        summary = f"{plain_title(item, markup)}：{markup.text(item.headline, 120)}"
        link = f" {markup.link('详情', item.incident_url)}" if item.incident_url else ""
        lines.append(f"- {summary}{link}")
    return lines


def _report_body(notice: Notice, markup: Markup, max_posts: int) -> list[str]:
    overview = [f"- {markup.text(line)}" for line in notice.reasons]
    events = [f"- {markup.text(line)}" for line in notice.events]
    posts = [_post_line(i, post, markup) for i, post in enumerate(notice.top_posts[:max_posts], 1)]
    keywords = "、".join(markup.text(word, 20) for word in notice.keywords[:10])
    lines = _section(markup, "概况", overview) + _section(markup, "本期事件", events)
    lines += _section(markup, "负面热帖", posts)
    if keywords:
        lines.append(f"{markup.bold('高频词')}：{keywords}")
    return lines


def _head(notice: Notice, markup: Markup) -> list[str]:
    head = [markup.bold(markup.text(notice.headline))] if notice.headline else []
    if notice.trend:
        recent = notice.trend[-SPARK_WIDTH:]
        head.append(f"趋势 {sparkline(recent)}（近 {len(recent)} 个时段，峰值 {max(recent)}）")
    if notice.kind not in (NoticeKind.DIGEST, NoticeKind.REPORT) and notice.status != IncidentStatus.OPEN:
        head.append(f"状态：{notice.status.label}")
    return head


def compose(notice: Notice, markup: Markup, *, max_posts: int = 5, mention: Sequence[str] = ()) -> Composed:
    """Lay out a notice as escaped lines for one markup dialect."""
    title = plain_title(notice, markup)
    plain_tag = title_tag(notice)
    tag = markup.grade(plain_tag, notice.grade) if plain_tag == notice.grade.label else plain_tag
    title_line = markup.heading(title.replace(f"【{plain_tag}】", f"【{tag}】", 1))
    if notice.kind == NoticeKind.DIGEST:
        body = _digest_body(notice, markup)
    elif notice.kind == NoticeKind.TEST:
        body = ["这是一条测试消息，用于确认预警通道配置正确。"]
    elif notice.kind == NoticeKind.REPORT:
        body = _report_body(notice, markup, max_posts)
    else:
        body = _incident_body(notice, markup, max_posts)
    labels = ("完整报告", "Markdown") if notice.kind == NoticeKind.REPORT else ("查看事件", "API")
    candidates = ((labels[0], safe_url(notice.incident_url)), (labels[1], safe_url(notice.api_url)))
    links = [(label, url) for label, url in candidates if url]
    users = [user for user in dict.fromkeys([*notice.mention, *mention]) if MENTION_PATTERN.match(user)]
    foot = [f"时间：{beijing_time(notice.created_at)}（北京时间）"]
    return Composed(title, title_line, _head(notice, markup), body, foot, links, users)


def link_line(composed: Composed, markup: Markup) -> list[str]:
    """The incident links as one line (empty when there are none)."""
    parts = [markup.link(label, url) for label, url in composed.links]
    return [" · ".join(parts)] if parts else []


def mention_line(composed: Composed, markup: Markup) -> list[str]:
    """In-text mentions this dialect supports, as one line (empty when none)."""
    parts = [text for text in (markup.mention(user) for user in composed.mentions) if text]
    return [" ".join(parts)] if parts else []


def truncate_bytes(text: str, limit: int) -> str:
    """Cut text to at most `limit` UTF-8 bytes on a character boundary, ending with an ellipsis."""
    if utf8_len(text) <= limit:
        return text
    cut = text.encode("utf-8")[: max(0, limit - utf8_len("…"))].decode("utf-8", errors="ignore")
    return cut + "…"


def cut_line(line: str, fits: Callable[[str], bool]) -> str:
    """Longest prefix of a line (plus "…") that fits, never ending inside a link."""
    low, high = 0, len(line)
    while low < high:
        middle = (low + high + 1) // 2
        if fits(line[:middle] + "…"):
            low = middle
        else:
            high = middle - 1
    for span in LINK_SPAN.finditer(line):
        if span.start() < low < span.end():
            low = span.start()
            break
    return line[:low].rstrip() + "…"


def paginate(
    lines: Sequence[str], *, size: Callable[[list[str]], int], limit: int, max_parts: int = 1
) -> list[list[str]]:
    """Pack body lines into at most `max_parts` pages with `size(page) <= limit`; trim the rest.

    `size` measures the complete payload (title, head, foot and envelope included) for a page of
    body lines, in the unit the vendor limits (UTF-8 bytes, or characters for Slack).
    """
    pages: list[list[str]] = [[]]
    for line in lines:
        if size([*pages[-1], line]) <= limit:
            pages[-1].append(line)
            continue
        if pages[-1]:
            pages.append([])
        if size([line]) > limit:
            line = cut_line(line, lambda candidate: size([candidate]) <= limit)
        pages[-1].append(line)
    if len(pages) <= max_parts:
        return pages
    kept = pages[:max_parts]
    last = kept[-1]
    while last and size([*last, TRUNCATED_TAIL]) > limit:
        last.pop()
    tail = TRUNCATED_TAIL
    if size([*last, tail]) > limit:  # only for absurdly small limits
        tail = cut_line(tail, lambda candidate: size([*last, candidate]) <= limit)
    if size([*last, tail]) <= limit:
        last.append(tail)
    return kept
