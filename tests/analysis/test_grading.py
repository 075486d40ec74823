"""Grading and playbook tables: every grade reachable, escalation never goes down, ethics hold."""

from __future__ import annotations

import pytest

from analysis.grading import (
    GRADES,
    GradePolicy,
    GradingInputs,
    escalate,
    grade,
    headline,
    matched_critical_terms,
)
from analysis.playbook import ETHICS_NOTE, checklist, checklist_texts

BASE = {"observed": 12.0, "baseline": 3.0, "ratio": 4.0, "negative": 6, "negative_share": 0.5}


@pytest.mark.parametrize(
    "overrides,expected_grade,expected_rule",
    [
        ({}, "general", "general.spike"),
        ({"duration_minutes": 130}, "persistent", "persistent.duration"),
        ({"recurrences": 2}, "persistent", "persistent.recurrence"),
        ({"media_sources": 1}, "influential", "influential.media"),
        ({"distinct_platforms": 3}, "influential", "influential.platforms"),
        ({"distinct_sources": 5}, "influential", "influential.sources"),
        ({"observed": 40, "ratio": 9, "negative_share": 0.7}, "severe", "severe.volume_negative"),
        ({"critical_terms": ("爆炸",)}, "severe", "severe.critical_terms"),
        ({"engagement": 150_000}, "severe", "severe.engagement"),
        ({"observed": 29, "ratio": 9, "negative_share": 0.7}, "general", "general.spike"),  # too few posts
        (
            {"critical_terms": ("爆炸",), "negative_share": 0.3},
            "general",
            "general.spike",
        ),  # not negative enough
        ({"critical_terms": ("召回",), "ratio": 2.0}, "general", "general.spike"),  # not a real rise
    ],
)
def test_each_grade_is_reachable_by_its_rule(overrides, expected_grade, expected_rule) -> None:  # type: ignore[no-untyped-def]
    result = grade(GradingInputs(**{**BASE, **overrides}))
    assert result.grade == expected_grade
    assert expected_rule in result.rules
    assert all(hit.reason for hit in result.hits)


def test_the_highest_rule_wins_and_all_hits_are_listed() -> None:
    result = grade(
        GradingInputs(**{**BASE, "media_sources": 2, "duration_minutes": 200, "critical_terms": ("死亡",)})
    )
    assert result.grade == "severe"
    assert {"severe.critical_terms", "influential.media", "persistent.duration"} <= set(result.rules)


def test_policy_overrides_change_thresholds() -> None:
    inputs = GradingInputs(**{**BASE, "distinct_sources": 3})
    assert grade(inputs).grade == "general"
    assert (
        grade(inputs, GradePolicy.from_overrides({"influential_sources": 3, "bogus": 1})).grade
        == "influential"
    )


@pytest.mark.parametrize(
    "previous,new,expected",
    [
        (None, "general", "general"),
        ("general", "severe", "severe"),
        ("severe", "general", "severe"),
        ("influential", "persistent", "influential"),
        ("persistent", "influential", "influential"),
    ],
)
def test_escalation_never_goes_down(previous, new, expected) -> None:  # type: ignore[no-untyped-def]
    assert escalate(previous, new) == expected


def test_headlines_say_what_happened_in_one_line() -> None:
    inputs = GradingInputs(
        observed=312,
        baseline=37.1,
        ratio=8.4,
        negative=240,
        negative_share=0.77,
        baseline_negative_share=0.12,
    )
    assert headline(inputs, "negative_volume") == "负面声量 5 分钟内 240 条，为基线 8.4 倍"
    assert headline(inputs, "volume") == "声量 5 分钟内 312 条，为基线 8.4 倍"
    assert "升至 77%" in headline(inputs, "negative_share") and "基线 12%" in headline(
        inputs, "negative_share"
    )


def test_critical_terms_are_found_in_order() -> None:
    texts = ["某品牌电池起火", "官方宣布召回", "无关内容"]
    assert matched_critical_terms(texts, ["死亡", "召回", "起火"]) == ("召回", "起火")


def test_checklists_grow_with_the_grade_and_set_statement_targets() -> None:
    sizes = [len(checklist(g)) for g in GRADES]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]
    assert checklist(GRADES[0])[0].code == "verify" and checklist(GRADES[-1])[-1].code == "review"
    assert any("1 小时" in text for text in checklist_texts("severe"))
    assert any("4 小时" in text for text in checklist_texts("influential"))
    assert any("平台官方举报渠道" in text for text in checklist_texts("influential"))


@pytest.mark.parametrize("grade_code", GRADES)
def test_no_step_suggests_paid_deletion_astroturfing_or_burying(grade_code: str) -> None:
    forbidden = ("删帖", "水军", "压制", "控评", "刷量", "买热搜", "沉帖")
    for text in checklist_texts(grade_code):
        assert not any(word in text for word in forbidden), text
    assert "不做有偿删帖" in ETHICS_NOTE
