"""Tokenizer: jieba with protected user terms, emoticons and mentions; stop-word filtering."""

from __future__ import annotations

import logging

import jieba
import pytest

from analysis.literals import LiteralIndex
from analysis.normalize import normalize
from analysis.tokenize import Tokenizer, content_terms, default_tokenizer, is_content_term, load_stopwords

BRANDS = ["蔚来ES8", "小米SU7", "比亚迪", "iPhone15", "Model Y", "理想L9"]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(BRANDS)


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("我的iPhone15又发烫了", "iphone15"),
        ("小米SU7刹车失灵", "小米su7"),
        ("刚提的蔚来ES8续航太差", "蔚来es8"),
        ("比亚迪汉开起来不错", "比亚迪"),
        ("特斯拉Model Y降价了", "model y"),
        ("理想L9和小米SU7对比", "理想l9"),
        ("理想L9和小米SU7对比", "小米su7"),
        ("买了小米SU7Max", "小米su7"),
    ],
)
def test_user_terms_are_never_cut_apart(tokenizer: Tokenizer, text: str, term: str) -> None:
    assert term in tokenizer.tokens(text)


def test_without_user_terms_jieba_cuts_brand_names(tokenizer: Tokenizer) -> None:
    plain = Tokenizer()
    assert "蔚来es8" not in plain.tokens("刚提的蔚来ES8续航太差")
    assert "蔚来es8" in tokenizer.tokens("刚提的蔚来ES8续航太差")


def test_add_terms_folds_traditional_and_full_width() -> None:
    local = Tokenizer()
    local.add_terms(["蔚來ＥＳ８", "  "])
    assert local.terms == frozenset({"蔚来es8"})
    assert "蔚来es8" in local.tokens(normalize("我的蔚來ES8壞了").text)


def test_each_tokenizer_has_its_own_dictionary() -> None:
    first, second = Tokenizer(["极氪007"]), Tokenizer()
    assert "极氪007" in first.tokens("极氪007到了")
    assert "极氪007" not in second.tokens("极氪007到了")
    assert "极氪007" not in jieba.dt.FREQ  # the global jieba instance is untouched


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[怒][怒][怒]", ["[怒]", "[怒]", "[怒]"]),
        ("太坑了[泪]", ["太坑", "了", "[泪]"]),
        ("@小米公司 你好", ["@小米公司", "你好"]),
        ("Hello World 你好", ["hello", "world", "你好"]),
        ("  \n ", []),
        ("", []),
    ],
)
def test_tokens_table(tokenizer: Tokenizer, text: str, expected: list[str]) -> None:
    assert tokenizer.tokens(text) == expected


def test_tokens_drop_whitespace_and_lowercase_english(tokenizer: Tokenizer) -> None:
    tokens = tokenizer.tokens("这个 APP 真的   很难用\n客服 Slow")
    assert all(token.strip() == token and token for token in tokens)
    assert "app" in tokens and "slow" in tokens


@pytest.mark.parametrize(
    ("tokens", "kept"),
    [
        (["这个", "产品", "质量", "太差", "了", "！"], ["产品", "质量", "太差"]),
        (["转发微博", "网页链接", "全文", "展开", "回复"], []),
        (["the", "brake", "is", "broken", "a", "x"], ["brake", "broken"]),
        (["2024", "3.5", "100%", "车", "iphone15"], ["车", "iphone15"]),
        (["哈哈哈哈", "啊啊啊", "刹车", "@张三", "[怒]", "，", "😂"], ["刹车", "[怒]"]),
    ],
)
def test_content_terms_table(tokens: list[str], kept: list[str]) -> None:
    assert content_terms(tokens) == kept


def test_stopword_list_is_sensible() -> None:
    words = load_stopwords()
    assert 1000 <= len(words) <= 2000  # stopwords-iso's Chinese list plus the social-media additions
    for word in [
        "的",
        "了",
        "是",
        "在",
        "我",
        "你",
        "他",
        "这",
        "那",
        "就",
        "都",
        "也",
        "和",
        "与",
        "及",
        "转发",
        "微博",
    ]:
        assert word in words
    for content in ["刹车", "投诉", "质量", "小米"]:
        assert is_content_term(content)


def test_default_tokenizer_is_cached() -> None:
    assert default_tokenizer() is default_tokenizer()


def test_jieba_does_not_log_below_warning() -> None:
    Tokenizer().tokens("初始化")
    assert logging.getLogger("jieba").getEffectiveLevel() >= logging.WARNING


def test_literal_index_present_and_spans() -> None:
    index = LiteralIndex(["小米", "小米su7", "su7", "刹", "刹车失灵"])
    text = "小米su7刹车失灵"
    assert index.present(text) == {"小米", "小米su7", "su7", "刹", "刹车失灵"}
    assert index.spans(text) == [(0, 5), (5, 9)]
    assert index.present("华为") == set()
    assert index.present("小米手机和小米su7") == {"小米", "小米su7", "su7"}  # second occurrence counts
    assert LiteralIndex(["米手机"]).spans("小米手机和小米手机") == [(1, 4), (6, 9)]
