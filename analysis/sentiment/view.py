"""Which text of a post the sentiment model reads: the one definition shared by training and serving.

``FULL`` is the whole normalised post, the poster's words and the repost chain (``//@某人:…``)
they endorse; ``OWN`` is the poster's words before the first ``//@``, or the whole post for a bare
repost. The shipped model records the view it was trained on (``meta["view"]``) and
``analysis.analyze`` serves it the same view; the choice was made by cross-validation
(analysis/sentiment/model/PROVENANCE.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from analysis.normalize import NormalizedText, normalize
from analysis.tokenize import Tokenizer

__all__ = ["SentimentView", "view_inputs", "view_text"]


class SentimentView(StrEnum):
    """The part of a post the sentiment model is trained on and scores."""

    FULL = "full"
    OWN = "own"


def view_text(normalized: NormalizedText, view: SentimentView) -> str:
    """The text the model reads for one normalised post."""
    if view is SentimentView.OWN and normalized.own_text.strip():
        return normalized.own_text
    return normalized.text


def view_inputs(
    texts: Sequence[str], view: SentimentView, tokenizer: Tokenizer
) -> tuple[list[str], list[list[str]]]:
    """Normalise raw texts and return (view text, its tokens) for each: how training rows are read."""
    viewed = [view_text(normalize(text), view) for text in texts]
    return viewed, [tokenizer.tokens(text) for text in viewed]
