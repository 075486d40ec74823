"""The 监测方案 rule language: parsing, precedence, errors, structured form, matching."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.normalize import normalize
from analysis.rules import (
    Rule,
    RuleError,
    RuleSet,
    RuleSyntaxError,
    StructuredRule,
    parse_any,
    parse_rule,
)


@pytest.mark.parametrize(
    ("source", "canonical"),
    [
        ("小米 OR 华为 AND 刹车", "小米 OR 华为 AND 刹车"),
        ("(小米 OR 华为) AND 刹车", "(小米 OR 华为) AND 刹车"),
        ("小米 刹车", "小米 AND 刹车"),  # implicit AND
        ("小米 -广告", "小米 AND NOT 广告"),
        ("小米 !广告 ！抽奖", "小米 AND NOT 广告 AND NOT 抽奖"),
        ("a & b | c && d || e", "a AND b OR c AND d OR e"),
        ("小米 and not 广告 or 华为", "小米 AND NOT 广告 OR 华为"),
        ("小米 或 华为 与 非 广告", "小米 OR 华为 AND NOT 广告"),
        ("非常 好", "非常 AND 好"),  # 非 inside a word is text
        ('"小米 SU7" OR “蔚来 ES8”', '"小米 SU7" OR "蔚来 ES8"'),
        ('"and" OR "NOT"', '"and" OR "NOT"'),
        ("Wi-Fi X-5", "Wi-Fi AND X-5"),
        ("（小米 OR 华为）刹车", "(小米 OR 华为) AND 刹车"),
        ("蔚來ＥＳ８", "蔚来ES8"),
        ("((a))", "a"),
        ("a AND (b AND c)", "a AND b AND c"),
        ("NOT NOT a", "NOT NOT a"),
        ("a AND NOT (b OR c)", "a AND NOT (b OR c)"),
    ],
)
def test_canonical_form(source: str, canonical: str) -> None:
    rule = parse_rule(source)
    assert str(rule) == canonical
    assert parse_rule(str(rule)) == rule


@pytest.mark.parametrize(
    ("source", "text", "matches"),
    [
        ("小米 OR 华为 AND 刹车", "小米新车发布", True),  # AND binds tighter than OR
        ("小米 OR 华为 AND 刹车", "华为新车发布", False),
        ("(小米 OR 华为) AND 刹车", "小米新车发布", False),
        ("(小米 OR 华为) AND 刹车", "华为刹车失灵", True),
        ("小米 NOT 广告", "小米SU7刹车失灵", True),
        ("小米 NOT 广告", "小米SU7广告", False),
        ("NOT 广告 小米", "小米", True),
        ('"刹车 失灵"', "小米刹车 失灵了", True),
        ('"刹车 失灵"', "刹车没有失灵", False),
        ("iPhone15 发烫", "我的IPHONE15又发烫了", True),  # case-insensitive
        ("小米SU7", "小米 su7 怎么样", True),  # whitespace-insensitive
        ("这个产品 质量", "這個產品質量太差了", True),  # 繁體 text, simplified rule
        ("這個產品", "这个产品", True),  # 繁體 rule, simplified text
        ("ＳＵ７", "su7", True),
        ("a OR b OR c", "", False),
    ],
)
def test_matching(source: str, text: str, matches: bool) -> None:
    rule = parse_rule(source)
    assert rule.matches(text) is matches
    assert rule.matches(normalize(text).text) is matches


@pytest.mark.parametrize(
    ("source", "position", "expected"),
    [
        ("", 1, "a term"),
        ("   ", 1, "a term"),
        ("小米 AND", 7, "a term"),
        ("AND 小米", 1, "a term"),
        ("小米 OR OR 华为", 7, "a term"),
        ("(小米 OR 华为", 10, "')'"),
        ("(小米 OR (华为 AND 刹车)", 19, "')'"),
        ("小米)", 3, "end of rule"),
        ("()", 2, "a term"),
        ("小米 (", 5, "a term"),
        ("NOT", 4, "a term"),
        ("小米 NOT", 7, "a term"),
        ('"小米', 4, "a closing quote"),
        ("小米 “SU7", 8, "a closing quote"),
        ('""', 2, "text inside the quotes"),
        ("小米, 华为", 3, "OR"),
        ("小米、华为", 3, "OR"),
        ("NOT 广告", 1, "a positive term"),
        ("小米 OR NOT 广告", 1, "a positive term"),
        ("小米 & | 华为", 6, "a term"),
        ("(" * 80 + "a" + ")" * 80, 65, "a term"),
        ("a" * 10_001, 10_001, "a shorter rule"),
    ],
)
def test_syntax_errors_name_position_and_expectation(source: str, position: int, expected: str) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule(source)
    error = caught.value
    assert error.position == position
    assert expected in error.expected
    assert f"column {position}" in error.message
    assert f"第 {position} 个字符处应为" in error.message_zh
    assert isinstance(error, ValueError)


def test_error_message_example() -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule("(小米 OR 华为 AND 刹车")
    assert caught.value.message_zh.startswith("第 17 个字符处应为 ')'")
    assert caught.value.message.startswith("expected ')' at column 17")


STRUCTURED = StructuredRule(("小米", "华为"), ("北京",), ("刹车", "自燃"), ("广告", "抽奖"))
STRING_FORM = "(小米 OR 华为) AND 北京 AND (刹车 OR 自燃) AND NOT (广告 OR 抽奖)"


def test_structured_form_equals_string_form() -> None:
    compiled = STRUCTURED.compile()
    assert compiled == parse_rule(STRING_FORM)
    assert str(compiled) == STRING_FORM
    for text in ["北京小米刹车失灵", "北京华为自燃", "上海小米刹车", "北京小米刹车广告", "北京小米", ""]:
        assert compiled.matches(text) is parse_rule(STRING_FORM).matches(text)


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        ({"subject": ["小米"]}, "小米"),
        ({"subject": ["小米", "小米", " "], "region": [], "event": ["刹车"]}, "小米 AND 刹车"),
        ({"subject": ["小米 SU7"], "exclude": ["广告"]}, '"小米 SU7" AND NOT 广告'),
        ({"subject": ["and"]}, '"and"'),
        ({"subject": ["蔚來"]}, "蔚来"),
        ("小米 刹车", "小米 AND 刹车"),
    ],
)
def test_parse_any(value: str | dict[str, list[str]], canonical: str) -> None:
    assert str(parse_any(value)) == canonical


@pytest.mark.parametrize(
    "value",
    [
        {"subject": []},
        {"subject": ["  "]},
        {"region": ["北京"]},
        {"subject": "小米"},
        {"subject": [1]},
        {"subject": ["小米"], "bogus": []},
        {"subject": ['他说"好"']},
        {"tree": {"not": {"term": "广告"}}},
        {"tree": {"and": []}},
        {"tree": {"term": ""}},
        {"nothing": 1},
    ],
)
def test_parse_any_rejects_bad_dicts(value: dict[str, object]) -> None:
    with pytest.raises(RuleError) as caught:
        parse_any(value)  # type: ignore[arg-type]
    assert caught.value.message and caught.value.message_zh


def test_empty_subject_message() -> None:
    with pytest.raises(RuleError) as caught:
        parse_any({"subject": [], "event": ["刹车"]})
    assert caught.value.message_zh == "主体词不能为空"


def test_dict_roundtrip_and_terms() -> None:
    rule = parse_rule('(蔚来ES8 OR "小米 SU7") AND (刹车 OR 自燃) -广告')
    data = json.loads(json.dumps(rule.to_dict(), ensure_ascii=False))
    assert Rule.from_dict(data) == rule
    assert parse_any(data) == rule
    assert Rule.from_dict({"expr": data["expr"]}) == rule
    assert rule.terms() == {"蔚来ES8", "小米 SU7", "刹车", "自燃", "广告"}
    assert StructuredRule.from_dict(STRUCTURED.to_dict()) == STRUCTURED


def test_rule_set_matches_like_individual_rules() -> None:
    rules = {
        "xiaomi": parse_rule("小米 (刹车 OR 自燃) -广告"),
        "nio": parse_rule("蔚来 续航"),
        "any-brake": parse_rule("刹车 OR 制动"),
        "quality": STRUCTURED.compile(),
    }
    rule_set = RuleSet(rules)
    texts = [
        "小米刹车失灵",
        "蔚来续航虚标",
        "北京华为自燃",
        "小米刹车广告",
        "制动距离太长",
        "無關的內容",
        "北京小米刹車",
    ]
    for text in texts:
        assert rule_set.match(text) == [key for key, rule in rules.items() if rule.matches(text)]
    assert rule_set.match("北京小米刹車") == ["xiaomi", "any-brake", "quality"]


def test_rule_set_wakes_a_rule_by_its_rarest_group() -> None:
    from analysis.rules import _trigger

    assert _trigger(parse_rule("(小米 OR 华为 OR 蔚来) AND 刹车 -广告").root) == {"刹车"}
    assert _trigger(parse_rule("(小米 OR 华为) AND (刹车 OR 自燃)").root) == {"小米", "华为"}
    assert _trigger(parse_rule("a OR b c").root) == {"a", "b"}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(["小米", "刹车", "华为", "广告", "OR", "AND", "NOT", "(", ")"]), max_size=8),
        max_size=6,
    ),
    st.text(alphabet="小米刹车华为广告 ", max_size=12),
)
def test_rule_set_agrees_with_single_rules(sources: list[list[str]], text: str) -> None:
    rules = {}
    for number, pieces in enumerate(sources):
        try:
            rules[number] = parse_rule(" ".join(pieces))
        except RuleSyntaxError:
            continue
    assert RuleSet(rules).match(text) == [key for key, rule in rules.items() if rule.matches(text)]


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_parse_rule_on_arbitrary_text_returns_a_rule_or_raises_syntax_error(source: str) -> None:
    try:
        rule = parse_rule(source)
    except RuleSyntaxError as error:
        assert 1 <= error.position <= len(source) + 1
        return
    assert parse_rule(str(rule)) == rule


OPERATOR_SOUP = st.lists(
    st.sampled_from(
        [
            "小米",
            "刹车",
            "a",
            "AND",
            "OR",
            "NOT",
            "与",
            "或",
            "非",
            "(",
            ")",
            "（",
            "）",
            '"',
            "“",
            "-",
            "!",
            "&",
            "|",
            " ",
            ",",
            "非常",
        ]
    ),
    max_size=30,
)


@settings(max_examples=400, deadline=None)
@given(OPERATOR_SOUP)
def test_parse_rule_on_operator_soup(pieces: list[str]) -> None:
    source = " ".join(pieces)
    try:
        rule = parse_rule(source)
    except RuleSyntaxError as error:
        assert 1 <= error.position <= len(source) + 1
        return
    assert parse_rule(str(rule)) == rule
    assert not rule.matches("")
