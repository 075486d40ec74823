"""Grouped k-fold cross-validation on the training corpora: how settings are chosen, never on dev.

Near-duplicate texts (SimHash of the normalised text within 3 bits, found through four 16-bit
bands) form one group, and a group never straddles folds, so a reposted text cannot be scored by a
model that saw its twin. Each fold's model is fitted exactly as ``train`` fits the shipped one;
the out-of-fold scores then choose the snownlp-voice weight, the class offsets and the temperature
(on the rows of ``TUNE_CORPUS``), and give the per-corpus, per-class figures in PROVENANCE.

Run: ``python -m analysis.sentiment.crossval --view full --output cv-full.json`` (needs the
``train`` extra; about k × the time of one training run).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from analysis.normalize import normalize
from analysis.sentiment.metrics import classification_metrics, macro_f1, split_labelled
from analysis.sentiment.model import CLASSES, SentimentModel
from analysis.sentiment.training import (
    DEFAULTS,
    SHARED_CORPUS_WEIGHTS,
    SHARED_HOLDOUT,
    fit_prepared,
    is_held_out,
    meta_for,
    read_jsonl,
)
from analysis.sentiment.view import SentimentView, view_text
from analysis.simhash import hamming, simhash
from analysis.tokenize import default_tokenizer

__all__ = ["TUNE_CORPUS", "choose_settings", "cross_validate", "fold_of", "near_duplicate_groups"]

TUNE_CORPUS = "smp2020_ewect_train"
SHARED_TRAINING_FILES = (
    "smp2020_ewect_train",
    "nlpcc2013_emotion_train",
    "clue_emotion2020",
    "weibo2018_train",
    "bdci2018_car_forum",
)
NEAR_BITS = 3


def near_duplicate_groups(hashes: Sequence[int]) -> np.ndarray:
    """Group index per text: texts whose SimHashes differ in at most 3 bits share a group (transitively)."""
    parent = list(range(len(hashes)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    buckets: dict[tuple[int, int], list[int]] = {}
    for index, value in enumerate(hashes):
        for band in range(4):
            buckets.setdefault((band, (value >> (16 * band)) & 0xFFFF), []).append(index)
    for members in buckets.values():
        for position, index in enumerate(members):
            for other in members[:position]:
                if root(index) != root(other) and hamming(hashes[index], hashes[other]) <= NEAR_BITS:
                    parent[root(index)] = root(other)
    return np.array([root(index) for index in range(len(hashes))], dtype=np.int64)


def fold_of(groups: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Assign whole groups to ``k`` folds at random (seeded), balancing the row counts greedily."""
    unique, sizes = np.unique(groups, return_counts=True)
    order = np.random.default_rng(seed).permutation(len(unique))
    order = order[np.argsort(-sizes[order], kind="stable")]
    load = np.zeros(k, dtype=np.int64)
    assigned = np.empty(len(unique), dtype=np.int64)
    for position in order:
        target = int(load.argmin())
        assigned[position] = target
        load[target] += sizes[position]
    return assigned[np.searchsorted(unique, groups)]


def cross_validate(
    texts: list[str],
    truth: np.ndarray,
    weights: np.ndarray,
    folds: np.ndarray,
    view: SentimentView,
    params: Mapping[str, Any],
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold linear and snownlp-voice scores (each shape (n, 3)) for every row."""
    tokenizer = default_tokenizer()
    viewed = [view_text(normalize(text), view) for text in texts]
    tokens = [tokenizer.tokens(text) for text in viewed]
    linear = np.zeros((len(texts), 3), dtype=np.float64)
    bayes = np.zeros_like(linear)
    settings = {**DEFAULTS, **params, "view": view.value}
    for fold in range(int(folds.max()) + 1):
        started = time.monotonic()
        inside = np.flatnonzero(folds != fold)
        outside = np.flatnonzero(folds == fold)
        arrays = fit_prepared(
            [viewed[i] for i in inside], [tokens[i] for i in inside], truth[inside], weights[inside], settings
        )
        active = np.bincount(truth[inside], minlength=3) > 0
        model = SentimentModel(arrays, meta_for(settings, truth[inside], active))
        canonical, held_tokens = model.prepare([viewed[i] for i in outside], [tokens[i] for i in outside])
        plain = model.logits(canonical, held_tokens, alpha=0.0)
        linear[outside] = plain
        bayes[outside] = model.logits(canonical, held_tokens, alpha=1.0) - plain
        print(
            f"fold {fold}: {len(inside)} fitted, {len(outside)} scored, {time.monotonic() - started:.0f} s"
        )
    return linear, bayes


def choose_settings(
    linear: np.ndarray, bayes: np.ndarray, truth: np.ndarray, alphas: Sequence[float]
) -> tuple[float, np.ndarray, float]:
    """Voice weight and class offsets by out-of-fold macro-F1, then the calibration temperature."""
    from analysis.sentiment.fitting import fit_temperature, tune_offsets

    active = np.ones(3, dtype=bool)
    alpha, offsets, _ = tune_offsets(linear, bayes, truth, active, alphas)
    return alpha, offsets, fit_temperature(linear + alpha * bayes + offsets, truth)


def _corpus_figures(truth: np.ndarray, predicted: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    figures = classification_metrics(truth, predicted)
    polar = truth != CLASSES.index("neutral")
    leaning = scores[polar] >= 0.5
    figures["polarity_accuracy"] = float((leaning == (truth[polar] == 2)).mean()) if polar.any() else 0.0
    return figures


def run(data: Path, view: SentimentView, k: int, output: Path) -> dict[str, Any]:
    """Cross-validate the shipped recipe with one view over the shared corpora; write a JSON summary."""
    texts: list[str] = []
    labels: list[int] = []
    weights: list[float] = []
    corpora: list[str] = []
    for stem in SHARED_TRAINING_FILES:
        rows = read_jsonl(data / f"{stem}.jsonl")
        fraction = SHARED_HOLDOUT.get(stem, 0.0)
        kept = [
            r
            for r in rows
            if not (fraction and isinstance(r.get("text"), str) and is_held_out(r["text"], fraction))
        ]
        found, classes, _ = split_labelled(kept)
        texts += found
        labels += classes
        weights += [SHARED_CORPUS_WEIGHTS.get(stem, 1.0)] * len(found)
        corpora += [stem] * len(found)
    truth = np.asarray(labels, dtype=np.int64)
    tokenizer = default_tokenizer()
    hashes = [simhash(tokenizer.tokens(normalize(text).text)) for text in texts]
    groups = near_duplicate_groups(hashes)
    folds = fold_of(groups, k)
    linear, bayes = cross_validate(texts, truth, np.asarray(weights), folds, view, DEFAULTS)
    names = np.asarray(corpora)
    tune = names == TUNE_CORPUS
    alpha, offsets, temperature = choose_settings(linear[tune], bayes[tune], truth[tune], DEFAULTS["alphas"])
    summary: dict[str, Any] = {
        "view": view.value,
        "folds": k,
        "rows": len(texts),
        "groups": int(len(np.unique(groups))),
        "rows_in_shared_groups": int((np.bincount(groups)[groups] > 1).sum()),
        "alpha": alpha,
        "offsets": offsets.tolist(),
        "temperature": temperature,
        "tuned_on": TUNE_CORPUS,
        "untuned_macro_f1": {},
        "corpora": {},
    }
    for stem in SHARED_TRAINING_FILES:
        rows = names == stem
        raw = linear[rows] + DEFAULTS["alpha"] * bayes[rows]
        summary["untuned_macro_f1"][stem] = macro_f1(truth[rows], raw.argmax(axis=1))
        scores = (linear[rows] + alpha * bayes[rows] + offsets) / temperature
        probs = np.exp(scores - scores.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        summary["corpora"][stem] = _corpus_figures(
            truth[rows], scores.argmax(axis=1), probs[:, 2] + 0.5 * probs[:, 1]
        )
    chained = np.array(["//@" in text for text in texts])
    final = linear + alpha * bayes + offsets
    summary["chain_rows"] = int(chained.sum())
    summary["chain_macro_f1"] = macro_f1(truth[chained & tune], final[chained & tune].argmax(axis=1))
    output.write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    return summary


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/sentiment"))
    parser.add_argument("--view", choices=[view.value for view in SentimentView], default="full")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    summary = run(args.data, SentimentView(args.view), args.folds, args.output)
    print(json.dumps({k: v for k, v in summary.items() if k != "corpora"}, ensure_ascii=False))
    for stem, figures in summary["corpora"].items():
        print(f"{stem}: macro-F1 {figures['macro_f1']:.4f} polarity {figures['polarity_accuracy']:.4f}")


if __name__ == "__main__":
    main()
