"""Three-class metrics (numpy only) and ``evaluate`` for a model over labelled rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from analysis.sentiment.model import CLASSES

if TYPE_CHECKING:
    from analysis.sentiment.model import SentimentModel

__all__ = ["classification_metrics", "evaluate", "is_usable", "macro_f1", "split_labelled"]

Ints = npt.NDArray[np.int64]


def is_usable(row: Mapping[str, Any]) -> bool:
    """True for a row with non-blank text and a positive/neutral/negative label."""
    text = row.get("text")
    return row.get("label") in CLASSES and isinstance(text, str) and bool(text.strip())


def split_labelled(rows: Iterable[Mapping[str, Any]]) -> tuple[list[str], list[int], Counter[str]]:
    """Keep rows with a three-class label; return texts, class indices and skipped-label counts."""
    texts: list[str] = []
    labels: list[int] = []
    skipped: Counter[str] = Counter()
    for row in rows:
        text = row.get("text")
        if is_usable(row):
            texts.append(str(text))
            labels.append(CLASSES.index(str(row["label"])))
        elif isinstance(text, str) and text.strip():
            skipped[str(row.get("label"))] += 1
        else:
            skipped["<no text>"] += 1
    return texts, labels, skipped


def confusion(truth: Ints, predicted: Ints) -> Ints:
    """Return the 3×3 confusion matrix, rows = true class, columns = predicted class."""
    return np.bincount(truth * len(CLASSES) + predicted, minlength=len(CLASSES) ** 2).reshape(3, 3)


def macro_f1(truth: Ints, predicted: Ints) -> float:
    """Macro-averaged F1 over the classes present in ``truth``."""
    matrix = confusion(truth, predicted)
    hits = np.diag(matrix).astype(float)
    support = matrix.sum(axis=1)
    denominator = support + matrix.sum(axis=0)
    f1 = np.divide(2 * hits, denominator, out=np.zeros(3), where=denominator > 0)
    present = support > 0
    return float(f1[present].mean()) if present.any() else 0.0


def classification_metrics(truth: Ints, predicted: Ints) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix."""
    matrix = confusion(truth, predicted)
    per_class: dict[str, dict[str, float]] = {}
    for index, label in enumerate(CLASSES):
        hits = float(matrix[index, index])
        predicted_count = float(matrix[:, index].sum())
        support = float(matrix[index].sum())
        precision = hits / predicted_count if predicted_count else 0.0
        recall = hits / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[label] = {"precision": precision, "recall": recall, "f1": f1, "support": int(support)}
    return {
        "rows": int(len(truth)),
        "accuracy": float((truth == predicted).mean()) if len(truth) else 0.0,
        "macro_f1": macro_f1(truth, predicted),
        "per_class": per_class,
        "confusion": matrix.tolist(),
        "labels": list(CLASSES),
    }


def evaluate(
    model: SentimentModel, rows: Iterable[Mapping[str, Any]], *, batch_size: int = 512
) -> dict[str, Any]:
    """Score ``model`` on ``{"text", "label"}`` rows through the service's path (``analyze_posts``).

    Each text is analysed exactly as a pushed post is (normalised, segmented by the project
    tokenizer, the model's view); other labels (e.g. surprise) are skipped and counted. Besides the
    three-class figures, ``polarity_accuracy`` checks ``score >= 0.5`` against the label on the
    positive/negative rows only (the right figure for two-class corpora).
    """
    from analysis.analyze import analyze_posts
    from analysis.tokenize import default_tokenizer

    texts, labels, skipped = split_labelled(rows)
    tokenizer = default_tokenizer()
    predicted: list[int] = []
    scores: list[float] = []
    for start in range(0, len(texts), batch_size):
        posts = [(None, text) for text in texts[start : start + batch_size]]
        for analysis in analyze_posts(posts, tokenizer=tokenizer, model=model):
            predicted.append(CLASSES.index(str(analysis.sentiment)))
            scores.append(float(analysis.sentiment_score or 0.0))
    truth = np.asarray(labels, dtype=np.int64)
    result = classification_metrics(truth, np.asarray(predicted, dtype=np.int64))
    polar = truth != CLASSES.index("neutral")
    leaning_positive = np.asarray(scores)[polar] >= 0.5
    is_positive = truth[polar] == CLASSES.index("positive")
    result["polarity_accuracy"] = float((leaning_positive == is_positive).mean()) if polar.any() else 0.0
    result["skipped"] = dict(skipped)
    return result
