"""Training-time numerics (scikit-learn, scipy): TF-IDF matrix, LR and NB-LR fits, dev tuning.

Imported only by ``analysis.sentiment.training``; inference never loads this module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.linear_model import LogisticRegression

from analysis.sentiment.features import extract
from analysis.sentiment.metrics import macro_f1

__all__ = ["LinearWeights", "fit_linear", "fit_temperature", "idf_from", "tfidf_matrix", "tune_offsets"]

F64 = npt.NDArray[np.float64]
_CHUNK = 4000


@dataclass(frozen=True)
class LinearWeights:
    """Bucket weights (n_buckets × 3) and intercepts (3) of the combined linear model."""

    weights: F64
    intercept: F64


def count_matrix(
    texts: list[str],
    tokens: list[list[str]],
    *,
    char_sizes: tuple[int, int],
    bigrams: bool,
    n_buckets: int,
    fold: Callable[[str], str],
) -> sp.csr_matrix:
    """Return the sparse matrix of ``1 + log(count)`` per (document, bucket), built in chunks."""
    blocks = []
    for start in range(0, len(texts), _CHUNK):
        chunk = texts[start : start + _CHUNK]
        docs, buckets, counts, _ = extract(
            chunk,
            tokens[start : start + _CHUNK],
            char_sizes=char_sizes,
            bigrams=bigrams,
            n_buckets=n_buckets,
            fold=fold,
        )
        values = 1.0 + np.log(counts.astype(np.float64))
        blocks.append(sp.csr_matrix((values, (docs, buckets)), shape=(len(chunk), n_buckets)))
    return sp.vstack(blocks, format="csr")


def idf_from(counts: sp.csr_matrix, min_df: int) -> F64:
    """Smoothed IDF per bucket; buckets seen in fewer than ``min_df`` documents get 0 (dropped)."""
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log((1.0 + counts.shape[0]) / (1.0 + df)) + 1.0
    idf[df < min_df] = 0.0
    return idf


def tfidf_matrix(counts: sp.csr_matrix, idf: F64) -> sp.csr_matrix:
    """Scale by IDF (as float16, exactly as stored in the model) and L2-normalise rows."""
    matrix = counts @ sp.diags(idf.astype(np.float16).astype(np.float64))
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ matrix)


def fit_linear(
    matrix: sp.csr_matrix,
    labels: npt.NDArray[np.int64],
    weights: F64,
    *,
    c: float,
    nb_lr: bool,
    max_iter: int,
    n_jobs: int,
) -> LinearWeights:
    """Fit multinomial LR (and, if ``nb_lr``, one-vs-rest NB-LR) and average them into one linear model."""
    present = np.unique(labels)
    jobs = [delayed(_fit_lr)(matrix, labels, weights, c, max_iter)]
    if nb_lr:
        jobs += [delayed(_fit_nb_lr)(matrix, labels == label, weights, c, max_iter) for label in present]
    results = Parallel(n_jobs=n_jobs, prefer="processes")(jobs)
    weight_sum, intercept_sum = _lr_columns(results[0], present, matrix.shape[1])
    if not nb_lr:
        return LinearWeights(weight_sum, intercept_sum)
    nb_weights = np.zeros_like(weight_sum)
    nb_intercept = np.zeros(3)
    for label, (coef, intercept) in zip(present, results[1:], strict=True):
        nb_weights[:, label] = coef
        nb_intercept[label] = intercept
    return LinearWeights((weight_sum + nb_weights) / 2, (intercept_sum + nb_intercept) / 2)


def _balanced(labels: npt.NDArray[np.int64] | npt.NDArray[np.bool_], weights: F64) -> F64:
    """Sample weights times 'balanced' class weights computed on the weighted counts."""
    classes, inverse = np.unique(labels, return_inverse=True)
    totals = np.bincount(inverse, weights=weights)
    return weights * (weights.sum() / (len(classes) * totals))[inverse]


def _fit_lr(
    matrix: sp.csr_matrix, labels: npt.NDArray[np.int64], weights: F64, c: float, max_iter: int
) -> tuple[F64, F64]:
    model = LogisticRegression(C=c, max_iter=max_iter)
    model.fit(matrix, labels, sample_weight=_balanced(labels, weights))
    return model.coef_, model.intercept_


def _lr_columns(fitted: tuple[F64, F64], present: npt.NDArray[np.int64], n_buckets: int) -> tuple[F64, F64]:
    coef, intercept = fitted
    weights = np.zeros((n_buckets, 3))
    intercepts = np.zeros(3)
    if len(present) == 2:
        weights[:, present[1]] = coef[0]
        intercepts[present[1]] = intercept[0]
    else:
        weights[:, present] = coef.T
        intercepts[present] = intercept
    return weights, intercepts


def _fit_nb_lr(
    matrix: sp.csr_matrix, is_class: npt.NDArray[np.bool_], weights: F64, c: float, max_iter: int
) -> tuple[F64, float]:
    """Binary LR on features scaled by the NB log-count ratio; returns weights in unscaled space."""
    binary = matrix.copy()
    binary.data[:] = 1.0
    inside = np.asarray(binary[is_class].T @ weights[is_class]).ravel() + 1.0
    outside = np.asarray(binary[~is_class].T @ weights[~is_class]).ravel() + 1.0
    ratio = np.log(inside / inside.sum()) - np.log(outside / outside.sum())
    model = LogisticRegression(C=c, max_iter=max_iter)
    model.fit(matrix @ sp.diags(ratio), is_class, sample_weight=_balanced(is_class, weights))
    return model.coef_[0] * ratio, float(model.intercept_[0])


def tune_offsets(
    linear: np.ndarray,
    bayes: np.ndarray,
    truth: npt.NDArray[np.int64],
    active: np.ndarray,
    alphas: Sequence[float],
    span: float = 1.0,
    step: float = 0.1,
) -> tuple[float, F64, float]:
    """Grid-search the snownlp-voice weight and per-class offsets for macro-F1 on out-of-fold rows."""
    grid = np.round(np.arange(-span, span + step / 2, step), 6)
    best = (-1.0, 0.0, np.zeros(3))
    for alpha in alphas:
        base = linear + alpha * bayes
        base[:, ~active] = -np.inf
        for neutral in grid if active[1] else [0.0]:
            for positive in grid if active[2] else [0.0]:
                offsets = np.array([0.0, neutral, positive])
                score = macro_f1(truth, (base + offsets).argmax(axis=1))
                if score > best[0] + 1e-9:
                    best = (score, float(alpha), offsets)
    return best[1], best[2], best[0]


def fit_temperature(scores: np.ndarray, truth: npt.NDArray[np.int64]) -> float:
    """Temperature minimising the log-loss of ``softmax(scores / T)`` (calibration; argmax unchanged)."""
    best = (np.inf, 1.0)
    for temperature in np.round(np.arange(0.5, 6.01, 0.1), 2):
        scaled = scores / temperature
        scaled = scaled - scaled.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(scaled).sum(axis=1))
        loss = float(np.mean(log_norm - scaled[np.arange(len(truth)), truth]))
        if loss < best[0]:
            best = (loss, float(temperature))
    return best[1]
