"""Crisis grading: 一般 / 纠缠性 / 影响类 / 严重 from transparent inputs, with the rules that fired.

Grades (crisis-PR practice):
    general      一般    small, local, short
    persistent   纠缠性  keeps coming back or lasting
    influential  影响类  spreading across platforms or picked up by news media
    severe       严重    large, fast, strongly negative, or with critical terms

Every rule is a plain comparison over `GradingInputs`; the highest grade whose rule holds wins,
and an incident never goes down a grade (`escalate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

GRADES = ("general", "persistent", "influential", "severe")
GRADE_LABELS = {"general": "一般", "persistent": "纠缠性", "influential": "影响类", "severe": "严重"}


def grade_rank(grade: str) -> int:
    """Position of a grade in GRADES (unknown grades rank lowest)."""
    return GRADES.index(grade) if grade in GRADES else 0


def escalate(previous: str | None, new: str) -> str:
    """The higher of two grades: incidents never go down silently."""
    if previous is None:
        return new
    return previous if grade_rank(previous) >= grade_rank(new) else new


@dataclass(frozen=True)
class GradingInputs:
    """Everything a grade is decided from; each field is shown to the user."""

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

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        data = asdict(self)
        data["critical_terms"] = list(self.critical_terms)
        return data


@dataclass(frozen=True)
class GradePolicy:
    """Thresholds of the grading rules; a topic may override any of them."""

    severe_ratio: float = 8.0
    severe_negative_share: float = 0.6
    severe_min_observed: int = 30
    critical_negative_share: float = 0.5
    critical_min_ratio: float = 3.0
    severe_engagement: int = 100_000
    influential_platforms: int = 3
    influential_sources: int = 5
    influential_media: int = 1
    persistent_minutes: float = 120.0
    persistent_recurrences: int = 2

    @classmethod
    def from_overrides(cls, overrides: dict[str, Any] | None) -> GradePolicy:
        """A policy with the known keys of `overrides` applied (unknown keys ignored)."""
        known = {k: v for k, v in (overrides or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class RuleHit:
    """A grading rule that held: its code, the grade it gives and why, in Chinese."""

    code: str
    grade: str
    reason: str


@dataclass(frozen=True)
class Grading:
    """The grade with the inputs and every rule that held."""

    grade: str
    hits: tuple[RuleHit, ...] = field(default_factory=tuple)
    inputs: GradingInputs | None = None

    @property
    def rules(self) -> list[str]:
        """Codes of the rules that held."""
        return [hit.code for hit in self.hits]


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
                "severe",
                f"声量为基线 {i.ratio:.1f} 倍（≥{p.severe_ratio:g}），负面占比 {i.negative_share:.0%}"
                f"（≥{p.severe_negative_share:.0%}），{i.observed:.0f} 条（≥{p.severe_min_observed}）",
            )
        )
    if i.critical_terms and i.negative_share >= p.critical_negative_share and i.ratio >= p.critical_min_ratio:
        hits.append(
            RuleHit(
                "severe.critical_terms",
                "severe",
                f"出现高危词「{'、'.join(i.critical_terms[:5])}」，负面占比 {i.negative_share:.0%}，"
                f"声量为基线 {i.ratio:.1f} 倍",
            )
        )
    if i.engagement >= p.severe_engagement and i.negative_share >= p.critical_negative_share:
        hits.append(
            RuleHit(
                "severe.engagement",
                "severe",
                f"互动量 {i.engagement}（≥{p.severe_engagement}），负面占比 {i.negative_share:.0%}",
            )
        )
    return hits


def _influential_rules(i: GradingInputs, p: GradePolicy) -> list[RuleHit]:
    hits = []
    if i.media_sources >= p.influential_media:
        hits.append(RuleHit("influential.media", "influential", f"{i.media_sources} 家新闻媒体来源参与报道"))
    if i.distinct_platforms >= p.influential_platforms:
        hits.append(
            RuleHit(
                "influential.platforms",
                "influential",
                f"扩散到 {i.distinct_platforms} 个平台（≥{p.influential_platforms}）",
            )
        )
    if i.distinct_sources >= p.influential_sources:
        hits.append(
            RuleHit(
                "influential.sources",
                "influential",
                f"{i.distinct_sources} 个来源同时出现（≥{p.influential_sources}）",
            )
        )
    return hits


def _persistent_rules(i: GradingInputs, p: GradePolicy) -> list[RuleHit]:
    hits = []
    if i.duration_minutes >= p.persistent_minutes:
        hits.append(
            RuleHit(
                "persistent.duration",
                "persistent",
                f"已持续 {i.duration_minutes:.0f} 分钟（≥{p.persistent_minutes:.0f}）",
            )
        )
    if i.recurrences >= p.persistent_recurrences:
        hits.append(
            RuleHit(
                "persistent.recurrence",
                "persistent",
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
    if not hits:
        hits = [
            RuleHit(
                "general.spike",
                "general",
                f"声量 {inputs.observed:.0f} 条，为基线 {inputs.ratio:.1f} 倍，范围有限",
            )
        ]
    top = max(hits, key=lambda hit: grade_rank(hit.grade)).grade
    return Grading(grade=top, hits=tuple(hits), inputs=inputs)


def headline(inputs: GradingInputs, detector: str = "volume") -> str:
    """One line in Chinese saying what happened, e.g. 负面声量 5 分钟内 312 条，为基线 8.4 倍."""
    what = {"negative_volume": "负面声量", "negative_share": "负面占比", "coordination": "相似内容"}.get(
        detector, "声量"
    )
    if detector == "negative_share":
        return (
            f"负面占比 {inputs.window_minutes} 分钟内升至 {inputs.negative_share:.0%}，"
            f"基线 {inputs.baseline_negative_share:.0%}"
            f"（{inputs.observed:.0f} 条中 {inputs.negative} 条负面）"
        )
    observed = inputs.negative if detector == "negative_volume" else inputs.observed
    return f"{what} {inputs.window_minutes} 分钟内 {observed:.0f} 条，为基线 {inputs.ratio:.1f} 倍"


def matched_critical_terms(texts: Sequence[str], terms: Sequence[str]) -> tuple[str, ...]:
    """Critical terms (死亡/爆炸/泄露/召回…) that occur in any of the texts, in `terms` order."""
    joined = "\n".join(texts)
    return tuple(term for term in terms if term and term in joined)
