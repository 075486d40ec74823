"""Operator mistakes end in one clear line, not a traceback, and leave nothing half-started: a busy
port, a missing input, an import into a source that is not a push source. The test suite itself never
reads the .env of the directory it runs in."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.config import SettingsError, load_settings


def _yuqing(args: list[str], cwd: Path, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr and len(lines) == 1, stderr
    return lines[0]


def test_the_suite_ignores_a_dotenv_in_the_working_directory(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    dotenv = tmp_path / ".env"
    dotenv.write_text("YUQING_DATABASE_URL=mysql://nope\nYUQING_MAX_BODY_BYTES=12\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_settings().max_body_bytes == 5 * 1024 * 1024
    url = f"sqlite:///{tmp_path / 'yuqing.db'}"
    done = _yuqing(["keys", "create", "--name", "dotenv"], tmp_path, YUQING_DATABASE_URL=url)
    assert done.returncode == 0, done.stderr
    monkeypatch.setenv("YUQING_ENV_FILE", str(dotenv))  # an operator can still name one explicitly
    with pytest.raises(SettingsError, match="YUQING_MAX_BODY_BYTES"):
        load_settings()


@pytest.mark.slow
def test_serve_on_a_busy_port_fails_before_starting_anything(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = _yuqing(
            ["serve", "--host", "127.0.0.1", "--port", str(port), "--role", "all"],
            tmp_path,
            YUQING_DATABASE_URL=f"sqlite:///{tmp_path / 'yuqing.db'}",
            YUQING_LOG_LEVEL="INFO",
        )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "background jobs started" not in output and "serving role" not in output, output
    line = _one_line(done.stderr)
    assert f"127.0.0.1:{port}" in line and "--port" in line
    assert not (tmp_path / "yuqing.db").exists(), "the database was touched before the port was bound"


def test_analyze_with_a_missing_input_is_one_line(tmp_path: Path) -> None:
    done = _yuqing(["analyze", "--input", str(tmp_path / "missing.jsonl")], tmp_path)
    assert done.returncode == 2
    assert "missing.jsonl" in _one_line(done.stderr)


@pytest.mark.slow
def test_import_into_a_source_that_is_not_a_push_source_is_one_line(  # type: ignore[no-untyped-def]
    client, write_headers, database_url, tmp_path: Path
) -> None:
    created = client.post(
        "/api/v1/sources",
        headers=write_headers,
        json={"name": "feed", "kind": "rss", "url": "http://127.0.0.1:9/feed.xml"},
    )
    assert created.status_code == 201, created.text
    posts = tmp_path / "posts.jsonl"
    posts.write_text(
        json.dumps({"id": "1", "text": "导入到订阅源"}, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    done = _yuqing(["import", str(posts), "--source", "feed"], tmp_path, YUQING_DATABASE_URL=database_url)
    assert done.returncode == 1
    line = _one_line(done.stderr)
    assert "feed" in line and "push" in line
