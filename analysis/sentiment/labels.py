"""The sentiment vocabulary: the three labels every path stores and shows (正/中/负)."""

from __future__ import annotations

from enum import StrEnum


class SentimentLabel(StrEnum):
    """A post's sentiment; the stored strings."""

    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"

    @property
    def chinese(self) -> str:
        """负面 / 中性 / 正面."""
        return {"negative": "负面", "neutral": "中性", "positive": "正面"}[self.value]
