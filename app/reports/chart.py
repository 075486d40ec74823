"""The trend chart as a self-contained SVG: stacked sentiment bars per hour or day, axes and
Chinese labels. No JavaScript and no external fonts, so it embeds as an image anywhere."""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from html import escape

from app.reports.periods import WEEKDAYS, Window
from app.reports.service import Bar

WIDTH, HEIGHT = 760, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 44, 52
COLOURS = {"negative": "#d9534f", "neutral": "#a8b0ba", "positive": "#4cae4c"}
LABELS = {"negative": "负面", "neutral": "中性", "positive": "正面"}
STACK = ("negative", "neutral", "positive")
FONT = (
    "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei','WenQuanYi Micro Hei',sans-serif"
)


def nice_step(peak: int, ticks: int = 5) -> int:
    """A 1-2-5 step so that `ticks` steps cover `peak`."""
    if peak <= ticks:
        return 1
    raw = peak / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return int(factor * magnitude)
    return int(10 * magnitude)


def _x_label(win: Window, index: int, bar: Bar) -> str | None:
    local = win.china(bar.start)
    if win.period == "day":
        return f"{local.hour}时" if index % 3 == 0 else None
    return f"{local.month}/{local.day} 周{WEEKDAYS[local.weekday()]}"


def _text(
    x: float, y: float, content: str, *, size: int = 11, anchor: str = "middle", fill: str = "#444"
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}">'
        f"{escape(content)}</text>"
    )


def _line(x1: float, y1: float, x2: float, y2: float, colour: str) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}"/>'


def _axes(top: int, step: int, plot_w: float, plot_h: float) -> list[str]:
    parts = []
    for value in range(0, top + 1, step):
        y = TOP + plot_h - value / top * plot_h
        parts.append(_line(LEFT, y, LEFT + plot_w, y, "#e5e5e5"))
        parts.append(_text(LEFT - 6, y + 4, str(value), anchor="end"))
    parts.append(_line(LEFT, TOP, LEFT, TOP + plot_h, "#888"))
    parts.append(_line(LEFT, TOP + plot_h, LEFT + plot_w, TOP + plot_h, "#888"))
    middle = TOP + plot_h / 2
    parts.append(
        f'<text x="14" y="{middle:.1f}" font-size="11" text-anchor="middle" fill="#444" '
        f'transform="rotate(-90 14 {middle:.1f})">帖子数</text>'
    )
    return parts


def _bars(bars: Sequence[Bar], win: Window, top: int, plot_w: float, plot_h: float) -> list[str]:
    parts = []
    slot = plot_w / max(len(bars), 1)
    width = max(slot * 0.7, 1.0)
    for index, bar in enumerate(bars):
        x = LEFT + index * slot + (slot - width) / 2
        base = TOP + plot_h
        for name in STACK:
            count = getattr(bar, name)
            if count <= 0:
                continue
            height = count / top * plot_h
            base -= height
            parts.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{width:.1f}" height="{height:.1f}" '
                f'fill="{COLOURS[name]}"><title>{escape(LABELS[name])} {count}</title></rect>'
            )
        label = _x_label(win, index, bar)
        if label:
            parts.append(_text(LEFT + index * slot + slot / 2, TOP + plot_h + 16, label, size=10))
    return parts


def _legend() -> list[str]:
    parts = []
    x = WIDTH - RIGHT - 190
    for name in reversed(STACK):
        parts.append(f'<rect x="{x}" y="14" width="12" height="12" fill="{COLOURS[name]}"/>')
        parts.append(_text(x + 16, 24, LABELS[name], anchor="start"))
        x += 62
    return parts


def trend_svg(bars: Sequence[Bar], win: Window, *, title: str) -> str:
    """Stacked bars (negative at the bottom) with a y axis, time labels in China time and a legend."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    peak = max((bar.positive + bar.neutral + bar.negative for bar in bars), default=0)
    step = nice_step(peak)
    top = max(step * math.ceil(peak / step), step)
    unit = "按小时" if win.period == "day" else "按天"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="{escape(FONT)}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        _text(LEFT, 24, title, size=14, anchor="start", fill="#222"),
        *_axes(top, step, plot_w, plot_h),
        *_bars(bars, win, top, plot_w, plot_h),
        *_legend(),
        _text(LEFT + plot_w / 2, HEIGHT - 10, f"时间（中国时间 UTC+8，{unit}）", size=11),
    ]
    if peak == 0:
        parts.append(_text(LEFT + plot_w / 2, TOP + plot_h / 2, "本期无数据", size=14, fill="#999"))
    parts.append("</svg>")
    return "\n".join(parts)


def data_uri(svg: str) -> str:
    """The SVG as a base64 data URI, for an <img> or a Markdown image."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
