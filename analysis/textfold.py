"""Character-level folding shared by normalisation, tokenisation and rule matching.

Three folds, each a pure function of a string that never raises:

- ``fold_chars``: width folding (full-width ASCII letters, digits and symbols to half-width,
  ideographic space to a space), invisible characters (zero-width, bidi marks, soft hyphen,
  C0/C1 controls) removed, lone surrogates replaced by U+FFFD. The Chinese sentence punctuation
  ``！（），：；？`` stays full-width: it is what Chinese text normally uses, jieba splits it off
  either way, and downstream readers (sentiment, sentence splitting) can keep relying on it.
  The mapping is one character to at most one character.
- ``to_simplified``: traditional to simplified Chinese with OpenCC's ``t2s`` dictionaries.
- ``fold_for_match``: what rule matching compares: the two folds above, lower case, no whitespace.

Speed: ``opencc.OpenCC('t2s').convert`` is pure Python and costs ~100 µs for a 50-character post
and ~2 ms for 1,000 characters. Its ``t2s`` chain is "longest phrase from TSPhrases (277 entries),
else the character from TSCharacters". We load the same two files once: a text in which no phrase
occurs is converted with one ``str.translate`` over the character table (about 1-3 µs per post),
which gives exactly OpenCC's output; the rare text containing a phrase key is handed to OpenCC
itself. If the dictionary files cannot be read we fall back to OpenCC for every text.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

_KEEP_FULL_WIDTH = "！（），：；？"

_DELETE = [*range(0x00, 0x09), *range(0x0E, 0x20), *range(0x7F, 0xA0)] + [
    0x00AD,
    0x180E,
    *range(0x200B, 0x2010),
    *range(0x202A, 0x202F),
    *range(0x2060, 0x2070),
    0xFEFF,
]


def _build_char_table() -> dict[int, int | None]:
    table: dict[int, int | None] = {}
    for code in range(0xFF01, 0xFF5F):
        if chr(code) not in _KEEP_FULL_WIDTH:
            table[code] = code - 0xFEE0
    for code in (0x0B, 0x0C, 0x3000):
        table[code] = 0x20
    table[0x0D] = 0x0A
    for code in _DELETE:
        table[code] = None
    for code in range(0xD800, 0xE000):
        table[code] = 0xFFFD
    return table


_CHAR_TABLE = _build_char_table()
_WHITESPACE_RE = re.compile(r"\s+")


def fold_chars(text: str) -> str:
    """Fold full-width ASCII to half-width, drop invisible characters, replace lone surrogates."""
    return text.translate(_CHAR_TABLE)


class _Simplifier:
    """Traditional → simplified conversion with OpenCC's t2s data, loaded lazily once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded = False
        self._table: dict[int, str] = {}
        self._phrase_re: re.Pattern[str] | None = None
        self._opencc: Any = None

    def _load(self) -> None:
        with self._lock:
            if self._loaded:
                return
            try:
                import opencc

                folder = Path(opencc.__file__).parent / "dictionary"
                chars = _read_pairs(folder / "TSCharacters.txt")
                phrases = _read_pairs(folder / "TSPhrases.txt")
                self._table = {ord(key): value for key, value in chars.items() if len(key) == 1}
                keys = sorted(phrases, key=len, reverse=True)
                self._phrase_re = re.compile("|".join(re.escape(key) for key in keys)) if keys else None
                if len(self._table) != len(chars):
                    raise ValueError("unexpected multi-character key in TSCharacters")
            except (OSError, ValueError, ImportError):
                self._table = {}
                self._phrase_re = re.compile(r"(?s).")  # route everything through OpenCC
            self._loaded = True

    def convert(self, text: str) -> str:
        if not self._loaded:
            self._load()
        if text.isascii():
            return text
        if self._phrase_re is not None and self._phrase_re.search(text):
            return self._convert_with_opencc(text)
        return text.translate(self._table)

    def _convert_with_opencc(self, text: str) -> str:
        if self._opencc is None:
            from opencc import OpenCC

            self._opencc = OpenCC("t2s")
        try:
            return str(self._opencc.convert(text))
        except Exception:  # third-party converter: fall back to the character table
            return text.translate(self._table)


def _read_pairs(path: Path) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("\t")
        if key and value:
            pairs[key] = value.split(" ")[0]
    return pairs


_SIMPLIFIER = _Simplifier()


def to_simplified(text: str) -> str:
    """Convert traditional Chinese to simplified (OpenCC t2s semantics); other text is unchanged."""
    return _SIMPLIFIER.convert(text)


def fold_for_match(text: str) -> str:
    """Fold text for substring matching: width fold, simplified, lower case, whitespace removed."""
    folded = to_simplified(fold_chars(text)).lower()
    return _WHITESPACE_RE.sub("", folded)
