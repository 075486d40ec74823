"""The shipped sentiment model: hashed TF-IDF linear scores plus the snownlp naive-Bayes voice.

Scoring a batch (numpy only): canonical text → character 1–3-grams, word unigrams and bigrams
hashed into ``n_buckets`` → sublinear TF × IDF, L2-normalised → ``x·W + b``; plus ``alpha`` ×
the snownlp Bayes log scores of the words divided by their number (a per-token, length-tempered
naive-Bayes vote); plus per-class decision offsets; divided by a temperature (calibration only: it
never changes the label) — all three chosen by grouped cross-validation on the training corpora,
never on dev (``crossval.py``); then a softmax over
negative/neutral/positive. ``score = P(positive) + ½·P(neutral)``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from analysis.sentiment.bayes import BayesTable
from analysis.sentiment.canon import Canonicaliser, segment
from analysis.sentiment.features import extract, sum_by_doc
from analysis.sentiment.view import SentimentView

__all__ = ["CLASSES", "DEFAULT_MODEL_DIR", "MODEL_FILE", "Sentiment", "SentimentModel", "model_file"]

CLASSES: tuple[str, str, str] = ("negative", "neutral", "positive")
DEFAULT_MODEL_DIR = Path(__file__).parent / "model"
MODEL_FILE = "sentiment.npz"
FORMAT_VERSION = 1
BATCH = 1024
_cache: dict[Path, SentimentModel] = {}
_cache_lock = threading.Lock()

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Sentiment:
    """One prediction: label, polarity score in [0, 1] (0.5 neutral) and class probabilities."""

    label: str
    score: float
    probabilities: dict[str, float]


def model_file(path: Path | str) -> Path:
    """The model file of a directory or ``.npz`` path, checked without loading its weights.

    Raises ValueError naming the path when it is missing or not a model of this format.
    """
    resolved = Path(path)
    file = resolved / MODEL_FILE if resolved.is_dir() else resolved
    if not file.is_file():
        raise ValueError(f"{file}: no sentiment model there (a folder with {MODEL_FILE}, or the file)")
    try:
        with np.load(file, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{file}: not a sentiment model written by yuqing train-sentiment ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ValueError(f"{file}: unsupported sentiment model format {found!r} (expected {FORMAT_VERSION})")
    return file


class SentimentModel:
    """A loaded sentiment model; cheap to share between threads (read-only arrays)."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.meta = meta
        self._weights = arrays["weights"]
        self._idf = arrays["idf"].astype(np.float32)
        self._intercept = arrays["intercept"].astype(np.float32)
        self._offsets = np.asarray(meta["offsets"], dtype=np.float32)
        self._alpha = float(meta["alpha"])
        self._temperature = float(meta.get("temperature", 1.0))
        self._bayes = BayesTable(arrays["bayes_log_prior"], arrays["bayes_log_freq"])
        self._active = np.asarray(meta["active"], dtype=bool)
        self._canon = Canonicaliser(dict(arrays["char_table"].tolist()))
        self._char_sizes = (int(meta["char_ngrams"][0]), int(meta["char_ngrams"][1]))
        self._bigrams = bool(meta["word_bigrams"])
        self._n_buckets = int(meta["n_buckets"])
        self.view = SentimentView(meta.get("view", SentimentView.FULL))

    @classmethod
    def load(cls, path: Path | str | None = None) -> SentimentModel:
        """Load a model directory (or ``.npz`` file); default is the shipped model. Cached per path."""
        resolved = Path(path) if path is not None else DEFAULT_MODEL_DIR
        file = resolved / MODEL_FILE if resolved.is_dir() else resolved
        key = file.resolve()
        with _cache_lock:
            if key not in _cache:
                _cache[key] = cls._read(key)
            return _cache[key]

    @classmethod
    def _read(cls, file: Path) -> SentimentModel:
        with np.load(file, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        meta = json.loads(str(arrays.pop("meta")))
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError(f"{file}: unsupported sentiment model format {meta.get('format')!r}")
        return cls(arrays, meta)

    def predict(self, text: str, tokens: Sequence[str] | None = None) -> Sentiment:
        """Classify one text; ``tokens`` (e.g. from the project tokenizer) skip segmentation."""
        return self.predict_many([text], None if tokens is None else [tokens])[0]

    def predict_many(
        self, texts: Sequence[str], tokens_list: Sequence[Sequence[str]] | None = None
    ) -> list[Sentiment]:
        """Classify a batch of texts, vectorised in chunks of ``BATCH`` texts."""
        probabilities = self.probabilities(texts, tokens_list).astype(np.float64)
        labels = probabilities.argmax(axis=1).tolist()
        scores = (probabilities[:, 2] + 0.5 * probabilities[:, 1]).tolist()
        return [
            Sentiment(CLASSES[label], score, {"negative": row[0], "neutral": row[1], "positive": row[2]})
            for label, score, row in zip(labels, scores, probabilities.tolist(), strict=True)
        ]

    def probabilities(self, texts: Sequence[str], tokens_list: Sequence[Sequence[str]] | None = None) -> F32:
        """Return class probabilities, shape (len(texts), 3), columns in ``CLASSES`` order."""
        if tokens_list is not None and len(tokens_list) != len(texts):
            raise ValueError("texts and tokens_list must have the same length")
        if len(texts) > BATCH:
            return np.concatenate(
                [
                    self.probabilities(
                        texts[start : start + BATCH],
                        None if tokens_list is None else tokens_list[start : start + BATCH],
                    )
                    for start in range(0, len(texts), BATCH)
                ]
            )
        logits = (self.logits(*self.prepare(texts, tokens_list)) + self._offsets) / self._temperature
        logits[:, ~self._active] = -np.inf
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)

    def prepare(
        self, texts: Sequence[str], tokens_list: Sequence[Sequence[str]] | None
    ) -> tuple[list[str], Sequence[Sequence[str]]]:
        """Canonicalise texts; segment them with jieba where no tokens are given (tokens fold later)."""
        canonical = self._canon.texts(texts)
        if tokens_list is None:
            return canonical, [segment(text) for text in canonical]
        return canonical, tokens_list

    def logits(
        self, canonical: list[str], tokens: Sequence[Sequence[str]], *, alpha: float | None = None
    ) -> F32:
        """Return unnormalised class scores (before the tuned offsets) for prepared inputs."""
        n_docs = len(canonical)
        docs, buckets, counts, words = extract(
            canonical,
            tokens,
            char_sizes=self._char_sizes,
            bigrams=self._bigrams,
            n_buckets=self._n_buckets,
            fold=self._canon.fold,
        )
        values = (1.0 + np.log(counts, dtype=np.float32)) * self._idf[buckets]
        norms = np.sqrt(np.bincount(docs, weights=values * values, minlength=n_docs))
        values = values / np.maximum(norms, 1e-12)[docs]
        rows = self._weights[buckets].astype(np.float32) * values[:, None].astype(np.float32)
        out = sum_by_doc(docs, rows, n_docs)
        weight = self._alpha if alpha is None else alpha
        if weight:
            lengths = np.maximum(np.bincount(words.docs, minlength=n_docs), 1).astype(np.float32)
            out += weight * self._bayes.scores(words, n_docs) / lengths[:, None]
        return out + self._intercept
