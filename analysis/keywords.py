"""Keywords per post and per topic window, and terms that burst against their own baseline.

- Keyword candidates are content terms (no stop words, punctuation, numbers or mentions) of two
  characters or more; emoticons are not keywords.
- ``top_terms``: TF × IDF over a post's keyword candidates. Without an IDF function the IDF table shipped
  with jieba (``jieba/analyse/idf.txt``, loaded lazily once) is used; unknown terms get its median,
  as jieba's own TF-IDF does. Emoticons are not keywords (they stay in ``content_terms`` for
  burst detection).
- ``DocumentFrequencies`` learns document frequencies from stored posts; ``window_keywords``
  scores the terms of a topic's time window by (documents in the window containing the term) ×
  IDF, so one post repeating a word fifty times cannot dominate.
- ``BurstTermDetector`` lives in ``analysis.burst_terms`` and is re-exported here.
"""

from __future__ import annotations

import math
import statistics
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import jieba

from analysis.burst_terms import BurstTerm, BurstTermDetector
from analysis.tokenize import is_content_term

__all__ = [
    "BurstTerm",
    "BurstTermDetector",
    "DocumentFrequencies",
    "IdfTable",
    "builtin_idf",
    "is_keyword_candidate",
    "top_terms",
    "window_keywords",
]

IdfFunction = Callable[[str], float]


class IdfTable:
    """A fixed term → IDF table; unknown terms get ``default`` (the median when not given)."""

    def __init__(self, values: Mapping[str, float], default: float | None = None) -> None:
        self._values = dict(values)
        self.default = (
            default if default is not None else (statistics.median(values.values()) if values else 1.0)
        )

    def idf(self, term: str) -> float:
        """Return the IDF of ``term``."""
        return self._values.get(term, self.default)

    def __len__(self) -> int:
        return len(self._values)


_builtin: IdfTable | None = None
_builtin_lock = threading.Lock()


def builtin_idf() -> IdfTable:
    """Return jieba's shipped IDF table, loaded on first use."""
    global _builtin
    with _builtin_lock:
        if _builtin is None:
            path = Path(jieba.__file__).parent / "analyse" / "idf.txt"
            values: dict[str, float] = {}
            for line in path.read_text(encoding="utf-8").splitlines():
                word, _, value = line.rpartition(" ")
                if word:
                    values[word] = float(value)
            _builtin = IdfTable(values)
        return _builtin


MIN_KEYWORD_CHARS = 2  # a single character (话, 出, 卖) says nothing on its own to an analyst


def is_keyword_candidate(token: str) -> bool:
    """Whether a token may be shown as a keyword: a content term of two characters or more, no emoticon."""
    return len(token) >= MIN_KEYWORD_CHARS and token[:1] != "[" and is_content_term(token)


def _keyword_candidates(tokens: Iterable[str]) -> list[str]:
    return [token for token in tokens if is_keyword_candidate(token)]


def top_terms(tokens: Iterable[str], k: int = 5, idf: IdfFunction | None = None) -> list[str]:
    """Return up to ``k`` keywords of one post by TF × IDF; ties keep first-occurrence order."""
    candidates = _keyword_candidates(tokens)
    if not candidates or k <= 0:
        return []
    weigh = idf if idf is not None else builtin_idf().idf
    counts = Counter(candidates)
    first_seen = {term: index for index, term in reversed(list(enumerate(candidates)))}
    ranked = sorted(counts, key=lambda term: (-counts[term] * weigh(term), first_seen[term]))
    return ranked[:k]


class DocumentFrequencies:
    """Document frequencies learned from stored posts, for IDF per topic and time window."""

    def __init__(self) -> None:
        self.documents = 0
        self._counts: dict[str, int] = {}

    def add(self, terms: Iterable[str]) -> None:
        """Count one document given its (content) terms; repeats within it count once."""
        self.documents += 1
        for term in set(terms):
            self._counts[term] = self._counts.get(term, 0) + 1

    def merge(self, other: DocumentFrequencies) -> None:
        """Add another table's documents and counts to this one."""
        self.documents += other.documents
        for term, count in other._counts.items():
            self._counts[term] = self._counts.get(term, 0) + count

    def count(self, term: str) -> int:
        """Return how many documents contained ``term``."""
        return self._counts.get(term, 0)

    def idf(self, term: str) -> float:
        """Return the smoothed IDF ``ln((1 + N) / (1 + df)) + 1`` (unseen terms score highest)."""
        return math.log((1 + self.documents) / (1 + self._counts.get(term, 0))) + 1.0

    def prune(self, min_count: int) -> int:
        """Forget terms seen in fewer than ``min_count`` documents; return how many were dropped."""
        rare = [term for term, count in self._counts.items() if count < min_count]
        for term in rare:
            del self._counts[term]
        return len(rare)

    def __len__(self) -> int:
        return len(self._counts)

    def to_dict(self) -> dict[str, Any]:
        """Serialise to a JSON-ready dict."""
        return {"documents": self.documents, "counts": dict(self._counts)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DocumentFrequencies:
        """Rebuild from ``to_dict`` output; raises ``ValueError`` on a malformed dict."""
        documents = data.get("documents")
        counts = data.get("counts")
        if not isinstance(documents, int) or documents < 0 or not isinstance(counts, Mapping):
            raise ValueError("expected {'documents': int >= 0, 'counts': {term: int}}")
        table = cls()
        table.documents = documents
        for term, count in counts.items():
            if not isinstance(term, str) or not isinstance(count, int) or count < 0:
                raise ValueError(f"bad document count for {term!r}")
            if count:
                table._counts[term] = count
        return table


def window_keywords(
    docs_terms: list[list[str]], df: DocumentFrequencies, k: int = 20
) -> list[tuple[str, float]]:
    """Score a window's terms by (window documents containing the term) × IDF; best ``k`` first."""
    in_window: Counter[str] = Counter()
    for terms in docs_terms:
        in_window.update(set(_keyword_candidates(terms)))
    scored = [(term, documents * df.idf(term)) for term, documents in in_window.items()]
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored[: max(k, 0)]
