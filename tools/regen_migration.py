"""Development tool: regenerate alembic/versions/0001_initial_schema.py from the models.

Until the first release the schema lives in one initial migration; run this after changing a model:
    .venv/bin/python tools/regen_migration.py
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alembic import command  # noqa: E402
from app.core.migrate import alembic_config  # noqa: E402


def main() -> None:
    """Delete the initial migration and autogenerate it again against an empty SQLite database."""
    versions = ROOT / "alembic" / "versions"
    for old in versions.glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        command.revision(
            alembic_config(f"sqlite:///{tmp}/empty.db"),
            message="initial schema",
            autogenerate=True,
            rev_id="0001",
        )
    path = next(versions.glob("0001_*.py"))
    text = path.read_text()
    text = text.replace("astext_type=Text()", "astext_type=sa.Text()")
    text = text.replace("import app.core.db\n", "import app.core.db  # noqa: F401  (custom column types)\n")
    text = re.sub(r"Create Date: .*\n", "", text)
    path.write_text(text)
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
