"""Render report blocks as Markdown or as a standalone HTML page (no scripts, text escaped)."""

from __future__ import annotations

import re
from html import escape
from urllib.parse import urlsplit

from app.reports.chart import data_uri, trend_svg
from app.reports.document import Block, Bullets, Cell, Chart, Heading, Link, Para, Table, build_document
from app.reports.service import Report

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_MD_LEADING = re.compile(r"^([#>+=-]|\d+(?=[.)](\s|$)))")
CSS = """
body{font-family:'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif;color:#222;max-width:980px;
margin:24px auto;padding:0 16px;line-height:1.6}
h1{font-size:24px;border-bottom:2px solid #d9534f;padding-bottom:6px}h2{font-size:19px;margin-top:28px}
h3{font-size:16px}table{border-collapse:collapse;width:100%;margin:8px 0;font-size:14px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f5f5f5}
.note{color:#666;font-size:13px;border-left:3px solid #ccc;padding-left:10px}
ul.checks{list-style:none;padding-left:8px}img{max-width:100%}
"""


def safe_url(url: str | None) -> str | None:
    """The URL when it is http(s), else None (no javascript: or data: links from posts)."""
    if not url:
        return None
    return url if urlsplit(url.strip()).scheme in ("http", "https") else None


def md_text(text: str) -> str:
    """Plain text made inert in Markdown: one line, markup characters and HTML escaped."""
    flat = " ".join(text.split())
    flat = flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    flat = _MD_SPECIAL.sub(r"\\\1", flat)
    match = _MD_LEADING.match(flat)
    if match:
        end = match.end()
        flat = flat[:end] + "\\" + flat[end:] if match.group(1)[0].isdigit() else "\\" + flat
    return flat


def _md_cell(cell: Cell) -> str:
    if isinstance(cell, Link):
        url = safe_url(cell.url)
        text = md_text(cell.text)
        return f"[{text}](<{url.replace('>', '%3E').replace(' ', '%20')}>)" if url else text
    return md_text(cell)


def _md_block(block: Block, image_src: str) -> list[str]:
    if isinstance(block, Heading):
        return ["#" * block.level + " " + md_text(block.text), ""]
    if isinstance(block, Para):
        return [("> " if block.note else "") + md_text(block.text), ""]
    if isinstance(block, Bullets):
        checks: list[bool | None] = list(block.checks) if block.checks else [None] * len(block.items)
        marks = ["" if done is None else f"[{'x' if done else ' '}] " for done in checks]
        return [f"- {mark}{md_text(item)}" for mark, item in zip(marks, block.items, strict=True)] + [""]
    if isinstance(block, Table):
        lines = [
            "| " + " | ".join(md_text(h) for h in block.headers) + " |",
            "|" + "---|" * len(block.headers),
        ]
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
        return [*lines, ""]
    return [f"![{md_text(block.alt)}]({image_src})", ""]


def to_markdown(report: Report, *, image_src: str | None = None, chart: bool = True) -> str:
    """The report in Markdown; the chart is `image_src` (e.g. a sibling .svg) or an inline data URI.

    With `chart=False` (chat messages) the image is left out.
    """
    src = (image_src or data_uri(chart_svg(report))) if chart else ""
    lines: list[str] = []
    for block in build_document(report):
        if chart or not isinstance(block, Chart):
            lines.extend(_md_block(block, src))
    return "\n".join(lines).rstrip() + "\n"


def _html_cell(cell: Cell) -> str:
    if isinstance(cell, Link):
        url = safe_url(cell.url)
        text = escape(cell.text)
        return f'<a href="{escape(url)}" rel="noopener noreferrer">{text}</a>' if url else text
    return escape(cell)


def _html_block(block: Block, image_src: str) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{escape(block.text)}</h{block.level}>"
    if isinstance(block, Para):
        opening = '<p class="note">' if block.note else "<p>"
        return f"{opening}{escape(block.text)}</p>"
    if isinstance(block, Bullets):
        if block.checks:
            items = "".join(
                f"<li>{'☑' if done else '☐'} {escape(item)}</li>"
                for item, done in zip(block.items, block.checks, strict=True)
            )
            return f'<ul class="checks">{items}</ul>'
        return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Table):
        head = "".join(f"<th>{escape(h)}</th>" for h in block.headers)
        body = "".join(
            "<tr>" + "".join(f"<td>{_html_cell(c)}</td>" for c in row) + "</tr>" for row in block.rows
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    assert isinstance(block, Chart)
    return f'<p><img src="{escape(image_src)}" alt="{escape(block.alt)}"></p>'


def to_html(report: Report) -> str:
    """The report as one standalone HTML page with the chart inline as a data-URI image."""
    src = data_uri(chart_svg(report))
    body = "\n".join(_html_block(block, src) for block in build_document(report))
    title = escape(f"舆情简报：{report.topic} {report.window.label}")
    return (
        f'<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n'
        f"<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def chart_svg(report: Report) -> str:
    """The report's trend chart."""
    unit = "每小时" if report.window.period == "day" else "每天"
    return trend_svg(report.bars, report.window, title=f"{report.topic} · {unit}声量（按情感堆叠）")
