"""Three-class sentiment (negative/neutral/positive) with a polarity score in snownlp's convention.

``SentimentModel.load().predict(text, tokens)`` returns ``Sentiment(label, score, probabilities)``
where ``score = P(positive) + ½·P(neutral)`` (0 negative, 0.5 neutral, 1 positive). Inference
uses numpy only; ``train`` / ``train_from_files`` need the ``train`` extra (scikit-learn).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from analysis.sentiment.metrics import evaluate
from analysis.sentiment.model import CLASSES, Sentiment, SentimentModel
from analysis.sentiment.report import TrainReport

if TYPE_CHECKING:
    from analysis.sentiment.training import train, train_from_files

__all__ = ["CLASSES", "Sentiment", "SentimentModel", "TrainReport", "evaluate", "train", "train_from_files"]


def __getattr__(name: str) -> Any:
    """Import the training entry points lazily, so inference never loads scikit-learn."""
    if name in ("train", "train_from_files"):
        from analysis.sentiment import training

        return getattr(training, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
