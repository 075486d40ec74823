"""Per-post keywords, document frequencies and window keywords."""

from __future__ import annotations

import json

import pytest

from analysis.keywords import DocumentFrequencies, IdfTable, builtin_idf, top_terms, window_keywords
from analysis.normalize import normalize
from analysis.tokenize import Tokenizer, content_terms


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(["小米SU7", "蔚来ES8"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("小米SU7在高速上刹车失灵，车主差点出事故，刹车问题太吓人了", {"刹车", "小米su7"}),
        ("蔚来ES8的电池续航根本达不到宣传的数据，续航虚标", {"续航", "蔚来es8"}),
        ("这个产品质量太差了，客服态度也很恶劣，我们要求退货", {"产品质量", "退货"}),
    ],
)
def test_top_terms_pick_the_topic_words(tokenizer: Tokenizer, text: str, expected: set[str]) -> None:
    keywords = top_terms(tokenizer.tokens(normalize(text).text), k=5)
    assert len(keywords) == 5
    assert expected <= set(keywords)
    assert not {"的", "了", "也", "我们", "，"} & set(keywords)


def test_top_terms_edge_cases(tokenizer: Tokenizer) -> None:
    assert top_terms(tokenizer.tokens("[怒][怒][怒]")) == []  # emoticons are not keywords
    assert top_terms([]) == []
    assert top_terms(["刹车", "失灵"], k=0) == []
    assert top_terms(["刹车", "失灵", "刹车"], k=1) == ["刹车"]


def test_top_terms_use_a_given_idf() -> None:
    table = IdfTable({"苹果": 0.1, "召回": 5.0})
    assert top_terms(["苹果", "苹果", "召回"], k=1, idf=table.idf) == ["召回"]
    assert top_terms(["苹果", "苹果", "召回"], k=1, idf=lambda term: 1.0) == ["苹果"]


def test_builtin_idf_is_jiebas_table() -> None:
    table = builtin_idf()
    assert len(table) > 200_000
    assert table.idf("刹车") > table.idf("中国")
    assert table.idf("这个词肯定不在表里xyz") == table.default


def test_document_frequencies_roundtrip_and_merge() -> None:
    first, second = DocumentFrequencies(), DocumentFrequencies()
    first.add(["刹车", "刹车", "小米"])
    first.add(["小米"])
    second.add(["续航"])
    first.merge(second)
    assert (first.documents, first.count("刹车"), first.count("小米"), first.count("续航")) == (3, 1, 2, 1)
    assert first.idf("小米") < first.idf("刹车") < first.idf("没见过")
    restored = DocumentFrequencies.from_dict(json.loads(json.dumps(first.to_dict())))
    assert restored.to_dict() == first.to_dict()
    assert first.prune(2) == 2 and len(first) == 1


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"documents": -1, "counts": {}},
        {"documents": 1, "counts": []},
        {"documents": 1, "counts": {"a": "x"}},
    ],
)
def test_document_frequencies_reject_malformed_dicts(data: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        DocumentFrequencies.from_dict(data)


def test_window_keywords_prefer_window_specific_terms(tokenizer: Tokenizer) -> None:
    background = [
        "小米SU7外观很好看",
        "小米SU7内饰不错",
        "今天去试驾了小米SU7",
        "小米SU7的价格有点贵",
    ] * 5
    window = [
        "小米SU7刹车失灵了",
        "又一辆小米SU7刹车失灵",
        "刹车失灵太吓人，小米SU7回应了吗",
        "小米SU7内饰不错",
    ]
    df = DocumentFrequencies()
    for text in background + window:
        df.add(content_terms(tokenizer.tokens(text)))
    docs = [tokenizer.tokens(normalize(text).text) for text in window]
    ranked = window_keywords(docs, df, k=3)
    assert [term for term, _ in ranked][:2] == ["失灵", "刹车"] or [term for term, _ in ranked][:2] == [
        "刹车",
        "失灵",
    ]
    assert all(score > 0 for _, score in ranked)
    assert ranked == sorted(ranked, key=lambda item: (-item[1], item[0]))
    assert window_keywords([], df) == []


def _demo_texts(count: int) -> list[str]:
    """Real Weibo posts shipped with the demo (research corpora, see app/demo/data/PROVENANCE.md)."""
    import gzip
    import json
    from pathlib import Path

    import app.demo

    path = Path(app.demo.__file__).parent / "data" / "sample.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line)["text"] for _, line in zip(range(count), handle, strict=False)]


def test_keywords_of_real_posts_have_no_single_characters_or_stop_words() -> None:
    from analysis.keywords import top_terms
    from analysis.normalize import normalize
    from analysis.tokenize import Tokenizer, load_stopwords

    tokenizer = Tokenizer()
    stop = load_stopwords()
    texts = _demo_texts(400)
    seen = 0
    for text in texts:
        tokens = tokenizer.tokens(normalize(text).text)
        for term in top_terms(tokens, k=5):
            seen += 1
            assert len(term) >= 2, (term, text)
            assert term not in stop, (term, text)
    assert seen > 800  # the posts do have keywords


def test_single_characters_the_analysts_saw_are_not_keywords() -> None:
    from analysis.keywords import is_keyword_candidate, top_terms

    for char in ("话", "出", "语", "卖", "管"):
        assert not is_keyword_candidate(char)
    assert sorted(top_terms(["卖", "话", "召回", "刹车", "出", "的", "我们"], k=5)) == ["刹车", "召回"]


def test_stop_words_come_from_the_maintained_list_plus_social_media_additions() -> None:
    import stopwordsiso

    from analysis.tokenize import load_stopwords

    words = load_stopwords()
    assert stopwordsiso.stopwords("zh") <= words
    assert {"转发微博", "网页链接", "展开全文"} <= words  # the project's social-media additions
    assert not {"召回", "刹车", "维权", "投诉"} & words
