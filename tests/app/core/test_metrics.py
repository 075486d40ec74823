"""/metrics in Prometheus format: counters move with real work, live gauges, promtool accepts it."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid

import pytest


def _value(text: str, name: str, labels: str = "") -> float:
    pattern = (
        re.escape(name) + (re.escape("{" + labels + "}") if labels else r"(\{[^}]*\})?") + r" ([0-9.e+-]+)"
    )
    match = re.search(pattern, text)
    assert match, f"{name}{{{labels}}} not in /metrics"
    return float(match.groups()[-1])


def test_metrics_need_a_key_and_count_real_work(client, write_headers, read_headers) -> None:  # type: ignore[no-untyped-def]
    source = f"metrics-{uuid.uuid4().hex[:8]}"
    assert client.get("/metrics").status_code == 401
    before = client.get("/metrics", headers=read_headers).text
    posts = [{"id": str(i), "text": f"指标测试第 {i} 条"} for i in range(3)] + [{"id": "bad"}]
    client.post("/api/v1/posts", json={"source": source, "posts": posts}, headers=write_headers)
    client.post("/api/v1/posts", json={"source": source, "posts": posts[:1]}, headers=write_headers)
    after = client.get("/metrics", headers=read_headers)
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    assert _value(text, "yuqing_posts_stored_total", f'source="{source}"') == 3
    assert _value(text, "yuqing_posts_duplicate_total", f'source="{source}"') == 1
    assert _value(text, "yuqing_posts_rejected_total", f'source="{source}"') == 1
    assert _value(text, "yuqing_analysis_posts_total") >= 3 + (
        _value(before, "yuqing_analysis_posts_total") if "yuqing_analysis_posts_total" in before else 0
    )
    assert _value(text, "yuqing_outbox_pending") == 0
    assert "yuqing_sources_due" in text
    assert _value(text, "yuqing_ingest_queue_posts") == 0  # this process stored the posts itself
    assert _value(text, "yuqing_ingest_queue_failed_batches") == 0


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool (Debian package 'prometheus') is not installed"
)
def test_promtool_accepts_the_metrics(client, write_headers, read_headers) -> None:  # type: ignore[no-untyped-def]
    client.post(
        "/api/v1/posts", json={"source": "lint", "posts": [{"text": "检查指标格式"}]}, headers=write_headers
    )
    body = client.get("/metrics", headers=read_headers).text
    result = subprocess.run(
        ["promtool", "check", "metrics"], input=body, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
