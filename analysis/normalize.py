"""Clean a raw post into text the rest of ``analysis`` can rely on.

Steps, in order (each is total: ``normalize`` never raises on any ``str``):

1. HTML: ``<script>``/``<style>`` and comments dropped; ``<img alt="[怒]">`` becomes its bracket
   emoticon (Weibo renders emoticons as images); ``<a href>`` targets are collected as URLs unless
   the link is an ``@mention`` or ``#topic#`` (the anchor text ``网页链接`` is dropped with it);
   ``<br>``, ``</p>``, ``</div>``, ``</li>`` become newlines; other tags are removed; entities
   (``&amp;``, ``&#x4e2d;``, ``&nbsp;``) are decoded.
2. Characters: width folding and invisible-character removal (see ``analysis.textfold``).
3. URLs (``http(s)://…``, ``www.…``) are listed and replaced by a space in ``text``.
4. Traditional → simplified Chinese.
5. Whitespace: runs of blanks become one space, blank lines disappear, lines are trimmed; the
   Weibo trailer ``…展开全文c`` is removed.
6. Structure, read from the cleaned text:
   - ``repost_chain``: the layers of ``我的评论//@某人: 上一层//@另一个人: 原文`` as
     ``[("某人", "上一层"), ("另一个人", "原文")]``; ``own_text`` is the part before the first
     ``//@name:`` (the whole text when there is no chain).
   - ``emoticons``: every ``[怒]``-style bracket emoticon, duplicates kept (counts carry meaning);
     they stay in ``text``.
   - ``mentions``: distinct ``@names`` in order, not counting the ``//@name:`` repost markers
     (those are in ``repost_chain``). Mentions stay in ``text`` and ``own_text``: removing them
     breaks sentences like ``@张三 你家的车…``; the tokenizer keeps each as one ``@name`` token
     that ``content_terms`` drops.
   - ``hashtags``: distinct Weibo ``#话题#`` names in order; they stay in the text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from analysis.textfold import fold_chars, to_simplified

__all__ = ["NormalizedText", "normalize", "EMOTICON_RE", "MENTION_RE"]

EMOTICON_RE = re.compile(r"\[(?![0-9]+\])[0-9A-Za-z\u4e00-\u9fff]{1,8}\]")
MENTION_RE = re.compile(r"(?<![A-Za-z0-9_.])@([0-9A-Za-z_\-\u4e00-\u9fff]{1,30})")
_HASHTAG_RE = re.compile(r"#(?![\s#])([^#\n]{1,64}?)(?<!\s)#")
_CHAIN_RE = re.compile(r"//@([^:：\s/@]{1,30})\s?[:：]")
_URL_CHARS = r"[A-Za-z0-9\-._~:/?#!$&'()*+,;=%]"
_URL_RE = re.compile(rf"(?:https?://|www\.)(?:(?!//@){_URL_CHARS})+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?)'\""
_TRAILER_RE = re.compile(r"\s*(?:\.{3}|…)?\s*展开全文\s*c?\s*$")

# Bounded repeats keep every pattern linear-ish on hostile input (thousands of unclosed tags).
_BLOCKS = (("<script", "</script>"), ("<style", "</style>"), ("<!--", "-->"))
_IMG_RE = re.compile(r"<img\b[^<>]{0,2000}>", re.IGNORECASE)
_ALT_RE = re.compile(r"""\balt\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_ANCHOR_RE = re.compile(r"<a\b([^<>]{0,2000})>(.{0,2000}?)</a\s*>", re.IGNORECASE | re.DOTALL)
_HREF_RE = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_BREAK_RE = re.compile(r"<br\s*/?>|</?(?:p|div|li|tr|h[1-6]|blockquote)\b[^<>]{0,2000}>", re.IGNORECASE)
_TAG_RE = re.compile(r"</?[A-Za-z][^<>]*>")


@dataclass(frozen=True)
class NormalizedText:
    """A cleaned post and the structure read from it."""

    text: str
    own_text: str
    repost_chain: list[tuple[str, str]] = field(default_factory=list)
    emoticons: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)


def normalize(text: str) -> NormalizedText:
    """Clean raw post text (HTML, 繁体, full width, URLs, whitespace) and read its structure."""
    urls: list[str] = []
    if "<" in text or "&" in text:
        text = _strip_html(text, urls)
    text = fold_chars(text)
    text = _URL_RE.sub(lambda match: _take_url(match, urls), text)
    text = _collapse_whitespace(to_simplified(text))
    own_text, chain, chain_at = _split_chain(text)
    return NormalizedText(
        text=text,
        own_text=own_text,
        repost_chain=chain,
        emoticons=EMOTICON_RE.findall(text),
        urls=_distinct(urls),
        mentions=_distinct(m.group(1) for m in MENTION_RE.finditer(text) if m.start() not in chain_at),
        hashtags=_distinct(m.group(1).strip() for m in _HASHTAG_RE.finditer(text)),
    )


def _strip_html(text: str, urls: list[str]) -> str:
    text = _drop_blocks(text)
    text = _IMG_RE.sub(_img_alt, text)
    text = _ANCHOR_RE.sub(lambda match: _anchor_text(match, urls), text)
    text = _BREAK_RE.sub("\n", text)
    text = _TAG_RE.sub("", text)
    return html.unescape(text)


def _drop_blocks(text: str) -> str:
    """Remove ``<script>``/``<style>`` elements and comments in one linear pass per kind."""
    for opener, closer in _BLOCKS:
        lowered = text.lower()
        if opener not in lowered:
            continue
        kept, position = [], 0
        start = lowered.find(opener)
        while start >= 0:
            end = lowered.find(closer, start + len(opener))
            if end < 0:
                break
            kept.append(text[position:start])
            position = end + len(closer)
            start = lowered.find(opener, position)
        kept.append(text[position:])
        text = "".join(kept)
    return text


def _img_alt(match: re.Match[str]) -> str:
    alt = _ALT_RE.search(match.group(0))
    value = html.unescape((alt.group(1) or alt.group(2) or "") if alt else "").strip()
    return value if EMOTICON_RE.fullmatch(fold_chars(value)) else " "


def _anchor_text(match: re.Match[str], urls: list[str]) -> str:
    inner = match.group(2)
    visible = _TAG_RE.sub("", inner).strip()
    href_match = _HREF_RE.search(match.group(1))
    href = html.unescape(next((g for g in href_match.groups() if g), "")) if href_match else ""
    if visible.startswith(("@", "#", "＠", "＃")) or not href.lower().startswith(("http://", "https://")):
        return inner
    urls.append(href)
    return " " if visible in ("网页链接", "網頁鏈接", "") else inner


def _take_url(match: re.Match[str], urls: list[str]) -> str:
    url = match.group(0)
    while url and url[-1] in _URL_TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    urls.append(url)
    return " " + match.group(0)[len(url) :]


def _collapse_whitespace(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.splitlines())
    collapsed = "\n".join(line for line in lines if line)
    if "展开全文" in collapsed:
        collapsed = _TRAILER_RE.sub("", collapsed)
    return collapsed


def _split_chain(text: str) -> tuple[str, list[tuple[str, str]], set[int]]:
    """Split ``own//@a: x//@b: y`` into own text, layers and the positions of the marker ``@``s."""
    markers = list(_CHAIN_RE.finditer(text))
    if not markers:
        return text, [], set()
    chain = []
    for index, marker in enumerate(markers):
        end = markers[index + 1].start() if index + 1 < len(markers) else len(text)
        chain.append((marker.group(1), text[marker.end() : end].strip()))
    return text[: markers[0].start()].strip(), chain, {marker.start() + 2 for marker in markers}


def _distinct(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        if item:
            seen.setdefault(item, None)
    return list(seen)
