"""Chinese word segmentation with jieba, plus the terms every monitoring rule needs kept whole.

``Tokenizer.tokens`` expects normalised text (``normalize(raw).text``) and works like this:

1. The text is lower-cased (English words come out lower case).
2. Protected spans are cut out first, leftmost and then longest winning: user terms added with
   ``add_terms`` (folded the same way as texts: width, 繁→简, lower case), Weibo emoticons like
   ``[怒]`` and ``@mentions``. Each becomes exactly one token, so ``蔚来ES8`` or ``小米SU7`` are
   never cut apart, even next to words jieba would rather join with them. User terms are also
   added to the jieba dictionary so segmentation around them is sensible.
3. The gaps are segmented by a private ``jieba.Tokenizer`` (with HMM for unknown words);
   whitespace tokens are dropped.

Every ``Tokenizer`` gets its own jieba instance; the base dictionary is loaded once per process
(from jieba's cache file in the system temp directory, ~0.7 s) and copied (~15 ms) per instance.
jieba's logger is raised to WARNING so nothing is printed. ``add_terms`` is not thread-safe;
``tokens`` is safe to call from several threads once the terms are in place.
"""

from __future__ import annotations

import logging
import re
import tempfile
import threading
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import jieba
import stopwordsiso

from analysis.literals import LiteralIndex, select_spans
from analysis.normalize import EMOTICON_RE, MENTION_RE
from analysis.textfold import fold_chars, to_simplified

__all__ = ["Tokenizer", "default_tokenizer", "load_stopwords", "is_content_term", "content_terms"]

logging.getLogger("jieba").setLevel(logging.WARNING)

STOPWORDS_PATH = Path(__file__).parent / "data" / "stopwords.txt"
_PROTECTED_RE = re.compile(f"{EMOTICON_RE.pattern}|{MENTION_RE.pattern}")
_NUMBER_RE = re.compile(r"[+\-]?[0-9][0-9.,:/%]*")
_base_lock = threading.Lock()
_base_dictionary: tuple[dict[str, int], int] | None = None


def _jieba_base() -> tuple[dict[str, int], int]:
    global _base_dictionary
    with _base_lock:
        if _base_dictionary is None:
            loader = jieba.Tokenizer()
            loader.tmp_dir = tempfile.gettempdir()
            loader.initialize()
            _base_dictionary = (loader.FREQ, loader.total)
        return _base_dictionary


def _new_jieba() -> jieba.Tokenizer:
    freq, total = _jieba_base()
    instance = jieba.Tokenizer()
    instance.FREQ = dict(freq)
    instance.total = total
    instance.initialized = True
    return instance


def fold_term(term: str) -> str:
    """Fold a user term the way texts are folded for tokenisation (width, 繁→简, lower, spaces)."""
    return " ".join(to_simplified(fold_chars(term)).lower().split())


class Tokenizer:
    """jieba segmentation with protected user terms, emoticons and mentions."""

    def __init__(self, terms: Iterable[str] = ()) -> None:
        self._jieba = _new_jieba()
        self._terms = LiteralIndex()
        self.add_terms(terms)

    def add_terms(self, terms: Iterable[str]) -> None:
        """Add monitored terms (brand names, 主体词…) that must always come out as one token."""
        for term in terms:
            folded = fold_term(term)
            if not folded or folded in self._terms:
                continue
            self._terms.add(folded)
            if " " not in folded:
                self._jieba.add_word(folded)

    @property
    def terms(self) -> frozenset[str]:
        """The folded user terms."""
        return frozenset(self._terms)

    def tokens(self, text: str) -> list[str]:
        """Segment normalised text into tokens; whitespace dropped, emoticons and user terms whole."""
        lowered = text.lower()
        hits = [match.span() for match in _PROTECTED_RE.finditer(lowered)]
        if len(self._terms):
            hits.extend(self._terms.spans(lowered))
        result: list[str] = []
        position = 0
        for start, end in select_spans(hits):
            self._cut_into(lowered[position:start], result)
            result.append(lowered[start:end])
            position = end
        self._cut_into(lowered[position:], result)
        return result

    def _cut_into(self, segment: str, result: list[str]) -> None:
        if segment and not segment.isspace():
            result.extend(word for word in self._jieba.cut(segment) if not word.isspace())

    def content_terms(self, tokens: Iterable[str]) -> list[str]:
        """Drop stop words, punctuation, mentions, single non-Chinese characters and numbers."""
        return content_terms(tokens)


@lru_cache(maxsize=1)
def load_stopwords() -> frozenset[str]:
    """Return the stop words, lower case: the maintained stopwords-iso Chinese list (package
    ``stopwordsiso``) plus the social-media and English additions in ``analysis/data/stopwords.txt``."""
    words = {word.lower() for word in stopwordsiso.stopwords("zh")}
    for line in STOPWORDS_PATH.read_text(encoding="utf-8").splitlines():
        word = line.strip().lower()
        if word and not word.startswith("#"):
            words.add(word)
    return frozenset(words)


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


def is_content_term(token: str, stopwords: frozenset[str] | None = None) -> bool:
    """Whether a token carries content (used for keywords, burst terms and simhash)."""
    if stopwords is None:
        return _is_content_default(token)
    return _check_content(token, stopwords)


@lru_cache(maxsize=131_072)
def _is_content_default(token: str) -> bool:
    return _check_content(token, load_stopwords())


def _check_content(token: str, words: frozenset[str]) -> bool:
    if not token or token in words or token[0] == "@":
        return False
    if not any(char.isalnum() for char in token):
        return False
    if len(token) == 1 and not _is_cjk(token):
        return False
    if _NUMBER_RE.fullmatch(token):
        return False
    return not (len(token) > 1 and token[0] in words and token == token[0] * len(token))


def content_terms(tokens: Iterable[str]) -> list[str]:
    """Keep the content-bearing tokens, in order (see ``is_content_term``)."""
    return [token for token in tokens if _is_content_default(token)]


_default: Tokenizer | None = None
_default_lock = threading.Lock()


def default_tokenizer() -> Tokenizer:
    """Return the process-wide tokenizer without user terms (created on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Tokenizer()
        return _default
