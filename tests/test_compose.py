"""docker-compose.yml: the app, PostgreSQL, a one-shot migration, and RSSHub with its cache beside them,
allow-listed so sources reach it out of the box."""

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
    assert {"db", "migrate", "app", "rsshub", "rsshub-cache"} <= set(services)
    assert "profiles" not in services["rsshub"]  # runs with the app, not behind a profile
    assert services["rsshub"]["environment"]["REDIS_URL"].startswith("redis://rsshub-cache:")
    assert "rsshub" in services["app"]["environment"]["YUQING_URL_ALLOWLIST"].split(",")
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


def test_the_compose_allow_list_lets_a_source_reach_rsshub_by_name() -> None:
    yaml = pytest.importorskip("yaml")
    from app.core.config import load_settings
    from app.core.errors import UnsafeURL
    from app.core.urls import check_url

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    allowlist = compose["services"]["app"]["environment"]["YUQING_URL_ALLOWLIST"]
    settings = load_settings(url_allowlist=allowlist)
    route = "http://rsshub:1200/weibo/keyword/星河汽车"
    assert check_url(route, settings.url_allowlist) == route
    with pytest.raises(UnsafeURL):
        check_url("http://db:5432/", settings.url_allowlist)  # the database stays out of reach
