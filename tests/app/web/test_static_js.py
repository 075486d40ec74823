"""Every dashboard module parses as an ES module (a syntax error would leave the page blank)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[3] / "app" / "web" / "static" / "js"


@pytest.mark.parametrize("module", sorted(p.name for p in STATIC.glob("*.js")))
def test_module_parses(module: str) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed here (Debian package nodejs)")
    result = subprocess.run(
        [node, "--experimental-default-type=module", "--check", str(STATIC / module)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_author_text_shows_verified_and_followers_only_when_known(tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed here (Debian package nodejs)")
    script = tmp_path / "author.mjs"
    script.write_text(
        f"import {{authorText}} from '{(STATIC / 'format.js').as_uri()}';\n"
        "for (const p of [{author: '大V财经', author_verified: true, author_followers: 3200000},"
        " {author: '路人', author_verified: false, author_followers: 0}, {author: null}])"
        " console.log(authorText(p));\n",
        encoding="utf-8",
    )
    result = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["大V财经 · 认证 · 粉丝 3,200,000", "路人 · 粉丝 0", "匿名"]


def test_the_dashboard_names_incident_states_as_the_reports_and_messages_do() -> None:
    """One wording for an incident's state: the dashboard's `STATUS` map equals `IncidentStatus.label`."""
    import re

    from app.core.vocab import IncidentStatus

    source = (STATIC / "format.js").read_text(encoding="utf-8")
    found = re.search(r"export const STATUS = \{([^}]*)\}", source)
    assert found, "format.js no longer exports STATUS"
    shown = dict(re.findall(r"(\w+): '([^']*)'", found.group(1)))
    assert shown == {status.value: status.label for status in IncidentStatus}
