"""Every dashboard module parses as an ES module (a syntax error would leave the page blank)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[1] / "app" / "web" / "static" / "js"


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
