"""The training report returned by ``train`` and printed by ``yuqing train-sentiment``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["TrainReport"]


@dataclass
class TrainReport:
    """What a training run used, skipped and reached on the dev set."""

    rows_used: dict[str, int]
    rows_skipped: dict[str, int]
    hyperparams: dict[str, Any]
    rows_held_out: int = 0
    inputs: list[str] = field(default_factory=list)
    dev: dict[str, Any] | None = None
    alpha: float = 0.0
    temperature: float = 1.0
    offsets: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    seconds: float = 0.0
    output: str = ""

    @property
    def dev_macro_f1(self) -> float | None:
        """Dev macro-F1 (three classes), or None without a dev set."""
        return None if self.dev is None else float(self.dev["macro_f1"])

    def format(self) -> str:
        """Render the report as plain text for the terminal."""
        used = ", ".join(f"{label} {count}" for label, count in self.rows_used.items())
        skipped = (
            ", ".join(f"{label} {count}" for label, count in sorted(self.rows_skipped.items())) or "none"
        )
        lines = [
            f"model written to {self.output} in {self.seconds:.0f} s",
            f"training rows: {used} (total {sum(self.rows_used.values())})",
            f"skipped rows (label): {skipped}",
        ]
        if self.rows_held_out:
            lines.append(f"held out of training: {self.rows_held_out} rows")
        lines.append(
            f"snownlp voice weight {self.alpha:g}; class offsets {[round(x, 2) for x in self.offsets]}; "
            f"temperature {self.temperature:g}"
        )
        if self.dev is None:
            lines.append("no dev set given: nothing measured")
            return "\n".join(lines)
        lines.append(
            f"dev: {self.dev['rows']} rows, macro-F1 {self.dev['macro_f1']:.4f}, "
            f"accuracy {self.dev['accuracy']:.4f}"
        )
        lines.append(f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
        for label, figures in self.dev["per_class"].items():
            lines.append(
                f"{label:<10}{figures['precision']:>10.3f}{figures['recall']:>10.3f}"
                f"{figures['f1']:>10.3f}{figures['support']:>10d}"
            )
        lines.append("confusion (rows true, columns predicted: negative, neutral, positive):")
        lines.extend("  " + " ".join(f"{value:>6d}" for value in row) for row in self.dev["confusion"])
        return "\n".join(lines)
