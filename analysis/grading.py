"""Crisis grading: 一般 / 纠缠性 / 影响类 / 严重 from transparent inputs, with the rules that fired.

Grades (crisis-PR practice, as the seed documents define them):
    general      一般    small, local, short
    persistent   纠缠性  keeps coming back or lasting
    influential  影响类  crosses platforms or is picked up by news media
    severe       严重    large, fast and strongly negative

Every rule is a plain comparison over `GradingInputs`; the highest grade whose rule holds wins,
and an incident never goes down a grade (`escalate`). Critical terms (起火, 爆炸…) never make a
grade on their own: they count toward 严重 only as a share of the wave's posts, together with
volume, a real rise and negativity. Each rule has a stable code (kept in data) and a Chinese label
(shown to people); reasons are Chinese sentences with the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Grade(StrEnum):
    """A crisis grade; the stored string is the value, `label` the Chinese name."""

    GENERAL = "general"
    PERSISTENT = "persistent"
    INFLUENTIAL = "influential"
    SEVERE = "severe"

    @property
    def label(self) -> str:
        """一般 / 纠缠性 / 影响类 / 严重."""
        return _GRADE_NAMES[self]

    @property
    def rank(self) -> int:
        """Position from mild (0) to severe (3)."""
        return _GRADE_ORDER.index(self)


_GRADE_ORDER: tuple[Grade, ...] = tuple(Grade)
_GRADE_NAMES = {
    Grade.GENERAL: "一般",
    Grade.PERSISTENT: "纠缠性",
    Grade.INFLUENTIAL: "影响类",
    Grade.SEVERE: "严重",
}
GRADES: tuple[Grade, ...] = _GRADE_ORDER  # mild to severe
GRADE_LABELS: dict[str, str] = {grade.value: grade.label for grade in Grade}

RULE_LABELS: dict[str, str] = {
    "severe.volume_negative": "声量激增且负面集中",
    "severe.critical_terms": "高危词在本轮帖子中集中出现",
    "severe.engagement": "高互动的负面扩散",
    "influential.media": "新闻媒体报道",
    "influential.platforms": "跨平台扩散",
    "influential.sources": "多个来源同时出现",
    "influential.hotlist": "登上热搜/热榜",
    "influential.reach": "大号或认证账号参与传播",
    "persistent.duration": "持续时间长",
    "persistent.recurrence": "近期反复出现",
    "general.spike": "小范围波动",
    "general.critical_terms": "出现高危词（未达严重条件）",
}


def rule_label(code: str) -> str:
    """The Chinese label of a rule code (unknown codes become 其他规则, never shown raw)."""
    return RULE_LABELS.get(code, "其他规则")


def grade_rank(grade: str) -> int:
    """Position of a grade from mild to severe (unknown grades rank lowest)."""
    return Grade(grade).rank if grade in _GRADE_NAMES else 0


def escalate(previous: str | None, new: str) -> Grade:
    """The higher of two grades: incidents never go down silently."""
    if previous is None:
        return Grade(new)
    return Grade(previous) if grade_rank(previous) >= grade_rank(new) else Grade(new)


@dataclass(frozen=True)
class GradingInputs:
    """Everything a grade is decided from; each field is shown to the user.

    `critical_posts` of the `scanned_posts` recent posts of the wave mention a critical term;
    `critical_terms` are the terms found. Reach, where sources give it: `max_followers` is the largest
    follower count among the wave's authors (None: no source gave one), `verified_authors` how many
    of them are verified (认证) accounts.
    """

    observed: float
    baseline: float
    ratio: float
    z: float = 0.0
    window_minutes: int = 5
    negative: int = 0
    negative_share: float = 0.0
    baseline_negative_share: float = 0.0
    distinct_sources: int = 1
    distinct_platforms: int = 1
    media_sources: int = 0
    authors: int = 0
    engagement: int = 0
    duration_minutes: float = 0.0
    recurrences: int = 0
    critical_terms: tuple[str, ...] = ()
    critical_posts: int = 0
    scanned_posts: int = 0
    max_followers: int | None = None
    verified_authors: int = 0

    @property
    def critical_share(self) -> float:
        """Share of the wave's scanned posts that mention a critical term (0 when none scanned)."""
        return self.critical_posts / self.scanned_posts if self.scanned_posts else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        data = asdict(self)
        data["critical_terms"] = list(self.critical_terms)
        return data


@dataclass(frozen=True)
class GradePolicy:
    """Thresholds of the grading rules; a topic may override any of them.

    严重 needs a large, fast, strongly negative wave: `severe_min_observed` posts in the window at
    `severe_ratio`× baseline with `severe_negative_share` negative. Critical terms lower that bar
    only when they run through the wave: at least `critical_share` of its posts mention one, with
    `critical_min_observed` posts at `critical_min_ratio`× baseline and `critical_negative_share`
    negative. High engagement counts the same way (`severe_engagement` with a real, negative rise).

    影响类 by reach: an author of the wave with at least `influential_followers` followers, or at least
    `influential_verified` verified (认证) authors (0 turns the verified condition off).
    """

    severe_ratio: float = 8.0
    severe_negative_share: float = 0.6
    severe_min_observed: int = 30
    critical_share: float = 0.2
    critical_min_observed: int = 20
    critical_negative_share: float = 0.5
    critical_min_ratio: float = 4.0
    severe_engagement: int = 100_000
    influential_platforms: int = 3
    influential_sources: int = 5
    influential_media: int = 1
    influential_followers: int = 1_000_000
    influential_verified: int = 1
    persistent_minutes: float = 120.0
    persistent_recurrences: int = 2

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any] | None) -> GradePolicy:
        """A policy with the known keys of `overrides` applied (unknown keys ignored)."""
        known = {k: v for k, v in (overrides or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class RuleHit:
    """A grading rule that held: its code (data), the grade it gives and why, in Chinese."""

    code: str
    grade: Grade
    reason: str

    @property
    def label(self) -> str:
        """The rule's Chinese name, for people."""
        return rule_label(self.code)


@dataclass(frozen=True)
class Grading:
    """The grade with the inputs and every rule that held."""

    grade: Grade
    hits: tuple[RuleHit, ...] = field(default_factory=tuple)
    inputs: GradingInputs | None = None

    @property
    def rules(self) -> list[str]:
        """Codes of the rules that held (stored)."""
        return [hit.code for hit in self.hits]

    @property
    def labels(self) -> list[str]:
        """Chinese names of the rules that held (shown)."""
        return [hit.label for hit in self.hits]


def _terms(i: GradingInputs) -> str:
    return "、".join(i.critical_terms[:5])


def _critical_hit(i: GradingInputs, p: GradePolicy) -> RuleHit | None:
    if not i.critical_terms:
        return None
    mention = (
        f"{i.critical_posts}/{i.scanned_posts} 条帖子（{i.critical_share:.0%}）提到高危词「{_terms(i)}」"
    )
    if (
        i.critical_share >= p.critical_share
        and i.observed >= p.critical_min_observed
        and i.ratio >= p.critical_min_ratio
        and i.negative_share >= p.critical_negative_share
    ):
        return RuleHit(
            "severe.critical_terms",
            Grade.SEVERE,
            f"{mention}（≥{p.critical_share:.0%}），声量 {i.observed:.0f} 条、为基线 {i.ratio:.1f} 倍，"
            f"负面占比 {i.negative_share:.0%}",
        )
    return RuleHit("general.critical_terms", Grade.GENERAL, f"{mention}，声量与负面程度未达严重条件")


def _severe_rules(i: GradingInputs, p: GradePolicy) -> list[RuleHit]:
    hits = []
    if (
        i.ratio >= p.severe_ratio
        and i.negative_share >= p.severe_negative_share
        and i.observed >= p.severe_min_observed
    ):
        hits.append(
            RuleHit(
                "severe.volume_negative",
                Grade.SEVERE,
                f"声量为基线 {i.ratio:.1f} 倍（≥{p.severe_ratio:g}），负面占比 {i.negative_share:.0%}"
                f"（≥{p.severe_negative_share:.0%}），{i.observed:.0f} 条（≥{p.severe_min_observed}）",
            )
        )
    critical = _critical_hit(i, p)
    if critical is not None:
        hits.append(critical)
    if (
        i.engagement >= p.severe_engagement
        and i.negative_share >= p.critical_negative_share
        and i.ratio >= p.critical_min_ratio
    ):
        hits.append(
            RuleHit(
                "severe.engagement",
                Grade.SEVERE,
                f"互动量 {i.engagement}（≥{p.severe_engagement}），负面占比 {i.negative_share:.0%}，"
                f"声量为基线 {i.ratio:.1f} 倍",
            )
        )
    return hits


def _influential_rules(i: GradingInputs, p: GradePolicy) -> list[RuleHit]:
    hits = []
    if i.media_sources >= p.influential_media:
        hits.append(
            RuleHit("influential.media", Grade.INFLUENTIAL, f"{i.media_sources} 家新闻媒体来源参与报道")
        )
    if i.distinct_platforms >= p.influential_platforms:
        hits.append(
            RuleHit(
                "influential.platforms",
                Grade.INFLUENTIAL,
                f"扩散到 {i.distinct_platforms} 个平台（≥{p.influential_platforms}）",
            )
        )
    if i.distinct_sources >= p.influential_sources:
        hits.append(
            RuleHit(
                "influential.sources",
                Grade.INFLUENTIAL,
                f"{i.distinct_sources} 个来源同时出现（≥{p.influential_sources}）",
            )
        )
    reach = _reach_hit(i, p)
    if reach is not None:
        hits.append(reach)
    return hits


def _reach_hit(i: GradingInputs, p: GradePolicy) -> RuleHit | None:
    reasons = []
    if i.max_followers is not None and i.max_followers >= p.influential_followers:
        reasons.append(f"粉丝最多的账号有 {i.max_followers:,} 粉丝（≥{p.influential_followers:,}）")
    if p.influential_verified > 0 and i.verified_authors >= p.influential_verified:
        reasons.append(f"{i.verified_authors} 个认证账号参与（≥{p.influential_verified}）")
    if not reasons:
        return None
    return RuleHit("influential.reach", Grade.INFLUENTIAL, "；".join(reasons))


def _persistent_rules(i: GradingInputs, p: GradePolicy) -> list[RuleHit]:
    hits = []
    if i.duration_minutes >= p.persistent_minutes:
        hits.append(
            RuleHit(
                "persistent.duration",
                Grade.PERSISTENT,
                f"已持续 {i.duration_minutes:.0f} 分钟（≥{p.persistent_minutes:.0f}）",
            )
        )
    if i.recurrences >= p.persistent_recurrences:
        hits.append(
            RuleHit(
                "persistent.recurrence",
                Grade.PERSISTENT,
                f"近 7 天内第 {i.recurrences + 1} 次出现（≥{p.persistent_recurrences + 1}）",
            )
        )
    return hits


def grade(inputs: GradingInputs, policy: GradePolicy | None = None) -> Grading:
    """Grade an alert: the highest grade whose rule holds, else 一般 (general)."""
    policy = policy or GradePolicy()
    hits = (
        _severe_rules(inputs, policy) + _influential_rules(inputs, policy) + _persistent_rules(inputs, policy)
    )
    if not any(hit.grade is not Grade.GENERAL for hit in hits):
        hits.insert(
            0,
            RuleHit(
                "general.spike",
                Grade.GENERAL,
                f"声量 {inputs.observed:.0f} 条，为基线 {inputs.ratio:.1f} 倍，范围有限",
            ),
        )
    top = max(hits, key=lambda hit: hit.grade.rank).grade
    return Grading(grade=top, hits=tuple(hits), inputs=inputs)


VOLUME_LEAD_RATIO = 3.0  # a rise at least this steep leads the headline even when negativity fired
NEGATIVE_MENTION_SHARE = 0.5  # a volume headline names the negative share from here on


def headline(
    inputs: GradingInputs, detector: str = "volume", *, similar: int = 0, similar_minutes: int = 10
) -> str:
    """One line in Chinese saying what happened, led by the strongest signal (volume or negativity).

    Near-duplicate posts (`similar`, seen within `similar_minutes`) are evidence inside the line,
    never its lead: e.g. 声量 5 分钟内 62 条，为基线 26.1 倍，负面占比 73%；其中 15 条高度相似，供人工研判.
    """
    minutes = inputs.window_minutes
    if detector == "negative_volume":
        line = f"负面声量 {minutes} 分钟内 {inputs.negative} 条，为基线 {inputs.ratio:.1f} 倍"
    elif detector == "negative_share" and inputs.ratio < VOLUME_LEAD_RATIO:
        line = (
            f"负面占比 {minutes} 分钟内升至 {inputs.negative_share:.0%}，"
            f"基线 {inputs.baseline_negative_share:.0%}"
            f"（{inputs.observed:.0f} 条中 {inputs.negative} 条负面）"
        )
    else:
        line = f"声量 {minutes} 分钟内 {inputs.observed:.0f} 条，为基线 {inputs.ratio:.1f} 倍"
        if inputs.negative_share >= NEGATIVE_MENTION_SHARE or detector == "negative_share":
            line += f"，负面占比 {inputs.negative_share:.0%}"
            if detector == "negative_share":
                line += f"（基线 {inputs.baseline_negative_share:.0%}）"
    if similar > 0:
        if similar <= inputs.observed:
            line += f"；其中 {similar} 条高度相似，供人工研判"
        else:
            line += f"；{similar_minutes} 分钟内 {similar} 条高度相似，供人工研判"
    return line


@dataclass(frozen=True)
class CriticalMentions:
    """Critical terms found in a wave's posts: which terms, and how many of the posts mention one."""

    terms: tuple[str, ...]
    posts: int
    scanned: int


def critical_mentions(texts: Sequence[str], terms: Sequence[str]) -> CriticalMentions:
    """Which critical terms occur in the texts (in `terms` order) and how many texts mention any."""
    wanted = [term for term in terms if term]
    found = matched_critical_terms(texts, wanted)
    posts = sum(1 for text in texts if any(term in text for term in found))
    return CriticalMentions(terms=found, posts=posts, scanned=len(texts))


def matched_critical_terms(texts: Sequence[str], terms: Sequence[str]) -> tuple[str, ...]:
    """Critical terms (死亡/爆炸/起火…) that occur in any of the texts, in `terms` order."""
    joined = "\n".join(texts)
    return tuple(term for term in terms if term and term in joined)
