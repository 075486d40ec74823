"""Big feeds: cut an RSS/Atom document to its newest `max_items` entries before feedparser sees it.

feedparser needs about a millisecond or more per entry, so a 50,000-item feed would be abandoned at
the collection budget on every run and never be collected at all. Entries are found with a cheap
scan for `<item>…</item>` / `<entry>…</entry>` (namespace prefixes allowed), each dated from its
first `pubDate`, `published`, `updated` or `dc:date`; the newest `max_items` (undated ones count as
oldest; ties keep document order) are kept in document order with everything before the first
entry and after the last (channel title, namespaces) as it was. The caller records a warning
naming what was dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from collectors.values import parse_time

_ENTRY = re.compile(
    r"<(?P<tag>(?:[A-Za-z_][\w.-]*:)?(?:item|entry))(?=[\s>/])[^>]*>.*?</(?P=tag)\s*>", re.DOTALL
)
_DATE = re.compile(
    r"<(?P<tag>(?:[A-Za-z_][\w.-]*:)?(?:pubDate|published|updated|date))(?=[\s>])[^>]*>\s*"
    r"(?:<!\[CDATA\[)?(?P<value>[^<\]]{4,64}?)(?:\]\]>)?\s*</(?P=tag)\s*>"
)
_OPEN = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]")
_OLDEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Cut:
    """A feed document cut to its newest entries."""

    document: str
    total: int  # entries found in the original document
    kept: int
    oldest_kept: datetime | None


def newest_entries(document: str, max_items: int) -> Cut | None:
    """The document with only its newest `max_items` entries; None when it has no more than that."""
    if len(_OPEN.findall(document, 0, len(document))) <= max_items:  # cheap: most feeds stop here
        return None
    spans: list[tuple[int, int, datetime]] = []
    for match in _ENTRY.finditer(document):
        found = _DATE.search(match.group(0))
        moment = parse_time(found.group("value").strip()) if found else None
        spans.append((match.start(), match.end(), moment or _OLDEST))
    if len(spans) <= max_items:
        return None
    ranked = sorted(range(len(spans)), key=lambda i: (spans[i][2], -i), reverse=True)
    keep = sorted(ranked[:max_items])
    parts = [document[: spans[0][0]]]
    parts += [document[spans[i][0] : spans[i][1]] for i in keep]
    parts.append(document[spans[-1][1] :])
    oldest = min(spans[i][2] for i in keep)
    return Cut(
        document="\n".join(parts),
        total=len(spans),
        kept=len(keep),
        oldest_kept=oldest if oldest != _OLDEST else None,
    )
