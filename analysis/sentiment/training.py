"""Train a sentiment model from labelled JSONL rows (backs ``yuqing train-sentiment``).

Needs the ``train`` extra (scikit-learn, scipy); the model it writes needs only numpy.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from analysis.sentiment.bayes import train_bayes
from analysis.sentiment.canon import Canonicaliser, opencc_char_table
from analysis.sentiment.metrics import evaluate, is_usable, split_labelled
from analysis.sentiment.model import CLASSES, FORMAT_VERSION, MODEL_FILE, SentimentModel
from analysis.sentiment.report import TrainReport
from analysis.sentiment.view import SentimentView, view_inputs
from analysis.tokenize import default_tokenizer

__all__ = [
    "DEFAULTS",
    "SHARED_CORPUS_WEIGHTS",
    "SHARED_HOLDOUT",
    "TrainReport",
    "is_held_out",
    "read_jsonl",
    "train",
    "train_from_files",
]

DEFAULTS: dict[str, Any] = {
    "c": 4.0,
    "n_buckets": 2**20,
    "char_ngrams": (1, 3),
    "word_bigrams": True,
    "min_df": 2,
    "nb_lr": False,
    "bayes_buckets": 2**18,
    "alpha": 0.2,
    "alphas": (0.05, 0.1, 0.2, 0.3),
    "prune": 1e-3,
    "max_iter": 500,
    "n_jobs": 1,
    "view": "full",
    "offsets": (0.0, -0.5, 0.0),
    "temperature": 0.8,
}
# view, alpha, offsets and temperature: chosen by grouped 3-fold cross-validation on the shared
# training corpora (analysis/sentiment/crossval.py, figures in model/PROVENANCE.md), never on dev.
SHARED_CORPUS_WEIGHTS: dict[str, float] = {
    "nlpcc2013_emotion_train": 0.5,
    "clue_emotion2020": 0.5,
    "weibo2018_train": 0.5,
    "bdci2018_car_forum": 0.2,
}
SHARED_HOLDOUT: dict[str, float] = {"weibo2018_train": 0.2}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read one JSON object per non-blank line."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def is_held_out(text: str, fraction: float) -> bool:
    """Stable split: True for about ``fraction`` of texts, decided by a CRC32 of the text."""
    return zlib.crc32(text.encode("utf-8")) % 10_000 < fraction * 10_000


def train_from_files(
    input_paths: list[Path],
    dev_path: Path | None,
    output: Path,
    *,
    corpus_weights: Mapping[str, float] = SHARED_CORPUS_WEIGHTS,
    holdout: Mapping[str, float] = SHARED_HOLDOUT,
    **hyperparams: Any,
) -> TrainReport:
    """Train from JSONL files; rows get a weight and hold-out by file stem (defaults: the shared corpora).

    A file whose stem is not in ``corpus_weights`` has weight 1.0 and is used whole, so a user's own
    single file trains with no further options.
    """
    rows: list[dict[str, Any]] = []
    held_out = 0
    for path in input_paths:
        weight = corpus_weights.get(path.stem, 1.0)
        fraction = holdout.get(path.stem, 0.0)
        for row in read_jsonl(path):
            if fraction and isinstance(row.get("text"), str) and is_held_out(row["text"], fraction):
                held_out += 1
                continue
            rows.append({**row, "weight": row.get("weight", weight)})
    dev_rows = read_jsonl(dev_path) if dev_path is not None else None
    report = train(rows, dev_rows, output=output, **hyperparams)
    report.rows_held_out = held_out
    report.inputs = [str(path) for path in input_paths]
    return report


def train(
    train_rows: Iterable[Mapping[str, Any]],
    dev_rows: Iterable[Mapping[str, Any]] | None,
    *,
    output: Path,
    **hyperparams: Any,
) -> TrainReport:
    """Train, write ``output/sentiment.npz`` and, if ``dev_rows`` are given, measure them once.

    Nothing is tuned on dev: the snownlp-voice weight ``alpha``, the class ``offsets`` and the
    ``temperature`` are hyperparameters, chosen by grouped cross-validation on the training corpora
    (``analysis/sentiment/crossval.py``). Rows are ``{"text", "label"}`` (optional ``"weight"``);
    labels other than positive, neutral and negative are skipped and counted in the report.

    Raises:
        ValueError: fewer than two of positive/neutral/negative in the training rows, an empty
            dev set, or an unknown hyperparameter.
    """
    unknown = set(hyperparams) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown hyperparameters: {sorted(unknown)}")
    params = {**DEFAULTS, **hyperparams}
    started = time.monotonic()
    rows = list(train_rows)
    texts, labels, skipped = split_labelled(rows)
    weights = np.array([float(row.get("weight", 1.0)) for row in rows if is_usable(row)])
    truth = np.asarray(labels, dtype=np.int64)
    active = _active_classes(truth)
    arrays = _fit(texts, truth, weights, params)
    meta = meta_for(params, truth, active)
    model = SentimentModel(arrays, meta)
    report = TrainReport(
        rows_used=meta["trained_rows"], rows_skipped=dict(skipped), hyperparams=meta["hyperparams"]
    )
    report.alpha, report.offsets = float(params["alpha"]), list(params["offsets"])
    report.temperature = float(params["temperature"])
    if dev_rows is not None:
        report.dev = evaluate(model, list(dev_rows))
        if not report.dev["rows"]:
            raise ValueError("the dev set has no rows labelled positive/neutral/negative")
    report.seconds = time.monotonic() - started
    meta["dev_macro_f1"] = report.dev_macro_f1
    report.output = str(_write(output, arrays, meta))
    return report


def _active_classes(truth: np.ndarray) -> np.ndarray:
    """Classes present in the training labels; at least two are needed."""
    active = np.bincount(truth, minlength=3) > 0
    if active.sum() < 2:
        found = [CLASSES[index] for index in np.flatnonzero(active)] or ["nothing"]
        raise ValueError(f"training data needs at least two of {', '.join(CLASSES)}; found only {found}")
    return np.asarray(active)


def _fit(
    texts: list[str], truth: np.ndarray, weights: np.ndarray, params: dict[str, Any]
) -> dict[str, np.ndarray]:
    """Read the texts as the service does (normalised, the model's view, project tokens), then fit."""
    viewed, tokens = view_inputs(texts, SentimentView(params["view"]), default_tokenizer())
    return fit_prepared(viewed, tokens, truth, weights, params)


def fit_prepared(
    texts: list[str], tokens: list[list[str]], truth: np.ndarray, weights: np.ndarray, params: dict[str, Any]
) -> dict[str, np.ndarray]:
    """Fit the linear model and the snownlp voice on view texts and their tokens; return the arrays."""
    from analysis.sentiment import fitting

    table = opencc_char_table()
    canonicaliser = Canonicaliser(table)
    canonical = canonicaliser.texts(texts)
    counts = fitting.count_matrix(
        canonical,
        tokens,
        char_sizes=tuple(params["char_ngrams"]),
        bigrams=params["word_bigrams"],
        n_buckets=params["n_buckets"],
        fold=canonicaliser.fold,
    )
    idf = fitting.idf_from(counts, params["min_df"])
    linear = fitting.fit_linear(
        fitting.tfidf_matrix(counts, idf),
        truth,
        weights,
        c=params["c"],
        nb_lr=params["nb_lr"],
        max_iter=params["max_iter"],
        n_jobs=params["n_jobs"],
    )
    voiced = np.flatnonzero(weights > 0)
    labels = [CLASSES[truth[index]] for index in voiced]
    folded = [canonicaliser.fold("\x00".join(tokens[index])).split("\x00") for index in voiced]
    bayes = train_bayes(folded, labels, CLASSES, params["bayes_buckets"])
    pruned = linear.weights.copy()
    pruned[np.abs(pruned).max(axis=1) < params["prune"]] = 0.0
    return {
        "weights": pruned.astype(np.float16),
        "intercept": linear.intercept.astype(np.float32),
        "idf": idf.astype(np.float16),
        "bayes_log_prior": bayes.log_prior,
        "bayes_log_freq": bayes.log_freq,
        "char_table": np.array(sorted(table.items()), dtype=np.int32).reshape(-1, 2),
    }


def meta_for(params: Mapping[str, Any], truth: np.ndarray, active: np.ndarray) -> dict[str, Any]:
    """Describe the model: feature settings, untuned voice weight and offsets, training rows."""
    counts = np.bincount(truth, minlength=3)
    return {
        "format": FORMAT_VERSION,
        "classes": list(CLASSES),
        "active": active.tolist(),
        "char_ngrams": list(params["char_ngrams"]),
        "word_bigrams": bool(params["word_bigrams"]),
        "n_buckets": int(params["n_buckets"]),
        "view": str(params["view"]),
        "alpha": float(params["alpha"]),
        "offsets": [float(value) for value in params["offsets"]],
        "temperature": float(params["temperature"]),
        "hyperparams": {
            key: list(value) if isinstance(value, tuple) else value for key, value in params.items()
        },
        "trained_rows": {label: int(count) for label, count in zip(CLASSES, counts, strict=True)},
    }


def _write(output: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> Path:
    output.mkdir(parents=True, exist_ok=True)
    target = output / MODEL_FILE
    contents: dict[str, Any] = {"meta": np.array(json.dumps(meta, ensure_ascii=False)), **arrays}
    np.savez_compressed(target, **contents)
    return target
