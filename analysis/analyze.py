"""One post in, all text facts out; and the same for JSONL batches (``yuqing analyze``).

Tokens, keywords and the SimHash are computed over the full normalised text (repost layers
included: they carry the topic). Sentiment is about the poster, so the scorer gets ``own_text``
and the tokens of ``own_text``. The sentiment model lives elsewhere; pass any callable
``(own_text, tokens) -> (label, score)``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from analysis.keywords import IdfFunction, top_terms
from analysis.normalize import NormalizedText, normalize
from analysis.simhash import simhash
from analysis.tokenize import Tokenizer, default_tokenizer

__all__ = ["Analysis", "SentimentScorer", "analyze_records", "analyze_text"]

SentimentScorer = Callable[[str, Sequence[str]], tuple[str, float]]
BatchScorer = Callable[[list[str], list[list[str]]], Sequence[tuple[str, float]]]


@dataclass(frozen=True)
class Analysis:
    """Text facts about one post; sentiment fields are ``None`` when no scorer was given."""

    normalized: NormalizedText
    tokens: list[str]
    own_tokens: list[str]
    keywords: list[str]
    simhash: int
    sentiment: str | None = None
    sentiment_score: float | None = None

    @property
    def simhash_hex(self) -> str:
        """The SimHash as 16 lower-case hex digits."""
        return format(self.simhash, "016x")


def analyze_text(
    text: str,
    *,
    tokenizer: Tokenizer,
    sentiment: SentimentScorer | None = None,
    idf: IdfFunction | None = None,
    keyword_count: int = 5,
) -> Analysis:
    """Normalise, tokenise, pick keywords, hash and (optionally) score sentiment for one post."""
    normalized = normalize(text)
    tokens = tokenizer.tokens(normalized.text)
    own_tokens = tokens if normalized.own_text == normalized.text else tokenizer.tokens(normalized.own_text)
    label: str | None = None
    score: float | None = None
    if sentiment is not None:
        label, raw_score = sentiment(normalized.own_text, own_tokens)
        score = float(raw_score)
    return Analysis(
        normalized=normalized,
        tokens=tokens,
        own_tokens=own_tokens,
        keywords=top_terms(tokens, k=keyword_count, idf=idf),
        simhash=simhash(tokens),
        sentiment=label,
        sentiment_score=score,
    )


def analyze_records(
    lines: Iterable[str],
    *,
    tokenizer: Tokenizer | None = None,
    sentiment: SentimentScorer | None = None,
    idf: IdfFunction | None = None,
    keyword_count: int = 5,
    batch_sentiment: BatchScorer | None = None,
    batch_size: int = 256,
) -> Iterator[dict[str, Any]]:
    """Analyse JSONL lines ``{"text": ..., ...}``; each comes back with its fields plus results.

    Added fields: ``sentiment``, ``sentiment_score`` (``None`` without a scorer), ``keywords``,
    ``simhash`` (16 hex digits). Blank lines are skipped. A bad line (invalid JSON, not an object,
    missing or non-string ``text``, a failing scorer) comes back with an ``error`` message naming
    the line number, and the batch goes on.
    """
    active = tokenizer if tokenizer is not None else default_tokenizer()
    pending: list[tuple[dict[str, Any], Analysis | None]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record, problem = _parse_line(line, number)
        if problem is not None:
            record["error"] = problem
            if batch_sentiment is not None:
                pending.append((record, None))
                continue
            yield record
            continue
        try:
            result = analyze_text(
                record["text"], tokenizer=active, sentiment=sentiment, idf=idf, keyword_count=keyword_count
            )
        except Exception as exc:  # one bad record must not stop the batch
            record["error"] = f"line {number}: analysis failed: {type(exc).__name__}"
            if batch_sentiment is not None:
                pending.append((record, None))
                continue
            yield record
            continue
        record.update(
            sentiment=result.sentiment,
            sentiment_score=result.sentiment_score,
            keywords=result.keywords,
            simhash=result.simhash_hex,
        )
        if batch_sentiment is not None:
            pending.append((record, result))
            if len(pending) >= batch_size:
                yield from _score_batch(pending, batch_sentiment)
            continue
        yield record
    if pending and batch_sentiment is not None:
        yield from _score_batch(pending, batch_sentiment)


def _score_batch(
    pending: list[tuple[dict[str, Any], Analysis | None]], scorer: BatchScorer
) -> Iterator[dict[str, Any]]:
    """Score the analysed records of a batch at once (vectorised), then yield all in input order."""
    analysed = [result for _, result in pending if result is not None]
    scores: Sequence[tuple[str, float] | None]
    try:
        scores = scorer([r.normalized.own_text for r in analysed], [r.own_tokens for r in analysed])
    except Exception as exc:  # a failing scorer marks its batch, never crashes the run
        scores = [None] * len(analysed)
        failure = f"sentiment failed: {type(exc).__name__}"
    else:
        failure = ""
    found = iter(scores)
    for record, result in pending:
        if result is not None:
            score = next(found)
            if score is None:
                record["error"] = failure
            else:
                record["sentiment"], record["sentiment_score"] = score[0], float(score[1])
        yield record
    pending.clear()


def _parse_line(line: str, number: int) -> tuple[dict[str, Any], str | None]:
    try:
        value = json.loads(line)
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
        return {}, f"line {number}: invalid JSON: {reason}"
    if not isinstance(value, dict):
        return {}, f"line {number}: expected a JSON object, got {_json_type(value)}"
    if "text" not in value:
        return value, f"line {number}: missing 'text'"
    if not isinstance(value["text"], str):
        return value, f"line {number}: 'text' must be a string, got {_json_type(value['text'])}"
    return value, None


def _json_type(value: Any) -> str:
    names = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", dict: "object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
