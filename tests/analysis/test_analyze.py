"""analyze_posts (the one analysis) and the JSONL batch path analyze_records."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.analyze import analyze_posts, analyze_records, post_text
from analysis.sentiment.view import SentimentView
from analysis.simhash import simhash
from analysis.tokenize import Tokenizer


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(["小米SU7"])


@dataclass(frozen=True)
class Guess:
    label: str
    score: float


class AngryModel:
    """Negative when the text says 坑 or carries [怒]; records what it was asked."""

    def __init__(self, view: SentimentView = SentimentView.FULL, fail: bool = False) -> None:
        self.view = view
        self.fail = fail
        self.seen: list[tuple[str, list[str]]] = []

    def predict_many(self, texts: Sequence[str], tokens_list: Sequence[Sequence[str]]) -> list[Guess]:
        if self.fail:
            raise RuntimeError("model missing")
        self.seen += [(text, list(tokens)) for text, tokens in zip(texts, tokens_list, strict=True)]
        return [
            Guess("negative", 0.123456) if "[怒]" in tokens or "坑" in text else Guess("neutral", 0.5)
            for text, tokens in zip(texts, tokens_list, strict=True)
        ]


def test_analyze_posts_without_sentiment(tokenizer: Tokenizer) -> None:
    [result] = analyze_posts([(None, "小米SU7刹车失灵，太吓人了[怒]")], tokenizer=tokenizer)
    assert result.tokens[0] == "小米su7"
    assert "刹车" in result.keywords and "[怒]" not in result.keywords
    assert result.simhash == simhash(result.tokens)
    assert (result.sentiment, result.sentiment_score) == (None, None)
    assert len(result.simhash_hex) == 16


def test_sentiment_reads_the_view_the_model_was_trained_on(tokenizer: Tokenizer) -> None:
    text = "太坑了//@张三:确实//@李四:某品牌汽车刹车失灵"
    own = AngryModel(SentimentView.OWN)
    [result] = analyze_posts([(None, text)], tokenizer=tokenizer, model=own)
    assert own.seen == [("太坑了", ["太坑", "了"])]
    assert (result.sentiment, result.sentiment_score) == ("negative", 0.1235)  # rounded as stored
    assert "刹车" in result.tokens  # tokens and keywords cover the whole chain
    full = AngryModel(SentimentView.FULL)
    [same] = analyze_posts([(None, text)], tokenizer=tokenizer, model=full)
    assert full.seen == [(same.normalized.text, same.tokens)]  # the whole post, tokens segmented once


def test_bare_repost_reads_the_chain_in_either_view(tokenizer: Tokenizer) -> None:
    model = AngryModel(SentimentView.OWN)
    analyze_posts([(None, "//@张三:这车太坑了")], tokenizer=tokenizer, model=model)
    assert "太坑" in model.seen[0][0]


def test_title_is_folded_in_once(tokenizer: Tokenizer) -> None:
    assert post_text("刹车失灵事件通报", "今天下午发生") == "刹车失灵事件通报\n今天下午发生"
    assert post_text("刹车失灵事件通报", "刹车失灵事件通报：今天") == "刹车失灵事件通报：今天"
    [titled] = analyze_posts([("刹车失灵事件通报", "今天下午发生")], tokenizer=tokenizer)
    assert "刹车" in titled.tokens


def test_analyze_records_adds_fields_and_keeps_input(tokenizer: Tokenizer) -> None:
    lines = [
        json.dumps({"id": 1, "text": "小米SU7刹车失灵[怒]", "source": "weibo"}, ensure_ascii=False),
        json.dumps({"id": 2, "text": "這個產品質量太差了"}, ensure_ascii=False),
    ]
    out = list(analyze_records(lines, tokenizer=tokenizer, model=AngryModel()))
    assert [record["id"] for record in out] == [1, 2]
    assert out[0]["source"] == "weibo" and out[0]["sentiment"] == "negative"
    assert out[1]["sentiment"] == "neutral" and out[1]["sentiment_score"] == 0.5
    for record in out:
        assert "error" not in record
        assert len(record["simhash"]) == 16 and int(record["simhash"], 16) >= 0
        assert isinstance(record["keywords"], list)
        json.dumps(record)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 1: invalid JSON"),
        ("[1, 2]", "expected a JSON object, got array"),
        ('"text"', "expected a JSON object, got string"),
        ('{"id": 5}', "missing 'text'"),
        ('{"text": 42}', "'text' must be a string, got number"),
        ('{"text": null}', "'text' must be a string, got null"),
        ('{"text": "好", "title": 3}', "'title' must be a string, got number"),
        ("[" * 100_000, "invalid JSON"),
    ],
)
def test_bad_lines_get_an_error_and_the_batch_goes_on(tokenizer: Tokenizer, line: str, message: str) -> None:
    out = list(analyze_records([line, '{"text": "好评"}'], tokenizer=tokenizer))
    assert len(out) == 2
    assert message in out[0]["error"]
    assert "error" not in out[1] and out[1]["text"] == "好评"


def test_blank_lines_are_skipped_and_line_numbers_count_them(tokenizer: Tokenizer) -> None:
    out = list(analyze_records(["", "  \n", "oops"], tokenizer=tokenizer))
    assert len(out) == 1 and out[0]["error"].startswith("line 3:")


def test_failing_model_is_reported_per_record(tokenizer: Tokenizer) -> None:
    lines = ['{"id": 7, "text": "测试"}', "oops"]
    out = list(analyze_records(lines, tokenizer=tokenizer, model=AngryModel(fail=True)))
    assert out[0]["id"] == 7 and "RuntimeError" in out[0]["error"] and out[0]["error"].startswith("line 1:")
    assert out[1]["error"].startswith("line 2:")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(), st.builds(lambda t: json.dumps({"text": t}), st.text()))))
def test_analyze_records_never_crashes(lines: list[str]) -> None:
    tokenizer = _shared_tokenizer()
    out = list(analyze_records(lines, tokenizer=tokenizer))
    assert len(out) == sum(1 for line in lines if line.strip())
    for record in out:
        assert "error" in record or len(record["simhash"]) == 16


_TOKENIZER: list[Tokenizer] = []


def _shared_tokenizer() -> Tokenizer:
    if not _TOKENIZER:
        _TOKENIZER.append(Tokenizer(["小米SU7"]))
    return _TOKENIZER[0]
