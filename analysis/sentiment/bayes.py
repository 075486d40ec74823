"""The snownlp voice: snownlp's naive Bayes (``snownlp/classification/bayes.py``) on jieba tokens.

Training runs snownlp's own ``Bayes.train``. Its module is loaded under a private package name
so that ``snownlp/__init__.py`` (which loads ~430 MB of default models) never runs. The trained
counts are then folded into a hashed table of log frequencies, and inference evaluates exactly
snownlp's ``Bayes.classify`` arithmetic (log prior + Σ log add-one frequency) with numpy.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from analysis.sentiment.features import Hashed, hash_tokens, sum_by_doc

__all__ = ["BayesTable", "load_snownlp_bayes", "train_bayes"]

_PRIVATE_PACKAGE = "_yuqing_snownlp"


def load_snownlp_bayes() -> types.ModuleType:
    """Import ``snownlp.classification.bayes`` without executing ``snownlp/__init__.py``."""
    if _PRIVATE_PACKAGE not in sys.modules:
        spec = importlib.util.find_spec("snownlp")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("snownlp is not installed")
        package = types.ModuleType(_PRIVATE_PACKAGE)
        package.__path__ = [str(Path(next(iter(spec.submodule_search_locations))))]
        sys.modules[_PRIVATE_PACKAGE] = package
    return importlib.import_module(f"{_PRIVATE_PACKAGE}.classification.bayes")


@dataclass(frozen=True)
class BayesTable:
    """Hashed naive Bayes model: per-class log prior and log frequency per token bucket."""

    log_prior: npt.NDArray[np.float32]
    log_freq: npt.NDArray[np.float32]

    @property
    def n_buckets(self) -> int:
        """Number of token buckets (a power of two)."""
        return int(self.log_freq.shape[0])

    def scores(self, words: Hashed, n_docs: int) -> npt.NDArray[np.float32]:
        """Return snownlp's per-class log joint scores for hashed word tokens, shape (docs, classes)."""
        buckets = (words.hashes & np.uint64(self.n_buckets - 1)).astype(np.int64)
        return sum_by_doc(words.docs, self.log_freq[buckets], n_docs) + self.log_prior

    def scores_for(self, tokens_list: list[list[str]]) -> npt.NDArray[np.float32]:
        """Score token lists directly (convenience for tests and evaluation)."""
        return self.scores(hash_tokens(tokens_list), len(tokens_list))


def train_bayes(
    tokens_list: Sequence[list[str]], labels: Sequence[str], classes: Sequence[str], n_buckets: int
) -> BayesTable:
    """Train snownlp's ``Bayes`` on token lists and fold its counts into a hashed table."""
    classifier = load_snownlp_bayes().Bayes()
    classifier.train(list(zip(tokens_list, labels, strict=True)))
    return fold_counts(classifier, classes, n_buckets)


def fold_counts(classifier: Any, classes: Sequence[str], n_buckets: int) -> BayesTable:
    """Turn a trained snownlp ``Bayes`` into a hashed table; absent classes get zero columns."""
    log_freq = np.zeros((n_buckets, len(classes)), dtype=np.float64)
    log_prior = np.zeros(len(classes), dtype=np.float64)
    for column, label in enumerate(classes):
        prob = classifier.d.get(label)
        if prob is None:
            continue
        hashed = hash_tokens([[word] for word in prob.d])
        buckets = (hashed.hashes & np.uint64(n_buckets - 1)).astype(np.int64)
        values = np.fromiter(prob.d.values(), dtype=np.float64, count=len(prob.d))
        counts = np.bincount(buckets, weights=values[hashed.docs], minlength=n_buckets)
        counts[counts == 0] = prob.none
        log_freq[:, column] = np.log(counts / prob.getsum())
        log_prior[column] = np.log(prob.getsum()) - np.log(classifier.total)
    return BayesTable(log_prior.astype(np.float32), log_freq.astype(np.float32))
