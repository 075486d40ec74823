"""docker-compose.yml: the app, PostgreSQL, a one-shot migration and RSSHub behind a profile."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_compose_file_has_the_services_we_document() -> None:
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"db", "migrate", "app", "rsshub"} <= set(services)
    assert services["rsshub"]["profiles"] == ["rsshub"]
    assert services["app"]["environment"]["YUQING_DATABASE_URL"].startswith("postgresql://")
    assert services["app"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["yuqing", "migrate"]
    assert (ROOT / services["app"]["build"] / "Dockerfile").exists()


def test_docker_compose_config_accepts_it() -> None:
    docker = shutil.which("docker")
    if (
        docker is None
        or subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode
    ):
        pytest.skip("the docker compose plugin is not installed here")
    result = subprocess.run(
        [docker, "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
