"""Notice serialisation, Chinese composition, escaping and byte-aware fitting."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.grading import Grade
from app.channels import Notice, make_digest
from app.channels.markup import Markup, SlackMarkup, WeComMarkup, clean_text, neutralise, safe_url
from app.channels.message import (
    TRUNCATED_TAIL,
    compose,
    cut_line,
    paginate,
    plain_title,
    sparkline,
    truncate_bytes,
    utf8_len,
)
from app.core.vocab import DeliveryStatus, IncidentStatus, NoticeKind
from tests.app.channels.conftest import NOW, make_notice


def test_grades_in_order_with_chinese_labels() -> None:
    assert [grade.value for grade in Grade] == ["general", "persistent", "influential", "severe"]
    assert [grade.label for grade in Grade] == ["一般", "纠缠性", "影响类", "严重"]
    assert [grade.rank for grade in Grade] == [0, 1, 2, 3]


def test_vocabularies_keep_their_stored_strings() -> None:
    """The enums' values are the words already stored in the database and the outbox JSON."""
    assert [s.value for s in IncidentStatus] == ["open", "acknowledged", "resolved"]
    assert [k.value for k in NoticeKind] == [
        "incident_opened",
        "escalated",
        "resolved",
        "reminder",
        "test",
        "digest",
        "report",
    ]
    assert [s.value for s in DeliveryStatus] == ["pending", "delivered", "failed", "superseded"]
    notice = make_notice()
    data = notice.to_dict()
    assert type(data["kind"]) is str and type(data["grade"]) is str and type(data["status"]) is str
    again = Notice.from_dict(data)
    assert again.kind is NoticeKind(data["kind"]) and again.grade is Grade(data["grade"])
    with pytest.raises(ValueError, match="unknown grade"):
        Notice.from_dict({**data, "grade": "critical"})


def test_notice_round_trips_through_json() -> None:
    notice = make_notice()
    again = Notice.from_dict(json.loads(json.dumps(notice.to_dict(), ensure_ascii=False)))
    assert again == notice
    assert again.top_posts[0].published_at == notice.top_posts[0].published_at


def test_digest_round_trips_and_takes_the_most_serious_grade() -> None:
    items = [make_notice(id="a", grade="general"), make_notice(id="b", grade="influential", topic="另一话题")]
    digest = make_digest(items, created_at=NOW, digest_id="d1")
    assert (digest.kind, digest.grade, digest.topic) == ("digest", "influential", "2 个话题")
    assert Notice.from_dict(json.loads(json.dumps(digest.to_dict()))) == digest


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": "explosion"}, "kind"),
        ({"grade": "critical"}, "grade"),
        ({"status": "closed"}, "status"),
        ({"created_at": NOW.replace(tzinfo=None)}, "timezone"),
    ],
)
def test_notice_refuses_nonsense(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_notice(**overrides)


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], ""), ([0, 0, 0], "▁▁▁"), ([0, 4, 8], "▁▅█"), ([5, 5], "██"), ([-3, 7], "▁█")],
)
def test_sparkline(values: list[int], expected: str) -> None:
    assert sparkline(values) == expected


def test_sparkline_keeps_the_most_recent_buckets() -> None:
    assert len(sparkline(list(range(100)))) == 24


@pytest.mark.parametrize(
    ("kind", "grade", "title"),
    [
        ("incident_opened", "severe", "【严重】舆情预警 · 某乳业品牌"),
        ("escalated", "influential", "【影响类】舆情升级 · 某乳业品牌"),
        ("resolved", "persistent", "【纠缠性】舆情已解除 · 某乳业品牌"),
        ("reminder", "general", "【一般】舆情提醒 · 某乳业品牌"),
        ("test", "general", "【测试】预警通道测试 · 某乳业品牌"),
    ],
)
def test_titles_carry_grade_and_topic(kind: str, grade: str, title: str) -> None:
    assert plain_title(make_notice(kind=kind, grade=grade), Markup()) == title


def test_compose_lays_out_the_incident() -> None:
    composed = compose(make_notice(), Markup())
    text = "\n".join([composed.title_line, *composed.head, *composed.body, *composed.foot])
    assert composed.title_line == "### 【严重】舆情预警 · 某乳业品牌"
    assert "**负面声量 5 分钟内 312 条，为基线 8.4 倍**" in text
    assert "趋势 ▁▁▁▁▁▁▁▂▄█（近 10 个时段，峰值 312）" in text
    assert "[喝了之后孩子拉肚子，客服还推脱责任//＠某人: 转发](https://weibo.com/1234567890/PqRsT)" in text
    assert "宝妈小林 · 微博 · 情感 -0.93 · 11-23 19:53" in text
    assert "**高频词**：拉肚子、退款、客服、Milk Pro" in text
    assert "1. 30 分钟内核实事实并同步法务" in text
    assert composed.links == [
        ("查看事件", "https://yuqing.example.com/incidents/42"),
        ("API", "https://yuqing.example.com/api/v1/incidents/42"),
    ]
    assert composed.foot == ["时间：11-23 20:00（北京时间）"]


def test_compose_limits_posts_and_says_how_many_are_hidden() -> None:
    composed = compose(make_notice(), Markup(), max_posts=1)
    assert "另有 1 条未列出" in composed.body


def test_wecom_colours_the_grade() -> None:
    assert compose(make_notice(), WeComMarkup()).title_line.startswith(
        '### 【<font color="warning">严重</font>】'
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@all 看这里", "＠all 看这里"),
        ("<@U123> <!channel>", "＜＠U123＞ ＜!channel＞"),
        ("[x](javascript:alert(1))", "［x］（javascript:alert（1））"),
        ("<script>alert(1)</script>", "＜script＞alert（1）＜/script＞"),
        ("第一行\n# 第二行\r\n> 引用", "第一行 ＃ 第二行 ＞ 引用"),
        ("隐\u200b藏\u202e字符\x00", "隐藏字符"),
        ("**粗** _斜_ ~删~ `码` |表|", "＊＊粗＊＊ ＿斜＿ ～删～ ｀码｀ ｜表｜"),
    ],
)
def test_untrusted_text_becomes_inert(raw: str, expected: str) -> None:
    assert neutralise(clean_text(raw)) == expected


def test_clean_text_cuts_long_text_with_an_ellipsis() -> None:
    assert clean_text("舆" * 100, 10) == "舆" * 9 + "…"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://weibo.com/1/AbC?x=1#y", "https://weibo.com/1/AbC?x=1#y"),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        ("data:text/html,<b>x</b>", None),
        ("https://evil.example/a)(b [c]", "https://evil.example/a%29%28b%20%5Bc%5D"),
        ("https://x.example/a|b>c", "https://x.example/a%7Cb%3Ec"),
        ("https://zh.wikipedia.org/wiki/舆情", "https://zh.wikipedia.org/wiki/%E8%88%86%E6%83%85"),
        ("https://x.example/" + "a" * 600, None),
        (None, None),
    ],
)
def test_safe_url(url: str | None, expected: str | None) -> None:
    assert safe_url(url) == expected


def test_slack_links_cannot_be_closed_by_the_url() -> None:
    assert SlackMarkup().link("标签", "https://x.example/a|b>c") == "<https://x.example/a%7Cb%3Ec|标签>"


def test_truncate_bytes_never_splits_a_character() -> None:
    cut = truncate_bytes("舆情监测与预警" * 10, 20)
    assert utf8_len(cut) <= 20 and cut.endswith("…")
    cut.encode("utf-8").decode("utf-8")


def test_cut_line_never_ends_inside_a_link() -> None:
    line = "1. 前言前言 [很长很长的帖子标题](https://weibo.com/1/abcdef) — 作者"
    cut = cut_line(line, lambda candidate: utf8_len(candidate) <= 40)
    assert cut == "1. 前言前言…"


def test_paginate_trims_with_a_tail_and_respects_the_limit() -> None:
    lines = [f"第 {index} 行：负面帖子内容" for index in range(200)]

    def size(page: list[str]) -> int:
        return utf8_len("标题\n" + "\n".join(page))

    pages = paginate(lines, size=size, limit=500)
    assert len(pages) == 1 and pages[0][-1] == TRUNCATED_TAIL and size(pages[0]) <= 500
    split = paginate(lines, size=size, limit=500, max_parts=3)
    assert len(split) == 3 and all(size(page) <= 500 for page in split)
    assert split[0][0] == lines[0] and split[1][0] != lines[0]


def test_paginate_keeps_everything_when_it_fits() -> None:
    assert paginate(["a", "b"], size=lambda page: len("".join(page)), limit=10) == [["a", "b"]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=120), max_size=40), st.integers(min_value=60, max_value=800))
def test_paginate_property_every_page_fits(lines: list[str], limit: int) -> None:
    def size(page: list[str]) -> int:
        return utf8_len("\n".join(["【严重】舆情预警", *page]))

    for page in paginate(lines, size=size, limit=limit, max_parts=2):
        assert size(page) <= limit
        "\n".join(page).encode("utf-8").decode("utf-8")


def test_malformed_mentions_from_a_notice_are_dropped() -> None:
    composed = compose(make_notice(mention=["zhangsan", "x> [a](javascript:1)", "<!channel>"]), WeComMarkup())
    assert composed.mentions == ["zhangsan"]
