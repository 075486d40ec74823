"""Grading and playbook tables: every grade reachable, escalation never goes down, ethics hold."""

from __future__ import annotations

import pytest

from analysis.grading import (
    GRADES,
    Grade,
    GradePolicy,
    GradingInputs,
    critical_mentions,
    escalate,
    grade,
    headline,
    matched_critical_terms,
    rule_label,
)
from analysis.playbook import ETHICS_NOTE, checklist, checklist_texts

BASE = {"observed": 12.0, "baseline": 3.0, "ratio": 4.0, "negative": 6, "negative_share": 0.5}
WAVE = {"observed": 25.0, "baseline": 3.0, "ratio": 6.0, "negative": 15, "negative_share": 0.6}


def _critical(terms: tuple[str, ...], posts: int, scanned: int) -> dict[str, object]:
    return {"critical_terms": terms, "critical_posts": posts, "scanned_posts": scanned}


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
        ({"observed": 29, "ratio": 9, "negative_share": 0.7}, "general", "general.spike"),  # too few posts
        ({**WAVE, **_critical(("爆炸",), 8, 30)}, "severe", "severe.critical_terms"),  # through the wave
        ({**WAVE, **_critical(("起火",), 1, 90)}, "general", "general.critical_terms"),  # one post of 90
        ({**_critical(("爆炸",), 6, 12)}, "general", "general.critical_terms"),  # a small wave
        ({**WAVE, "negative_share": 0.3, **_critical(("爆炸",), 8, 30)}, "general", "general.critical_terms"),
        (
            {**WAVE, "ratio": 2.0, **_critical(("中毒",), 8, 30)},
            "general",
            "general.critical_terms",
        ),  # no rise
        ({"engagement": 150_000}, "severe", "severe.engagement"),
        ({"engagement": 150_000, "ratio": 1.2}, "general", "general.spike"),  # old posts, no new wave
        ({"max_followers": 1_000_000}, "influential", "influential.reach"),  # a large account carried it
        ({"max_followers": 999_999}, "general", "general.spike"),
        ({"max_followers": None}, "general", "general.spike"),  # no source gave followers
        ({"verified_authors": 1}, "influential", "influential.reach"),  # a verified (认证) account
        ({"verified_authors": 0, "max_followers": 5_000}, "general", "general.spike"),
    ],
)
def test_each_grade_is_reachable_by_its_rule(overrides, expected_grade, expected_rule) -> None:  # type: ignore[no-untyped-def]
    result = grade(GradingInputs(**{**BASE, **overrides}))
    assert result.grade == expected_grade
    assert expected_rule in result.rules
    assert all(hit.reason for hit in result.hits)


# Steady chatter, a 90-post topic, the trial's case: a small rise, half of it grumbling, one post of
# the hour mentions 起火. The demo's burst: 42 posts in 5 minutes at 19× baseline, 64 % negative.
GRADE_TABLE = [
    (
        "steady chatter, one 起火",
        GradingInputs(
            observed=9,
            baseline=2.5,
            ratio=3.6,
            negative=5,
            negative_share=0.56,
            **_critical(("起火",), 1, 90),
        ),
        "general",
    ),
    (
        "steady chatter on four platforms, one 起火",
        GradingInputs(
            observed=9,
            baseline=2.5,
            ratio=3.6,
            negative=5,
            negative_share=0.56,
            distinct_platforms=4,
            **_critical(("起火",), 1, 90),
        ),
        "influential",
    ),
    (
        "the demo's burst",
        GradingInputs(
            observed=42.3,
            baseline=2.23,
            ratio=18.98,
            negative=27,
            negative_share=0.637,
            baseline_negative_share=0.345,
            distinct_platforms=4,
            distinct_sources=4,
        ),
        "severe",
    ),
    (
        "a fire that runs through a fast negative wave",
        GradingInputs(
            observed=24, baseline=3, ratio=8, negative=14, negative_share=0.58, **_critical(("起火",), 20, 60)
        ),
        "severe",
    ),
]


@pytest.mark.parametrize("case,inputs,expected", GRADE_TABLE, ids=[row[0] for row in GRADE_TABLE])
def test_critical_terms_alone_never_make_severe(case: str, inputs: GradingInputs, expected: str) -> None:
    assert grade(inputs).grade == expected, case


def test_rule_labels_are_chinese_and_reasons_carry_no_rule_codes() -> None:
    inputs = GradingInputs(
        **{**BASE, **WAVE, "media_sources": 1, "duration_minutes": 200, **_critical(("死亡",), 9, 30)}
    )
    result = grade(inputs)
    assert result.grade == Grade.SEVERE and result.grade.label == "严重"
    assert {"severe.critical_terms", "influential.media", "persistent.duration"} <= set(result.rules)
    assert len(result.labels) == len(result.rules)
    for hit in result.hits:
        assert hit.label != "其他规则" and hit.code not in hit.reason and "." not in hit.label
        assert not any(ch.isascii() and ch.isalpha() for ch in hit.label + hit.reason), hit
    assert rule_label("no.such_rule") == "其他规则"


def test_the_highest_rule_wins_and_all_hits_are_listed() -> None:
    result = grade(GradingInputs(**{**BASE, "media_sources": 2, "duration_minutes": 200}))
    assert result.grade == "influential"
    assert {"influential.media", "persistent.duration"} <= set(result.rules)
    assert "general.spike" not in result.rules


@pytest.mark.parametrize(
    "inputs,policy,fires,reason",
    [
        ({"max_followers": 2_300_000}, {}, True, "粉丝最多的账号有 2,300,000 粉丝（≥1,000,000）"),
        ({"max_followers": 60_000}, {"influential_followers": 50_000}, True, "60,000 粉丝（≥50,000）"),
        ({"verified_authors": 2}, {"influential_verified": 3}, False, ""),
        ({"verified_authors": 3}, {"influential_verified": 3}, True, "3 个认证账号参与（≥3）"),
        ({"verified_authors": 4}, {"influential_verified": 0}, False, ""),  # 0: verified does not count
    ],
)
def test_reach_rule_table(inputs, policy, fires, reason) -> None:  # type: ignore[no-untyped-def]
    result = grade(GradingInputs(**{**BASE, **inputs}), GradePolicy.from_overrides(policy))
    hits = [hit for hit in result.hits if hit.code == "influential.reach"]
    assert bool(hits) is fires
    if fires:
        assert reason in hits[0].reason and hits[0].label == "大号或认证账号参与传播"
        assert result.grade == "influential"


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
    assert headline(inputs, "volume") == "声量 5 分钟内 312 条，为基线 8.4 倍，负面占比 77%"
    # a steep rise leads even when the share detector fired first
    assert (
        headline(inputs, "negative_share") == "声量 5 分钟内 312 条，为基线 8.4 倍，负面占比 77%（基线 12%）"
    )
    flat = GradingInputs(
        observed=60, baseline=50, ratio=1.2, negative=40, negative_share=0.67, baseline_negative_share=0.2
    )
    assert headline(flat, "negative_share") == "负面占比 5 分钟内升至 67%，基线 20%（60 条中 40 条负面）"
    calm = GradingInputs(observed=20, baseline=5, ratio=4.0, negative=2, negative_share=0.1)
    assert headline(calm, "volume") == "声量 5 分钟内 20 条，为基线 4.0 倍"


@pytest.mark.parametrize("detector", ["volume", "negative_volume", "negative_share", "coordination"])
def test_coordination_is_evidence_inside_the_headline_never_its_lead(detector: str) -> None:
    inputs = GradingInputs(
        observed=62, baseline=2.4, ratio=26.1, negative=45, negative_share=0.73, baseline_negative_share=0.3
    )
    line = headline(inputs, detector, similar=15, similar_minutes=10)
    assert line.startswith(("声量", "负面声量")), line
    assert line.endswith("；其中 15 条高度相似，供人工研判")
    assert "相似内容" not in line
    wider = headline(inputs, detector, similar=80, similar_minutes=10)
    assert wider.endswith("；10 分钟内 80 条高度相似，供人工研判")


def test_critical_mentions_count_posts_of_the_wave() -> None:
    texts = ["电池起火了", "又一起起火事故，有人身亡", "价格太贵", "客服态度差"]
    found = critical_mentions(texts, ["死亡", "身亡", "起火", ""])
    assert found.terms == ("身亡", "起火") and found.posts == 2 and found.scanned == 4


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
