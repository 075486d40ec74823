"""The offline commands through the real CLI: analyze (batched), detect, train-sentiment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=ROOT,
        env={**os.environ, "YUQING_LOG_LEVEL": "WARNING"},
    )


def test_analyze_keeps_order_and_marks_bad_lines() -> None:
    lines = [
        '{"text": "太开心了，终于拿到offer了！", "id": 1}',
        "not json",
        '{"text": 5}',
        '{"text": "這家店服務太差了[怒]", "id": 4}',
        "",
    ] + [f'{{"text": "第{i}条 普通内容"}}' for i in range(600)]
    result = _run("analyze", "--input", "-", "--output", "-", stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 604
    assert (
        records[0]["id"] == 1
        and records[0]["sentiment"] == "positive"
        and records[0]["sentiment_score"] > 0.5
    )
    assert "invalid JSON" in records[1]["error"] and "'text' must be a string" in records[2]["error"]
    assert (
        records[3]["sentiment"] == "negative" and len(records[3]["simhash"]) == 16 and records[3]["keywords"]
    )
    assert all("sentiment" in r for r in records[4:]) and "2 with errors" in result.stderr


def test_detect_writes_scores_and_one_alert_per_episode(tmp_path: Path) -> None:
    series = tmp_path / "series.csv"
    rows = ["timestamp,value"] + [
        f"2026-11-{1 + i // 288:02d} {(i % 288) // 12:02d}:{(i % 12) * 5:02d}:00,"
        f"{60 if 2000 <= i < 2006 else 4 + (i % 3)}"
        for i in range(2400)
    ]
    series.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out.csv"
    result = _run("detect", "--input", str(series), "--output", str(out))
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    header = lines[0].split(",")
    assert {"score", "alert"} <= set(header) and len(lines) == 2401
    alerts = [i for i, line in enumerate(lines[1:]) if line.split(",")[header.index("alert")] == "1"]
    assert alerts == [2000]


def test_detect_reports_a_bad_file_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,value\n2026-11-01 00:00:00,abc\n")
    result = _run("detect", "--input", str(bad), "--output", str(tmp_path / "o.csv"))
    assert result.returncode == 1 and "yuqing:" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_train_sentiment_on_a_small_labelled_file(tmp_path: Path) -> None:
    tiny = ROOT / "tests" / "fixtures" / "sentiment" / "tiny.jsonl"
    model = tmp_path / "model"
    result = _run("train-sentiment", "--input", str(tiny), "--dev", str(tiny), "--output", str(model))
    assert result.returncode == 0, result.stderr
    assert "macro" in result.stdout.lower() and any(model.iterdir())
