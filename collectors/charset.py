"""Decode response bodies to text, getting Chinese right.

Order: a byte-order mark; a declared charset (HTTP header, XML declaration, HTML meta), with the GB
family mapped to its superset gb18030; strict UTF-8; UTF-8 that is only damaged at the end (a truncated
download) or in a few places; gb18030 when the byte pairs look like GB2312 text; finally detection
with charset-normalizer (which confuses short Chinese texts with Big5, CP949 or Shift_JIS on its own).
"""

from __future__ import annotations

import codecs
import logging
import re

from charset_normalizer import from_bytes

from collectors.errors import EncodingError

log = logging.getLogger(__name__)

SNIFF_BYTES = 4096
GB_FAMILY = frozenset({"gb2312", "gbk", "gb18030", "cp936", "hz", "euc_cn", "iso2022_cn"})
# WHATWG labels for GBK that Python's codec registry does not know.
GBK_LABELS = frozenset(
    {"x-gbk", "gb_2312", "csgb2312", "csiso58gb231280", "iso-ir-58", "x-euc-cn", "x-cp936"}
)
# Above this share of GB2312-row byte pairs an undeclared body is taken as GBK/GB18030.
GB2312_SHARE = 0.9
# Servers often declare a Western single-byte charset by default while sending UTF-8.
WESTERN_DEFAULTS = frozenset({"ascii", "latin_1", "iso8859_1", "cp1252"})
BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?([\w.:+-]+)""", re.IGNORECASE)
_XML_DECL = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([\w.:+-]+)["']""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:+-]+)""", re.IGNORECASE)


def normalise_charset(name: str | None) -> str | None:
    """The Python codec name for a declared charset (gb2312/gbk → gb18030), or None if unknown."""
    if not name:
        return None
    label = name.strip().strip("\"'").lower()
    if label in GBK_LABELS:
        return "gb18030"
    try:
        codec = codecs.lookup(label).name
    except LookupError:
        return None
    codec = codec.replace("-", "_")
    if codec in GB_FAMILY:
        return "gb18030"
    return "utf-8" if codec == "utf_8" else codec


def declared_charsets(body: bytes, content_type: str | None) -> list[str]:
    """Charsets declared by the Content-Type header, the XML declaration and HTML meta, in that order."""
    found: list[str | None] = []
    if content_type:
        match = _HEADER_CHARSET.search(content_type)
        found.append(normalise_charset(match.group(1)) if match else None)
    head = body[:SNIFF_BYTES]
    for pattern in (_XML_DECL, _META_CHARSET):
        sniffed = pattern.search(head)
        found.append(normalise_charset(sniffed.group(1).decode("ascii", "replace")) if sniffed else None)
    result: list[str] = []
    for name in found:
        if name and name not in result:
            result.append(name)
    return result


def decode_body(body: bytes, content_type: str | None = None) -> str:
    """Decode an HTTP body to str; see the module docstring for the order of evidence.

    Raises:
        EncodingError: only when even a lenient decode is impossible (practically never).
    """
    for bom, codec in BOMS:
        if body.startswith(bom):
            return body.decode(codec, "replace")
    declared = declared_charsets(body, content_type)
    for codec in declared:
        text = _strict(body, codec)
        if text is None:
            continue
        if codec in WESTERN_DEFAULTS and not body.isascii():
            return _strict(body, "utf-8") or text
        return text
    text = _strict(body, "utf-8")
    if text is not None:
        return text
    if _mostly_utf8(body):
        return body.decode("utf-8", "replace")
    detected = detect_charset(body)
    if detected:
        return body.decode(detected, "replace")
    fallback = declared[0] if declared else "utf-8"
    try:
        return body.decode(fallback, "replace")
    except LookupError as exc:  # pragma: no cover - normalise_charset only returns known codecs
        raise EncodingError(f"cannot decode the response body as {fallback}") from exc


def _strict(body: bytes, codec: str) -> str | None:
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _mostly_utf8(body: bytes) -> bool:
    """True when UTF-8 fails only on a truncated tail or on a few stray bytes among many good ones."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(body) - 3 and exc.reason == "unexpected end of data":
            return True
    text = body.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    non_ascii = sum(1 for ch in text if ord(ch) > 127) - bad
    return non_ascii >= 20 and bad * 50 <= non_ascii


def gb2312_share(body: bytes) -> float:
    """Share of double-byte pairs that fall in the GB2312 rows (lead and trail 0xA1-0xFE).

    Simplified Chinese in GBK scores near 1.0; Big5 (trail bytes often 0x40-0x7E) and Shift_JIS (lead
    bytes 0x81-0x9F) score far lower, which tells them apart better than detection on short texts.
    """
    pairs = in_rows = 0
    index, end = 0, len(body) - 1
    while index < end:
        lead = body[index]
        if lead < 0x80:
            index += 1
            continue
        trail = body[index + 1]
        pairs += 1
        in_rows += 0xA1 <= lead <= 0xF7 and 0xA1 <= trail <= 0xFE
        index += 2
    return in_rows / pairs if pairs else 0.0


def detect_charset(body: bytes) -> str | None:
    """Guess the charset of an undeclared, non-UTF-8 body, favouring gb18030 for Chinese."""
    if gb2312_share(body) >= GB2312_SHARE and _strict(body, "gb18030") is not None:
        return "gb18030"
    best = from_bytes(body[: 64 * 1024]).best()
    codec = normalise_charset(best.encoding) if best else None
    log.debug("detected charset %s", codec)
    if codec is None and _strict(body, "gb18030") is not None:
        return "gb18030"
    return codec
