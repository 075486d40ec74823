"""normalize(): HTML, 繁体, width, URLs, mentions, hashtags, emoticons and repost chains."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.normalize import NormalizedText, normalize
from analysis.textfold import fold_chars, fold_for_match, to_simplified


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("這個產品質量太差了", "这个产品质量太差了"),
        ("蔚來ES8的電池續航根本達不到宣傳的數據", "蔚来ES8的电池续航根本达不到宣传的数据"),
        ("一目瞭然", "一目了然"),  # a TSPhrases entry
        ("ＡＢＣ１２３！", "ABC123！"),
        ("ｉＰｈｏｎｅ１５　又发烫了（真的），：；？", "iPhone15 又发烫了（真的），：；？"),
        ("＃小米ＳＵ７＃［怒］＠张三", "#小米SU7#[怒]@张三"),
        ("A &amp; B &lt;3 &#x4e2d;&#25991;", "A & B <3 中文"),
        ("第一行<br>第二行<br/>第三行", "第一行\n第二行\n第三行"),
        ("<p>段落一</p><p>段落二</p>", "段落一\n段落二"),
        ("<b>加粗</b>正文<script>alert(1)</script><!-- 注释 -->", "加粗正文"),
        ("  多个   空格 \t 和\n\n\n 空行  ", "多个 空格 和\n空行"),
        ("零\u200b宽\ufeff字符\u200d", "零宽字符"),
        ("坏的代理对\ud800结束", "坏的代理对\ufffd结束"),
        ("内容很长...展开全文c", "内容很长"),
        ("", ""),
    ],
)
def test_normalized_text(raw: str, text: str) -> None:
    assert normalize(raw).text == text


def test_repost_chain_splits_layers_and_own_text() -> None:
    result = normalize("太坑了//@张三:确实//@李四:某品牌汽车刹车失灵")
    assert result.own_text == "太坑了"
    assert result.repost_chain == [("张三", "确实"), ("李四", "某品牌汽车刹车失灵")]
    assert result.mentions == []  # chain markers are not mentions


@pytest.mark.parametrize(
    ("raw", "own", "chain"),
    [
        ("转发微博//@王五： 原文在这里", "转发微博", [("王五", "原文在这里")]),
        ("//@赵六:只有转发", "", [("赵六", "只有转发")]),
        ("同意 //@Tom_Lee: agree //@小明-2:原帖", "同意", [("Tom_Lee", "agree"), ("小明-2", "原帖")]),
        ("不是转发 // @某人 没有冒号", "不是转发 // @某人 没有冒号", []),
        ("這樣不行//@張三:確實", "这样不行", [("张三", "确实")]),
    ],
)
def test_repost_chain_table(raw: str, own: str, chain: list[tuple[str, str]]) -> None:
    result = normalize(raw)
    assert (result.own_text, result.repost_chain) == (own, chain)


def test_emoticons_are_listed_with_repeats_and_kept_in_text() -> None:
    result = normalize("[怒][怒][怒]")
    assert result.emoticons == ["[怒]", "[怒]", "[怒]"]
    assert result.text == "[怒][怒][怒]"
    assert normalize("哈哈[doge][笑cry][泪] 引用[1]").emoticons == ["[doge]", "[笑cry]", "[泪]"]


def test_urls_are_listed_and_removed_from_text() -> None:
    result = normalize("看这里http://t.cn/A6xyz，还有 https://example.com/a?b=1&c=2. 完")
    assert result.urls == ["http://t.cn/A6xyz", "https://example.com/a?b=1&c=2"]
    assert "http" not in result.text and "t.cn" not in result.text
    assert result.text.endswith(". 完")


def test_url_right_before_repost_marker_keeps_the_chain() -> None:
    result = normalize("看 http://t.cn/A6xyz//@张三:确实")
    assert result.urls == ["http://t.cn/A6xyz"]
    assert result.repost_chain == [("张三", "确实")]


def test_mentions_and_hashtags() -> None:
    result = normalize("@小米公司 你们的SU7呢 #小米SU7事故# 联系 user@example.com @小米公司 #维权#")
    assert result.mentions == ["小米公司"]  # distinct; the e-mail address is not a mention
    assert result.hashtags == ["小米SU7事故", "维权"]
    assert "@小米公司" in result.own_text  # mentions stay in the text


def test_weibo_html_links_images_and_mentions() -> None:
    raw = (
        '<a href="https://weibo.cn/sinaurl?u=x">网页链接</a> 太差了'
        '<img alt="[泪]" src="https://face.t.sinajs.cn/t4/x.png"> '
        '<a href="/n/张三">@张三</a> <a href="https://m.weibo.cn/search?q=x">#刹车失灵#</a>'
    )
    result = normalize(raw)
    assert result.urls == ["https://weibo.cn/sinaurl?u=x"]
    assert result.text == "太差了[泪] @张三 #刹车失灵#"
    assert (result.emoticons, result.mentions, result.hashtags) == (["[泪]"], ["张三"], ["刹车失灵"])


def test_result_is_a_frozen_dataclass() -> None:
    result = normalize("测试")
    assert isinstance(result, NormalizedText)
    with pytest.raises(AttributeError):
        result.text = "x"  # type: ignore[misc]


def test_fast_simplified_conversion_equals_opencc() -> None:
    """The translate-table fast path must give exactly what OpenCC('t2s') gives."""
    import opencc
    from opencc import OpenCC

    converter = OpenCC("t2s")
    folder = Path(opencc.__file__).parent / "dictionary"
    chars = [line.split("\t")[0] for line in (folder / "TSCharacters.txt").read_text("utf-8").splitlines()]
    phrases = [line.split("\t")[0] for line in (folder / "TSPhrases.txt").read_text("utf-8").splitlines()]
    rng = random.Random(7)
    samples = ["這個產品質量太差了，客服態度也很惡劣！", "乾隆皇帝 乾燥 天干物燥", "中文 English 123"]
    samples += ["".join(rng.choices(chars, k=40)) for _ in range(50)]
    samples += [f"前面{phrase}後面" for phrase in phrases]
    for sample in samples:
        assert to_simplified(sample) == converter.convert(sample), sample


def test_fold_for_match_ignores_case_width_script_and_spaces() -> None:
    assert fold_for_match("小米 ＳＵ７ 這個") == fold_for_match("小米su7这个") == "小米su7这个"
    assert fold_chars("！？，") == "！？，"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_normalize_never_raises_and_is_clean(raw: str) -> None:
    result = normalize(raw)
    assert "\u200b" not in result.text
    assert all(not ("\ud800" <= char <= "\udfff") for char in result.text)
    assert result.text == result.text.strip()
    assert result.own_text in result.text


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list("<>&#;/@:[]ax中文轉發 \n\"'=") + ["//@", "&amp;", "<br>", "http://"])))
def test_normalize_never_raises_on_markup_like_text(pieces: list[str]) -> None:
    result = normalize("".join(pieces))
    assert result.own_text in result.text


@pytest.mark.parametrize(
    "hostile",
    [
        "<a href=x>" * 5000,
        '<img alt="' * 10000,
        "<script>" * 5000,
        "<!--" * 10000 + "-->",
        "#a" * 20000,
        "//@" * 20000,
    ],
)
def test_hostile_markup_stays_fast(hostile: str) -> None:
    import time

    started = time.perf_counter()
    normalize(hostile)
    assert time.perf_counter() - started < 2.0
