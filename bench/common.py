"""Shared pieces of the benchmarks: figures with their spread and target, the machine, the corpus and
scratch PostgreSQL databases. `yuqing serve` subprocesses on loopback come from
tests/support/processes.py (re-exported here).

Nothing here talks to anything but 127.0.0.1. Every figure keeps all of its runs so the report can
show the median and the spread; a target is judged on the median.
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

# The subprocess harness and the template corpus live with the tests (bench/ may import tests.support;
# tests never import bench/) and are re-exported here for the benchmarks.
from tests.support.corpus import Corpus, synthetic_corpus  # noqa: F401
from tests.support.processes import (  # noqa: F401
    LOOPBACK_ALLOWLIST,
    SERVICE_SECRET_KEY,
    Server,
    admin_key,
    checked,
    client,
    free_port,
    proc_status,
    service_env,
    yuqing_cli,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SENTIMENT_DATA = SHARED / "data" / "sentiment"
PG_ADMIN_URL = os.environ.get("YUQING_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
# PostgreSQL needs a secret key for channel and source credentials (docs/SECURITY.md): this process
# and every yuqing process it starts share one (tests/support/processes.py) unless the environment
# gives another.
BENCH_SECRET_KEY = SERVICE_SECRET_KEY


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Target:
    """A goal for a figure's median: `op` is '>=' or '<'."""

    op: str
    value: float
    label: str = ""

    def met(self, measured: float) -> bool:
        """Whether the measured median meets the goal."""
        return measured >= self.value if self.op == ">=" else measured < self.value


@dataclass
class Figure:
    """One measured quantity over several runs."""

    name: str
    values: list[float]
    unit: str = ""
    target: Target | None = None
    digits: int = 0
    note: str = ""

    @property
    def median(self) -> float:
        """Median over the runs."""
        return float(np.median(self.values)) if self.values else float("nan")

    @property
    def passed(self) -> bool | None:
        """True/False against the target, None without one (or without runs)."""
        if self.target is None or not self.values:
            return None
        return self.target.met(self.median)

    def spread(self) -> str:
        """min–max over the runs."""
        if len(self.values) < 2:
            return "—"
        return f"{number(min(self.values), self.digits)}–{number(max(self.values), self.digits)}"


@dataclass
class Section:
    """The result of one benchmark module."""

    key: str
    title: str
    intro: str = ""
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    markdown: str = ""
    skipped: str | None = None
    seconds: float = 0.0

    def add(self, figure: Figure) -> Figure:
        """Append a figure and return it."""
        self.figures.append(figure)
        return figure


def number(value: float, digits: int = 0) -> str:
    """A number with thousands separators and `digits` decimals."""
    if value != value:  # NaN
        return "n/a"
    return f"{value:,.{digits}f}"


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100, linear interpolation)."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else float("nan")


def render_section(section: Section) -> str:
    """The Markdown of one section: intro, the figure table, notes, free-form Markdown."""
    lines = [f"## {section.title}", ""]
    if section.intro:
        lines += [section.intro, ""]
    if section.skipped:
        lines += [f"**Skipped:** {section.skipped}", ""]
    if section.figures:
        lines += [
            "| figure | median | spread (min–max) | runs | target | result |",
            "|---|---|---|---|---|---|",
        ]
        for fig in section.figures:
            unit = f" {fig.unit}" if fig.unit else ""
            target = ""
            if fig.target is not None:
                target = (
                    fig.target.label
                    or f"{'≥' if fig.target.op == '>=' else '<'} {number(fig.target.value)}{unit}"
                )
            result = {True: "**pass**", False: "**FAIL**", None: ""}[fig.passed]
            name = fig.name + (f" ({fig.note})" if fig.note else "")
            lines.append(
                f"| {name} | {number(fig.median, fig.digits)}{unit} | {fig.spread()} | {len(fig.values)} "
                f"| {target} | {result} |"
            )
        lines.append("")
    for note in section.notes:
        lines += [note, ""]
    if section.markdown:
        lines += [section.markdown.rstrip(), ""]
    lines += [f"_Section time: {section.seconds:,.0f} s._", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- machine


def machine() -> dict[str, str]:
    """CPU model, cores, memory, Python and PostgreSQL versions, load, commit."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))  # type: ignore[union-attr]
        memory = f"{kb / 2**20:.1f} GiB"
    except (OSError, AttributeError):
        pass
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain") else ""
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": pg_version() or "not reachable",
        "commit": (commit or "unknown") + dirty,
        "load": "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()),
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def busy_processes(limit: int = 5) -> str:
    """Other processes using CPU right now (the benchmarks share the machine)."""
    try:
        out = subprocess.run(
            ["ps", "-eo", "pcpu,comm", "--sort=-pcpu"], capture_output=True, text=True, timeout=10
        ).stdout.splitlines()[1 : limit + 1]
    except (OSError, subprocess.SubprocessError):
        return ""
    return ", ".join(" ".join(line.split()[::-1]) + "%" for line in out if line.strip())


# --------------------------------------------------------------------------- corpus


def load_corpus(limit: int | None = None) -> Corpus:
    """Distinct texts of ../shared/data/sentiment (files in name order), or a synthetic corpus."""
    files = sorted(SENTIMENT_DATA.glob("*.jsonl")) if SENTIMENT_DATA.is_dir() else []
    if not files:
        return synthetic_corpus(limit or 20_000)
    texts: list[str] = []
    labels: list[str | None] = []
    seen: set[str] = set()
    for path in files:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                text = str(row.get("text") or "").strip()
                if text and text not in seen:
                    seen.add(text)
                    texts.append(text)
                    labels.append(row.get("label"))
    if limit is not None:
        order = random.Random(11).sample(range(len(texts)), min(limit, len(texts)))
        texts, labels = [texts[i] for i in order], [labels[i] for i in order]
    origin = f"{len(texts):,} distinct texts of ../shared/data/sentiment ({', '.join(p.stem for p in files)})"
    return Corpus(texts, labels, origin, real=True)


def iso(moment: datetime) -> str:
    """ISO-8601 with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------- PostgreSQL


def pg_url(database: str) -> str:
    """The admin URL pointed at another database."""
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database


def _admin_engine():  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine

    return create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)


def pg_version() -> str | None:
    """`SHOW server_version`, or None when PostgreSQL is not reachable."""
    try:
        from sqlalchemy import text

        engine = _admin_engine()
        with engine.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar()
        engine.dispose()
        return str(version)
    except Exception:  # any failure means no PostgreSQL
        return None


@contextmanager
def scratch_database(name: str) -> Iterator[str]:
    """Create an empty database (dropping a leftover of the same name), yield its URL, drop it."""
    from sqlalchemy import text

    if not re.fullmatch(r"yq_bench_[a-z0-9_]+", name):
        raise ValueError(f"scratch databases are named yq_bench_*: {name!r}")
    engine = _admin_engine()
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield pg_url(name)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


# --------------------------------------------------------------------------- processes
