"""The one place where source kinds are registered: `kind` string → collector class."""

from __future__ import annotations

from typing import Any

from collectors.base import Collector, ConfigError
from collectors.jsonapi import JsonApiCollector
from collectors.jsonfeed import JsonFeedCollector
from collectors.mastodon import MastodonCollector
from collectors.rss import RssCollector

COLLECTORS: tuple[type[Collector[Any]], ...] = (
    RssCollector,
    JsonFeedCollector,
    MastodonCollector,
    JsonApiCollector,
)
KINDS: tuple[str, ...] = tuple(collector.kind for collector in COLLECTORS)
_BY_KIND: dict[str, type[Collector[Any]]] = {collector.kind: collector for collector in COLLECTORS}


def get_collector(kind: str) -> Collector[Any]:
    """A collector for `kind`; raises ConfigError naming the known kinds for an unknown one."""
    try:
        return _BY_KIND[kind]()
    except KeyError:
        raise ConfigError(f"unknown source kind {kind!r}; known kinds: {', '.join(KINDS)}") from None
