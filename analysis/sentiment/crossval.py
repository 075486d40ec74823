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
    viewed: list[str],
    tokens: list[list[str]],
    truth: np.ndarray,
    weights: np.ndarray,
    folds: np.ndarray,
    view: SentimentView,
    params: Mapping[str, Any],
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold linear and snownlp-voice scores (each shape (n, 3)) for every row of one view."""
    texts = viewed
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
            f"{view.value} fold {fold}: {len(outside)} scored, {time.monotonic() - started:.0f} s", flush=True
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


def run(
    data: Path, views: Sequence[SentimentView], k: int, output: Path, params: Mapping[str, Any]
) -> dict[str, Any]:
    """Cross-validate the recipe with each view over the shared corpora; write a JSON summary."""
    texts: list[str] = []
    labels: list[int] = []
    weights: list[float] = []
    corpora: list[str] = []
    for stem in SHARED_TRAINING_FILES:
        rows = read_jsonl(data / f"{stem}.jsonl")
        fraction = SHARED_HOLDOUT.get(stem, 0.0)
        kept = [
            row
            for row in rows
            if not (fraction and isinstance(row.get("text"), str) and is_held_out(row["text"], fraction))
        ]
        found, classes, _ = split_labelled(kept)
        texts += found
        labels += classes
        weights += [SHARED_CORPUS_WEIGHTS.get(stem, 1.0)] * len(found)
        corpora += [stem] * len(found)
    truth = np.asarray(labels, dtype=np.int64)
    tokenizer = default_tokenizer()
    normalized = [normalize(text) for text in texts]
    full_tokens = [tokenizer.tokens(item.text) for item in normalized]
    groups = near_duplicate_groups([simhash(tokens) for tokens in full_tokens])
    folds = fold_of(groups, k)
    names = np.asarray(corpora)
    tune = names == TUNE_CORPUS
    chained = np.array([bool(item.repost_chain) for item in normalized])
    settings = {**DEFAULTS, **params}
    summary: dict[str, Any] = {
        "folds": k,
        "rows": len(texts),
        "groups": int(len(np.unique(groups))),
        "rows_in_shared_groups": int((np.bincount(groups)[groups] > 1).sum()),
        "chain_rows": int(chained.sum()),
        "params": {key: list(v) if isinstance(v, tuple) else v for key, v in settings.items()},
        "tuned_on": TUNE_CORPUS,
        "views": {},
    }
    for view in views:
        viewed = [view_text(item, view) for item in normalized]
        tokens = [
            full if text == item.text else tokenizer.tokens(text)
            for text, item, full in zip(viewed, normalized, full_tokens, strict=True)
        ]
        linear, bayes = cross_validate(viewed, tokens, truth, np.asarray(weights), folds, view, settings)
        alpha, offsets, temperature = choose_settings(
            linear[tune], bayes[tune], truth[tune], settings["alphas"]
        )
        final = linear + alpha * bayes + offsets
        result: dict[str, Any] = {
            "alpha": alpha,
            "offsets": offsets.tolist(),
            "temperature": temperature,
            "untuned_macro_f1": {},
            "corpora": {},
            "chain_macro_f1": macro_f1(truth[chained & tune], final[chained & tune].argmax(axis=1)),
            "tune_macro_f1_untuned": macro_f1(
                truth[tune], (linear[tune] + settings["alpha"] * bayes[tune]).argmax(axis=1)
            ),
        }
        for stem in SHARED_TRAINING_FILES:
            rows = names == stem
            raw = linear[rows] + settings["alpha"] * bayes[rows]
            result["untuned_macro_f1"][stem] = macro_f1(truth[rows], raw.argmax(axis=1))
            scores = final[rows] / temperature
            probs = np.exp(scores - scores.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            result["corpora"][stem] = _corpus_figures(
                truth[rows], scores.argmax(axis=1), probs[:, 2] + 0.5 * probs[:, 1]
            )
        summary["views"][view.value] = result
        output.write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
        print(view.value, json.dumps({key: v for key, v in result.items() if key != "corpora"}), flush=True)
    return summary


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/sentiment"))
    parser.add_argument("--views", default="full,own", help="comma-separated views to compare")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    views = [SentimentView(name) for name in args.views.split(",")]
    run(args.data, views, args.folds, args.output, {})


if __name__ == "__main__":
    main()
