"""SimHash near-duplicates, the short-text rule, signed storage and the band index."""

from __future__ import annotations

import random

import pytest

from analysis.normalize import normalize
from analysis.simhash import (
    MIN_FEATURE_TOKENS,
    SimhashIndex,
    from_signed,
    hamming,
    simhash,
    simhash_many,
    to_signed,
)
from analysis.tokenize import Tokenizer

POST = "小米SU7在高速上突然刹车失灵，车主差点出事故，官方客服到现在都没有给出任何解释，大家买车一定要小心！"
NEAR_COPIES = [
    POST.replace("！", "。"),
    POST + "[怒][怒]",
    "转发：" + POST,
    "@小米汽车 " + POST,
    POST.replace("大家", "各位"),
    POST.replace("小米SU7", "小米SU７"),
    "這" + POST[1:] if POST.startswith("这") else POST.replace("刹车失灵", "刹車失靈"),
]
UNRELATED = [
    "今天天气很好，我们一家人去公园散步，看到很多花都开了，心情特别舒畅。",
    "蔚来ES8的电池续航根本达不到宣传的数据，冬天开暖气只能跑两百公里，真的很失望。",
    "小米SU7的内饰设计很漂亮，座椅也很舒服，就是价格有点贵，大家怎么看？",
    "小米SU7在高速上刹车有异响，去4S店检查说是正常现象，官方客服也说没问题。",
]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer(["小米SU7", "蔚来ES8"])


def _hash(tokenizer: Tokenizer, text: str) -> int:
    return simhash(tokenizer.tokens(normalize(text).text))


@pytest.mark.parametrize("copy", NEAR_COPIES)
def test_near_copies_are_within_three_bits(tokenizer: Tokenizer, copy: str) -> None:
    assert hamming(_hash(tokenizer, POST), _hash(tokenizer, copy)) <= 3


@pytest.mark.parametrize("other", UNRELATED)
def test_unrelated_posts_are_far_apart(tokenizer: Tokenizer, other: str) -> None:
    assert hamming(_hash(tokenizer, POST), _hash(tokenizer, other)) > 12


def test_hash_is_stable_across_processes() -> None:
    # blake2b-based: the same tokens give this exact value in every process and Python version.
    assert simhash(["刹车", "失灵", "小米", "投诉"]) == simhash(["投诉", "小米", "失灵", "刹车"])
    assert simhash(["刹车", "失灵", "小米", "投诉"]) == 0xC0A84E394002052C


@pytest.mark.parametrize(
    ("first", "second", "clusters"),
    [
        (["[怒]", "[怒]", "[怒]"], ["[怒]", "[怒]", "[怒]"], True),
        (["[怒]", "[怒]", "[怒]"], ["[怒]", "[怒]"], False),
        (["太坑", "了"], ["太坑", "了", "！"], True),  # punctuation ignored
        (["太坑", "了"], ["真", "坑"], False),
        (["好"], ["差"], False),
        ([], [], True),
    ],
)
def test_short_texts_cluster_only_when_identical(first: list[str], second: list[str], clusters: bool) -> None:
    assert (hamming(simhash(first), simhash(second)) <= 3) is clusters


def test_short_texts_do_not_sit_near_long_ones() -> None:
    rng = random.Random(3)
    words = ["刹车", "失灵", "投诉", "续航", "电池", "客服", "退货", "质量", "召回", "维权"]
    long_hashes = [simhash(rng.sample(words, MIN_FEATURE_TOKENS + 2)) for _ in range(200)]
    for short in (["[怒]"], ["太坑"], ["刹车", "失灵"], []):
        assert min(hamming(simhash(short), other) for other in long_hashes) > 3


@pytest.mark.parametrize("value", [0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 0xDEADBEEFCAFEBABE])
def test_signed_roundtrip(value: int) -> None:
    signed = to_signed(value)
    assert -(1 << 63) <= signed < (1 << 63)
    assert from_signed(signed) == value


def test_index_clusters_near_duplicates_and_keeps_others_apart(tokenizer: Tokenizer) -> None:
    index: SimhashIndex[str] = SimhashIndex(k=3)
    assert index.add("post-1", _hash(tokenizer, POST)) == "post-1"
    for number, copy in enumerate(NEAR_COPIES, start=2):
        assert index.add(f"post-{number}", _hash(tokenizer, copy)) == "post-1"
    for number, other in enumerate(UNRELATED, start=100):
        assert index.add(f"post-{number}", _hash(tokenizer, other)) == f"post-{number}"


def test_index_finds_every_hash_within_k_bits() -> None:
    rng = random.Random(5)
    for k in (0, 1, 3, 6):
        index: SimhashIndex[int] = SimhashIndex(k=k)
        base = rng.getrandbits(64)
        index.add(1, base)
        for trial in range(50):
            flipped = base
            for bit in rng.sample(range(64), k):
                flipped ^= 1 << bit
            assert index.add(100 + trial, flipped) == 1
        fresh: SimhashIndex[int] = SimhashIndex(k=k)
        fresh.add(1, base)
        far = base
        for bit in rng.sample(range(64), k + 1):
            far ^= 1 << bit
        assert fresh.add(2, far) == 2


def test_index_prefers_the_earliest_cluster_and_respects_capacity() -> None:
    index: SimhashIndex[str] = SimhashIndex(k=3, capacity=2)
    assert index.add("a", 0b0) == "a"
    assert index.add("b", 0b1111_0000) == "b"
    assert index.add("c", 0b1) == "a"  # close to a (1 bit) and to nothing else
    assert len(index) == 2  # a was evicted when c arrived
    assert index.add("d", 0b0) == "a"  # c (cluster a) is still there, 1 bit away
    with pytest.raises(ValueError):
        SimhashIndex(k=64)


def test_a_batch_hashes_each_post_as_alone(tokenizer: Tokenizer) -> None:
    """`simhash_many` (what `analyze_posts` calls) votes a whole batch at once: each post's hash is
    the one it gets alone, short and long posts mixed, in order."""
    texts = [POST, "太坑了", *NEAR_COPIES, "", *UNRELATED, "[怒][怒][怒]"]
    token_lists = [tokenizer.tokens(normalize(text).text) for text in texts]
    alone = [simhash_many([tokens])[0] for tokens in token_lists]
    assert simhash_many(token_lists) == alone
    assert alone[0] == simhash(token_lists[0]) and len(set(alone)) > len(UNRELATED)
    assert simhash_many([]) == []
