"""Stable, vectorised feature hashing: character n-grams, word unigrams/bigrams, numpy only.

Every feature is a 64-bit polynomial hash of its code points (wrapping ``uint64`` arithmetic),
salted by its kind and finished with the splitmix64 mixer, so the buckets are identical across
processes, platforms and Python versions (unlike the salted built-in ``hash``). A batch of
documents is hashed in a handful of numpy calls: the texts are joined into one code-point
array and every n-gram or token is a slice of its prefix-hash array.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import numpy.typing as npt

__all__ = [
    "Hashed",
    "extract",
    "hash_char_ngrams",
    "hash_tokens",
    "sum_by_doc",
    "term_frequencies",
    "word_bigrams",
]

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

_BASE = np.uint64(0x9E3779B97F4A7C15)
_BASE_INVERSE = np.uint64(pow(0x9E3779B97F4A7C15, -1, 1 << 64))
_SALT_CHAR = 0x51ED270B27A4C6F1
_SALT_WORD = np.uint64(0x2545F4914F6CDD1D)
_SALT_BIGRAM = np.uint64(0x6A09E667F3BCC909)
_BIGRAM_MULT = np.uint64(0xD6E8FEB86659FD93)
_BLANK_POINTS = [0, 9, 10, 11, 12, 13, 32, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200C), 0x2028, 0x2029, 0x202F]
_VISIBLE = np.ones(0x10000, dtype=bool)
_VISIBLE[[*_BLANK_POINTS, 0x205F, 0x3000, 0xFEFF]] = False


@dataclass(frozen=True)
class Hashed:
    """Feature hashes with the document each came from (both in document order)."""

    docs: I64
    hashes: U64


def _mix(values: U64) -> U64:
    """Apply the splitmix64 finaliser elementwise."""
    values = values ^ (values >> np.uint64(30))
    values = values * np.uint64(0xBF58476D1CE4E5B9)
    values = values ^ (values >> np.uint64(27))
    values = values * np.uint64(0x94D049BB133111EB)
    return values ^ (values >> np.uint64(31))


def _identity(text: str) -> str:
    return text


def _code_points(text: str) -> U64:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)


class _Prefix:
    """Prefix hashes of a code-point array, so any span hashes in O(1) (all arithmetic mod 2**64)."""

    powers = np.ones(1, dtype=np.uint64)
    inverses = np.ones(1, dtype=np.uint64)

    def __init__(self, points: U64) -> None:
        count = len(points)
        self._grow(count + 1)
        self.prefix = np.zeros(count + 1, dtype=np.uint64)
        np.cumsum(points * _Prefix.powers[:count], dtype=np.uint64, out=self.prefix[1:])

    @classmethod
    def _grow(cls, size: int) -> None:
        """Extend the shared tables of BASE**i and BASE**-i to at least ``size`` entries."""
        if len(cls.powers) >= size:
            return
        size = max(size, 2 * len(cls.powers), 4096)
        powers = np.full(size, _BASE, dtype=np.uint64)
        powers[0] = 1
        inverses = np.full(size, _BASE_INVERSE, dtype=np.uint64)
        inverses[0] = 1
        cls.inverses = np.cumprod(inverses, dtype=np.uint64)
        cls.powers = np.cumprod(powers, dtype=np.uint64)  # last: readers check its length (thread safety)

    def spans(self, starts: I64, lengths: I64 | int) -> U64:
        """Return the hash of ``points[start:start+length]`` for every start."""
        return (self.prefix[starts + lengths] - self.prefix[starts]) * _Prefix.inverses[starts]


def hash_char_ngrams(texts: list[str], sizes: tuple[int, int]) -> Hashed:
    """Hash the character n-grams (n in ``sizes`` inclusive) of every text."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    points = _code_points("".join(texts))
    doc_of_point = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    prefix = _Prefix(points)
    docs: list[I64] = []
    hashes: list[U64] = []
    for size in range(sizes[0], sizes[1] + 1):
        starts = np.arange(max(len(points) - size + 1, 0), dtype=np.int64)
        starts = starts[doc_of_point[starts] == doc_of_point[starts + size - 1]]
        hashes.append(_mix(prefix.spans(starts, size) ^ np.uint64(_SALT_CHAR + size)))
        docs.append(doc_of_point[starts])
    return _concat(docs, hashes)


def hash_tokens(tokens_list: Sequence[Sequence[str]], fold: Callable[[str], str] = _identity) -> Hashed:
    """Hash every token of every document (word unigrams) after ``fold``; blank tokens are dropped.

    All tokens are joined with ``\\x00`` and folded in one call, then cut apart again in numpy.
    A token starting with ``@`` (a mention) hashes as the bare ``@``.
    """
    per_doc = np.fromiter(map(len, tokens_list), dtype=np.int64, count=len(tokens_list))
    total = int(per_doc.sum())
    if total == 0:
        return Hashed(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64))
    flat: Iterable[str] = chain.from_iterable(tokens_list)
    joined = fold("\x00".join(flat))
    if joined.count("\x00") != total - 1:
        joined = fold("\x00".join(token.replace("\x00", " ") for token in chain.from_iterable(tokens_list)))
    points = _code_points(joined)
    separators = np.flatnonzero(points == 0)
    starts = np.concatenate(([0], separators + 1))
    lengths = np.concatenate((separators, [len(points)])) - starts
    visible = np.append(_VISIBLE[np.minimum(points, len(_VISIBLE) - 1)], False).astype(np.int64)
    keep = np.add.reduceat(visible, starts) * (lengths > 0) > 0
    hashes = _mix(_Prefix(points).spans(starts, lengths) ^ _SALT_WORD)
    padded = np.append(points, np.uint64(0))
    hashes[padded[starts] == ord("@")] = _MENTION_HASH
    docs = np.repeat(np.arange(len(tokens_list), dtype=np.int64), per_doc)
    return Hashed(docs[keep], hashes[keep])


def word_bigrams(words: Hashed) -> Hashed:
    """Hash adjacent word pairs within each document from their unigram hashes."""
    same_doc = words.docs[1:] == words.docs[:-1]
    left = words.hashes[:-1][same_doc]
    right = words.hashes[1:][same_doc]
    return Hashed(words.docs[1:][same_doc], _mix((left * _BIGRAM_MULT + right) ^ _SALT_BIGRAM))


def _concat(docs: list[I64], hashes: list[U64]) -> Hashed:
    if not docs:
        return Hashed(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint64))
    return Hashed(np.concatenate(docs), np.concatenate(hashes))


def term_frequencies(parts: list[Hashed], n_buckets: int) -> tuple[I64, I64, I64]:
    """Count features per (document, bucket); returns sorted ``(docs, buckets, counts)``."""
    docs = np.concatenate([part.docs for part in parts])
    hashes = np.concatenate([part.hashes for part in parts])
    buckets = (hashes & np.uint64(n_buckets - 1)).astype(np.int64)
    keys, counts = np.unique(docs * n_buckets + buckets, return_counts=True)
    return keys // n_buckets, keys % n_buckets, counts.astype(np.int64)


def extract(
    texts: list[str],
    tokens_list: Sequence[Sequence[str]],
    *,
    char_sizes: tuple[int, int],
    bigrams: bool,
    n_buckets: int,
    fold: Callable[[str], str] = _identity,
) -> tuple[I64, I64, I64, Hashed]:
    """Return per-document bucket counts ``(docs, buckets, counts)`` and the word unigram hashes."""
    words = hash_tokens(tokens_list, fold)
    parts = [hash_char_ngrams(texts, char_sizes), words]
    if bigrams:
        parts.append(word_bigrams(words))
    docs, buckets, counts = term_frequencies(parts, n_buckets)
    return docs, buckets, counts, words


_MENTION_HASH = _mix(np.array([ord("@")], dtype=np.uint64) ^ _SALT_WORD)[0]


def sum_by_doc(docs: I64, rows: npt.NDArray[np.floating], n_docs: int) -> npt.NDArray[np.float32]:
    """Sum the rows (features × columns) of each document; shape (n_docs, columns)."""
    if n_docs == 1:
        return rows.sum(axis=0, keepdims=True, dtype=np.float32)
    out = np.empty((n_docs, rows.shape[1]), dtype=np.float32)
    for column in range(rows.shape[1]):
        out[:, column] = np.bincount(docs, weights=rows[:, column], minlength=n_docs)
    return out
