"""analyze_text and the JSONL batch path analyze_records."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.analyze import analyze_records, analyze_text
from analysis.simhash import simhash
from analysis.tokenize import Tokenizer


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(["小米SU7"])


def _negative_if_angry(own_text: str, tokens: Sequence[str]) -> tuple[str, float]:
    return ("negative", -0.9) if "[怒]" in tokens or "坑" in own_text else ("neutral", 0.0)


def test_analyze_text_without_sentiment(tokenizer: Tokenizer) -> None:
    result = analyze_text("小米SU7刹车失灵，太吓人了[怒]", tokenizer=tokenizer)
    assert result.tokens[0] == "小米su7"
    assert "刹车" in result.keywords and "[怒]" not in result.keywords
    assert result.simhash == simhash(result.tokens)
    assert (result.sentiment, result.sentiment_score) == (None, None)
    assert len(result.simhash_hex) == 16


def test_sentiment_scores_own_text_only(tokenizer: Tokenizer) -> None:
    seen: list[tuple[str, list[str]]] = []

    def scorer(own_text: str, tokens: Sequence[str]) -> tuple[str, float]:
        seen.append((own_text, list(tokens)))
        return _negative_if_angry(own_text, tokens)

    result = analyze_text(
        "太坑了//@张三:确实//@李四:某品牌汽车刹车失灵", tokenizer=tokenizer, sentiment=scorer
    )
    assert seen == [("太坑了", ["太坑", "了"])]
    assert (result.sentiment, result.sentiment_score) == ("negative", -0.9)
    assert "刹车" in result.tokens  # tokens and keywords cover the whole chain


def test_analyze_records_adds_fields_and_keeps_input(tokenizer: Tokenizer) -> None:
    lines = [
        json.dumps({"id": 1, "text": "小米SU7刹车失灵[怒]", "source": "weibo"}, ensure_ascii=False),
        json.dumps({"id": 2, "text": "這個產品質量太差了"}, ensure_ascii=False),
    ]
    out = list(analyze_records(lines, tokenizer=tokenizer, sentiment=_negative_if_angry))
    assert [record["id"] for record in out] == [1, 2]
    assert out[0]["source"] == "weibo" and out[0]["sentiment"] == "negative"
    assert out[1]["sentiment"] == "neutral" and out[1]["sentiment_score"] == 0.0
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


def test_failing_scorer_is_reported_per_record(tokenizer: Tokenizer) -> None:
    def broken(own_text: str, tokens: Sequence[str]) -> tuple[str, float]:
        raise RuntimeError("model missing")

    [record] = analyze_records(['{"id": 7, "text": "测试"}'], tokenizer=tokenizer, sentiment=broken)
    assert record["id"] == 7 and "RuntimeError" in record["error"]


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
