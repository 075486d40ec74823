"""Chinese post texts for load: a deterministic corpus built from templates.

Used by the fault and load tests (tests/app/runtime/test_faults.py) and, when ../shared is absent, by
the benchmarks (`bench/common.py: load_corpus`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Corpus:
    """Post texts with their labels (None when unknown) and where they came from."""

    texts: list[str]
    labels: list[str | None]
    origin: str
    real: bool

    def negative(self) -> list[str]:
        """Texts labelled negative (all texts when there are no labels)."""
        found = [t for t, label in zip(self.texts, self.labels, strict=True) if label == "negative"]
        return found or self.texts


_SUBJECTS = [
    "某品牌",
    "这家银行",
    "小区物业",
    "外卖平台",
    "新款手机",
    "地铁三号线",
    "学校食堂",
    "快递公司",
    "医院",
    "航空公司",
]
_EVENTS = [
    "的服务",
    "昨天的通知",
    "新出的规定",
    "的售后",
    "这次涨价",
    "今天的延误",
    "的客服电话",
    "发布会",
    "的退款流程",
    "的质量",
]
_FEELINGS = [
    "真的太让人失望了",
    "还挺满意的",
    "一般般吧",
    "简直气死我了[怒]",
    "给个赞！",
    "有没有人遇到一样的问题？",
    "感觉被骗了",
    "非常感谢工作人员",
    "排队排了两个小时",
    "说明写得很清楚",
]
_TAILS = ["", "//@路人甲: 同感", "#维权#", "，大家怎么看", "。。。", "[微笑]", "，已经投诉了", "，下次还来"]


def synthetic_corpus(size: int, seed: int = 7) -> Corpus:
    """A deterministic Chinese corpus from templates (used when ../shared is absent)."""
    rng = random.Random(seed)
    texts = [
        f"{rng.choice(_SUBJECTS)}{rng.choice(_EVENTS)}{rng.choice(_FEELINGS)}{rng.choice(_TAILS)} "
        f"{rng.randrange(10**6)}"
        for _ in range(size)
    ]
    return Corpus(texts, [None] * size, f"{size:,} synthetic template posts (seed {seed})", real=False)
