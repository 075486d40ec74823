"""Light canonicalisation and segmentation applied identically at training and inference time.

Texts: NFKC, lower case, traditional→simplified by a per-character table stored in the model,
``@mentions`` reduced to ``@`` and URLs to ``http``. Tokens (given by the caller or made here
with a private jieba instance) get the same character folding when they are hashed; Weibo
emoticons such as ``[怒]`` stay one token, as the project's tokenizer keeps them.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import jieba
import numpy as np

__all__ = ["CharTable", "Canonicaliser", "segment", "opencc_char_table"]

CharTable = dict[int, int]

URL_RE = re.compile(r"https?://[!-~]+")
MENTION_RE = re.compile(r"@[\w\-]{1,30}")
EMOTICON_RE = re.compile(r"\[[^\[\]\s]{1,8}\]")
_PROTECTED_RE = re.compile(f"({EMOTICON_RE.pattern}|@)")
SEPARATOR = "\x00"


class Canonicaliser:
    """Character folding with a model's traditional→simplified table, for single strings and batches."""

    def __init__(self, table: CharTable) -> None:
        size = max(table, default=-1) + 1
        self._lookup = np.arange(size, dtype=np.uint32)
        if table:
            self._lookup[np.fromiter(table.keys(), dtype=np.int64)] = np.fromiter(
                table.values(), dtype=np.uint32
            )

    def fold(self, text: str) -> str:
        """NFKC, lower case and traditional→simplified (one numpy lookup); keeps ``\\x00`` in place."""
        folded = unicodedata.normalize("NFKC", text).lower()
        size = len(self._lookup)
        if not size:
            return folded
        points = np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        mapped = np.where(points < size, self._lookup[np.minimum(points, size - 1)], points)
        if np.array_equal(mapped, points):
            return folded
        return mapped.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")

    def text(self, text: str) -> str:
        """Canonical form of one text: folded, mentions reduced to ``@`` and URLs to ``http``."""
        return MENTION_RE.sub("@", URL_RE.sub("http", self.fold(text.replace(SEPARATOR, " "))))

    def texts(self, texts: Sequence[str]) -> list[str]:
        """Canonicalise a batch in one pass over the joined texts (same result as ``text`` each)."""
        joined = SEPARATOR.join(texts)
        if joined.count(SEPARATOR) != max(len(texts) - 1, 0):
            return [self.text(text) for text in texts]
        folded = MENTION_RE.sub("@", URL_RE.sub("http", self.fold(joined)))
        return folded.split(SEPARATOR) if texts else []


def segment(canonical: str) -> list[str]:
    """Segment a canonical text with a private jieba instance, keeping emoticons whole."""
    cut = _jieba().lcut
    tokens: list[str] = []
    for index, piece in enumerate(_PROTECTED_RE.split(canonical)):
        if index % 2:
            tokens.append(piece)
        elif piece:
            tokens.extend(word for word in cut(piece) if not word.isspace())
    return tokens


@lru_cache(maxsize=1)
def _jieba() -> jieba.Tokenizer:
    logging.getLogger("jieba").setLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def opencc_char_table() -> CharTable:
    """Read opencc's one-to-one traditional→simplified character table (used at training time)."""
    spec = importlib.util.find_spec("opencc")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "dictionary" / "TSCharacters.txt"
    table: CharTable = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        source, _, targets = line.partition("\t")
        target = targets.split(" ")[0] if targets else ""
        if len(source) == 1 and len(target) == 1 and source != target:
            table[ord(source)] = ord(target)
    return table
