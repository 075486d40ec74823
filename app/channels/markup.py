"""Markup dialects and the escaping that keeps post text inert in every chat client.

Untrusted text (posts, authors, topics, keywords) is cleaned the same way for every dialect:
control and invisible characters go, whitespace collapses to one line, and every character that
starts markup or a mention (`< > [ ] ( ) * _ ` # ~ | @ & \\`) becomes its full-width twin
(`＜ ＞ ［ ］ （ ） ＊ ＿ ｀ ＃ ～ ｜ ＠ ＆ ＼`). Full-width punctuation reads naturally in Chinese and
needs no vendor-specific escape rules, so `@all`, `<@user>`, `<at user_id="all">`, `<!channel>`,
`<script>` and `[x](javascript:…)` all arrive as plain text. Links are only ever built by us from
http(s) URLs that are percent-encoded so they cannot close the link syntax.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, urlsplit

from analysis.grading import Grade
from app.channels.base import MOBILE_PATTERN

MAX_URL_CHARS = 512

_NEUTRALISE = str.maketrans(
    {
        "<": "＜",
        ">": "＞",
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "#": "＃",
        "~": "～",
        "|": "｜",
        "@": "＠",
        "&": "＆",
        "\\": "＼",
    }
)
_URL_SAFE = ":/?#!$&+,;=%-._~"


def clean_text(raw: str | None, max_chars: int = 200) -> str:
    """One line of printable text, at most `max_chars` characters (an ellipsis marks a cut)."""
    if not raw:
        return ""
    kept = []
    for char in raw:
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp") or char.isspace():
            kept.append(" ")
        elif category != "Cf":
            kept.append(char)
    text = " ".join("".join(kept).split())
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "…"


def neutralise(text: str) -> str:
    """Replace markup- and mention-starting characters with their full-width forms."""
    return text.translate(_NEUTRALISE)


def safe_url(url: str | None) -> str | None:
    """An http(s) URL percent-encoded so it cannot break out of link syntax, or None."""
    if not url:
        return None
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or len(url) > MAX_URL_CHARS:
        return None
    return quote(url, safe=_URL_SAFE)


class Markup:
    """Generic markdown (DingTalk): `**bold**`, `[label](url)`, `@mobile` mentions."""

    name = "markdown"
    line_sep = "\n"

    def text(self, raw: str | None, max_chars: int = 200) -> str:
        """Untrusted text made inert for this dialect."""
        return neutralise(clean_text(raw, max_chars))

    def bold(self, text: str) -> str:
        """Bold an already-escaped fragment."""
        return f"**{text}**"

    def link(self, label: str, url: str | None) -> str:
        """A link with an already-escaped label; the bare label when the URL is unusable."""
        target = safe_url(url)
        return f"[{label}]({target})" if target else label

    def grade(self, label: str, grade: str) -> str:
        """The grade label as shown in the message body."""
        return label

    def heading(self, text: str) -> str:
        """The title line at the top of the message body."""
        return f"### {text}"

    def mention(self, user: str) -> str | None:
        """In-text mention of a user id / mobile / @all, or None when unsupported."""
        return "@所有人" if user == "@all" else f"@{user.lstrip('+')}"


class WeComMarkup(Markup):
    """WeCom markdown: `<font color>` for the grade, `<@userid>` mentions (no @all, no mobiles)."""

    name = "wecom"
    COLORS = {
        Grade.SEVERE: "warning",
        Grade.INFLUENTIAL: "warning",
        Grade.PERSISTENT: "comment",
        Grade.GENERAL: "info",
    }

    def grade(self, label: str, grade: str) -> str:
        """Coloured grade label."""
        return f'<font color="{self.COLORS.get(Grade(grade), "info")}">{label}</font>'

    def mention(self, user: str) -> str | None:
        """`<@userid>`; mobiles and @all go in a follow-up text message instead."""
        if user == "@all" or MOBILE_PATTERN.match(user):
            return None
        return f"<@{user}>"


class LarkMarkup(Markup):
    """Feishu/Lark `lark_md`: `<at id=…></at>` mentions (open ids or all; mobiles unsupported)."""

    name = "lark_md"

    def heading(self, text: str) -> str:
        """Cards carry the title in the header; body lines start directly."""
        return self.bold(text)

    def mention(self, user: str) -> str | None:
        """`<at id=all></at>` or `<at id=ou_…></at>`."""
        if user == "@all":
            return "<at id=all></at>"
        return None if MOBILE_PATTERN.match(user) else f"<at id={user}></at>"


class SlackMarkup(Markup):
    """Slack mrkdwn: `*bold*`, `<url|label>`, `<@U…>` and `<!channel>` mentions."""

    name = "mrkdwn"

    def bold(self, text: str) -> str:
        """Slack bold."""
        return f"*{text}*"

    def link(self, label: str, url: str | None) -> str:
        """`<url|label>`; the URL is percent-encoded so `|` and `>` cannot appear in it."""
        target = safe_url(url)
        return f"<{target}|{label}>" if target else label

    def heading(self, text: str) -> str:
        """Slack has a header block; inside text a bold line."""
        return self.bold(text)

    def mention(self, user: str) -> str | None:
        """`<!channel>` for @all, `<@U…>` for member ids; mobiles unsupported."""
        if user == "@all":
            return "<!channel>"
        return None if MOBILE_PATTERN.match(user) else f"<@{user}>"


class PlainMarkup(Markup):
    """Plain text (Alertmanager annotations): no markup, links as `label: url`."""

    name = "plain"

    def bold(self, text: str) -> str:
        """No bold in plain text."""
        return text

    def link(self, label: str, url: str | None) -> str:
        """`label: url`."""
        target = safe_url(url)
        return f"{label}: {target}" if target else label

    def heading(self, text: str) -> str:
        """The title as is."""
        return text

    def mention(self, user: str) -> str | None:
        """No mentions in plain text."""
        return None


LINK_SPAN = re.compile(r"\[[^\]\n]*\]\([^)\n]*\)|<[^>\n]*>")
