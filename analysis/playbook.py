"""Response checklists per crisis grade (应对清单), drawn from crisis-PR practice.

Steps accumulate with the grade: 严重 includes everything 影响类 asks, and so on. No step
involves paying for deletion, hiring posters (水军) or burying search results — Yuqing never
suggests those; rumours are reported only through each platform's own channels.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis.grading import GRADES, grade_rank

FIRST_STATEMENT_TARGET = {
    "general": None,
    "persistent": "24 小时",
    "influential": "4 小时",
    "severe": "1 小时",
}
ETHICS_NOTE = "本清单只包含正当的沟通与处置措施：不做有偿删帖，不雇佣水军，不压制或干扰搜索结果。"


@dataclass(frozen=True)
class Step:
    """One checklist step: a stable code, the grade that introduces it, and its text."""

    code: str
    grade: str
    text: str


_STEPS: tuple[Step, ...] = (
    Step("verify", "general", "核实事实：确认信息来源、真实性与涉及范围，保存原帖链接与截图作为证据"),
    Step("monitor", "general", "持续监测声量、负面占比与扩散渠道，记录关键节点"),
    Step("assess", "general", "评估是否需要回应，明确内部负责人"),
    Step("owner", "persistent", "指定专人跟进，统一对外口径，避免多头发声"),
    Step("concerns", "persistent", "梳理反复出现的关切与诉求，准备事实说明与常见问题答复"),
    Step("statement", "influential", "在目标时限内发布首次声明：已知事实、正在做什么、下次更新时间"),
    Step("transparency", "influential", "保持透明：如实说明进展，不回避问题，不作无法兑现的承诺"),
    Step("respond", "influential", "回应公众关切：通过官方账号与客服渠道答复，重点回应受影响者"),
    Step("coordinate", "influential", "协调法务、技术、客服与公关，统一事实口径与处置方案"),
    Step("rumours", "influential", "发现谣言或不实信息时，通过平台官方举报渠道依法依规举报，并公开澄清事实"),
    Step("leadership", "severe", "立即上报管理层，启动危机应对小组，必要时联系监管部门"),
    Step("remedy", "severe", "涉及安全或健康时优先处置：暂停相关产品/服务、召回或补偿，并公开进展"),
    Step("updates", "severe", "按固定节奏（如每 2–4 小时）发布进展更新，直至事件平息"),
    Step("review", "general", "事件结束后复盘：时间线、处置动作、效果与教训，归入案例库"),
)


def checklist(grade: str) -> list[Step]:
    """The steps for a grade, in the order a team works through them."""
    rank = grade_rank(grade)
    steps = [step for step in _STEPS if grade_rank(step.grade) <= rank]
    target = FIRST_STATEMENT_TARGET.get(grade)
    if target:
        steps = [
            Step(s.code, s.grade, s.text.replace("在目标时限内", f"在 {target} 内"))
            if s.code == "statement"
            else s
            for s in steps
        ]
    return steps


def checklist_texts(grade: str) -> list[str]:
    """Checklist step texts for messages."""
    return [step.text for step in checklist(grade)]


__all__ = ["ETHICS_NOTE", "FIRST_STATEMENT_TARGET", "GRADES", "Step", "checklist", "checklist_texts"]
