"""The one analysis of a post: title + text in, every text fact out (ingest, ``yuqing analyze``, benches).

``analyze_posts`` is the only place that composes the analysis, so the service and the command give
the same answer for the same post: the title is folded into the text (``post_text``), the text is
normalised, segmented once, and keywords and the SimHash are taken over those tokens (repost
layers included: they carry the topic). Sentiment reads the view of the post its model was trained
on (``analysis/sentiment/view.py``; the shipped model reads the whole post, chain included) with the
same tokens when the view is the whole text, and its score is rounded as stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from analysis.keywords import IdfFunction, top_terms
from analysis.normalize import NormalizedText, normalize
from analysis.sentiment.view import SentimentView, view_text
from analysis.simhash import simhash_many
from analysis.tokenize import Tokenizer, default_tokenizer

__all__ = [
    "KEYWORD_COUNT",
    "SCORE_DIGITS",
    "Analysis",
    "SentimentScorer",
    "analyze_posts",
    "analyze_records",
    "post_text",
]

KEYWORD_COUNT = 5
SCORE_DIGITS = 4  # the stored precision of sentiment_score


class Scored(Protocol):
    """One sentiment prediction."""

    @property
    def label(self) -> str: ...

    @property
    def score(self) -> float: ...


class SentimentScorer(Protocol):
    """What the analysis needs of a sentiment model (``analysis.sentiment.SentimentModel``)."""

    @property
    def view(self) -> SentimentView: ...

    def predict_many(
        self, texts: Sequence[str], tokens_list: Sequence[Sequence[str]]
    ) -> Sequence[Scored]: ...


@dataclass(frozen=True)
class Analysis:
    """Text facts about one post; sentiment fields are ``None`` when no model was given."""

    normalized: NormalizedText
    tokens: list[str]
    keywords: list[str]
    simhash: int
    sentiment: str | None = None
    sentiment_score: float | None = None

    @property
    def simhash_hex(self) -> str:
        """The SimHash as 16 lower-case hex digits."""
        return format(self.simhash, "016x")


def post_text(title: str | None, text: str) -> str:
    """The text analysed for a post: the title on its own line first, unless the text starts with it."""
    heading = (title or "").strip()
    if heading and not text.startswith(heading[: max(8, len(heading) // 2)]):
        return f"{heading}\n{text}"
    return text


def analyze_posts(
    posts: Sequence[tuple[str | None, str]],
    *,
    tokenizer: Tokenizer,
    model: SentimentScorer | None = None,
    idf: IdfFunction | None = None,
    keyword_count: int = KEYWORD_COUNT,
) -> list[Analysis]:
    """Analyse ``(title, text)`` pairs: normalise, segment, keywords, SimHash and sentiment (batched)."""
    normalized = [normalize(post_text(title, text)) for title, text in posts]
    token_lists = [tokenizer.tokens(item.text) for item in normalized]
    scores: list[tuple[str | None, float | None]] = [(None, None)] * len(posts)
    if model is not None and posts:
        viewed = [view_text(item, model.view) for item in normalized]
        viewed_tokens = [
            tokens if text == item.text else tokenizer.tokens(text)
            for text, item, tokens in zip(viewed, normalized, token_lists, strict=True)
        ]
        scores = [
            (result.label, round(float(result.score), SCORE_DIGITS))
            for result in model.predict_many(viewed, viewed_tokens)
        ]
    hashes = simhash_many(token_lists)
    return [
        Analysis(
            normalized=item,
            tokens=tokens,
            keywords=top_terms(tokens, k=keyword_count, idf=idf),
            simhash=hashed,
            sentiment=label,
            sentiment_score=score,
        )
        for item, tokens, hashed, (label, score) in zip(normalized, token_lists, hashes, scores, strict=True)
    ]


def analyze_records(
    lines: Iterable[str],
    *,
    tokenizer: Tokenizer | None = None,
    model: SentimentScorer | None = None,
    idf: IdfFunction | None = None,
    keyword_count: int = KEYWORD_COUNT,
    batch_size: int = 512,
) -> Iterator[dict[str, Any]]:
    """Analyse JSONL lines ``{"text": ..., "title": ...?}`` with ``analyze_posts``, in input order.

    Added fields: ``sentiment``, ``sentiment_score`` (``None`` without a model), ``keywords``,
    ``simhash`` (16 hex digits). Blank lines are skipped. A bad line (invalid JSON, not an object,
    missing or non-string ``text``, non-string ``title``, a failing analysis) comes back with an
    ``error`` message naming the line number, and the batch goes on.
    """
    active = tokenizer if tokenizer is not None else default_tokenizer()
    pending: list[tuple[int, dict[str, Any]]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record, problem = _parse_line(line, number)
        if problem is not None:
            record["error"] = problem
        pending.append((number, record))
        if len(pending) >= batch_size:
            yield from _analyse_batch(pending, active, model, idf, keyword_count)
    if pending:
        yield from _analyse_batch(pending, active, model, idf, keyword_count)


def _analyse_batch(
    pending: list[tuple[int, dict[str, Any]]],
    tokenizer: Tokenizer,
    model: SentimentScorer | None,
    idf: IdfFunction | None,
    keyword_count: int,
) -> Iterator[dict[str, Any]]:
    """Analyse the good records of a batch at once; a failure is retried record by record to name it."""
    good = [record for _, record in pending if "error" not in record]
    posts = [(record.get("title"), record["text"]) for record in good]
    try:
        results: list[Analysis | str] = list(
            analyze_posts(posts, tokenizer=tokenizer, model=model, idf=idf, keyword_count=keyword_count)
        )
    except Exception:  # one bad record must not stop the batch: find it
        results = [_analyse_one(post, tokenizer, model, idf, keyword_count) for post in posts]
    found = iter(results)
    for number, record in pending:
        if "error" in record:
            yield record
            continue
        result = next(found)
        if isinstance(result, str):
            record["error"] = f"line {number}: analysis failed: {result}"
        else:
            record.update(
                sentiment=result.sentiment,
                sentiment_score=result.sentiment_score,
                keywords=result.keywords,
                simhash=result.simhash_hex,
            )
        yield record
    pending.clear()


def _analyse_one(
    post: tuple[str | None, str],
    tokenizer: Tokenizer,
    model: SentimentScorer | None,
    idf: IdfFunction | None,
    keyword_count: int,
) -> Analysis | str:
    """One post's analysis, or the name of the exception it raised."""
    try:
        [result] = analyze_posts(
            [post], tokenizer=tokenizer, model=model, idf=idf, keyword_count=keyword_count
        )
    except Exception as exc:  # reported on the record
        return type(exc).__name__
    return result


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
    if value.get("title") is not None and not isinstance(value["title"], str):
        return value, f"line {number}: 'title' must be a string, got {_json_type(value['title'])}"
    return value, None


def _json_type(value: Any) -> str:
    names = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", dict: "object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
