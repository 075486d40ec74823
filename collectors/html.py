"""HTML to plain text with the stdlib parser: paragraphs and line breaks kept, scripts and styles dropped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

SKIPPED = frozenset("script style noscript template head title iframe object svg".split())
PARAGRAPH = frozenset("p h1 h2 h3 h4 h5 h6 blockquote pre table ul ol dl hr figure".split())
LINE = frozenset(
    "div li tr dt dd section article header footer aside nav figcaption address details summary main form "
    "fieldset legend caption".split()
)
CELLS = frozenset({"td", "th"})
# Emoticons rendered as images: Weibo `[怒]`, Mastodon `:blobcat:`. Their alt text carries sentiment.
EMOTICON_ALT = re.compile(r"^(\[[^\[\]\s]{1,8}\]|:[A-Za-z0-9_]{1,40}:)$")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _TextExtractor(HTMLParser):
    """Collects text; block boundaries become a pending break (1 = new line, 2 = blank line)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.pending_break = 0

    def _block(self, tag: str) -> None:
        level = 2 if tag in PARAGRAPH else 1 if tag in LINE else 0
        self.pending_break = max(self.pending_break, level)

    def _emit(self, text: str) -> None:
        if self.pending_break and self.parts:
            self.parts.append("\n" * self.pending_break)
        self.pending_break = 0
        self.parts.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED:
            self.skip_depth += 1
        elif self.skip_depth:
            return
        elif tag == "br":
            self._emit("\n")
        elif tag in CELLS and self.parts and not self.pending_break:
            self.parts.append(" ")
        elif tag == "img":
            alt = (dict(attrs).get("alt") or "").strip()
            if EMOTICON_ALT.match(alt):
                self._emit(alt)
        else:
            self._block(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SKIPPED:  # a self-closed <script/> must not open a skipped region
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif not self.skip_depth:
            self._block(tag)

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        data = data.replace("\n", " ")
        if data.strip():
            self._emit(data)
        elif self.parts:
            self.parts.append(data)


def html_to_text(markup: str | None) -> str:
    """Plain text of an HTML fragment: block elements become line breaks, entities are unescaped."""
    if not markup:
        return ""
    if "<" not in markup and "&" not in markup:
        return normalise_whitespace(markup)
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return normalise_whitespace("".join(parser.parts))


def normalise_whitespace(text: str) -> str:
    """Collapse runs of spaces, strip each line, keep at most one blank line between paragraphs."""
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
