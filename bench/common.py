"""Shared pieces of the benchmarks: figures with their spread and target, the machine, the corpus,
scratch PostgreSQL databases and `yuqing serve` subprocesses on loopback.

Nothing here talks to anything but 127.0.0.1. Every figure keeps all of its runs so the report can
show the median and the spread; a target is judged on the median.
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SENTIMENT_DATA = SHARED / "data" / "sentiment"
PG_ADMIN_URL = os.environ.get("YUQING_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
LOOPBACK_ALLOWLIST = "127.0.0.0/8"
# PostgreSQL needs a secret key for channel and source credentials (docs/SECURITY.md): this process
# and every yuqing process it starts share this one unless the environment gives another.
BENCH_SECRET_KEY = os.environ.setdefault("YUQING_SECRET_KEY", "bGvq7yV0rZk2Q8m3s4t5u6w7x8y9z0A1B2C3D4E5F6c=")


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


@dataclass(frozen=True)
class Corpus:
    """Post texts with their labels (None when unknown) and where they came from."""

    texts: list[str]
    labels: list[str | None]
    origin: str
    real: bool

    def negative(self) -> list[str]:
        """Texts labelled negative (all texts when there are no labels)."""
        found = [t for t, label in zip(self.texts, self.labels, strict=True) if label == "negative"]
        return found or self.texts


_SUBJECTS = [
    "某品牌",
    "这家银行",
    "小区物业",
    "外卖平台",
    "新款手机",
    "地铁三号线",
    "学校食堂",
    "快递公司",
    "医院",
    "航空公司",
]
_EVENTS = [
    "的服务",
    "昨天的通知",
    "新出的规定",
    "的售后",
    "这次涨价",
    "今天的延误",
    "的客服电话",
    "发布会",
    "的退款流程",
    "的质量",
]
_FEELINGS = [
    "真的太让人失望了",
    "还挺满意的",
    "一般般吧",
    "简直气死我了[怒]",
    "给个赞！",
    "有没有人遇到一样的问题？",
    "感觉被骗了",
    "非常感谢工作人员",
    "排队排了两个小时",
    "说明写得很清楚",
]
_TAILS = ["", "//@路人甲: 同感", "#维权#", "，大家怎么看", "。。。", "[微笑]", "，已经投诉了", "，下次还来"]


def synthetic_corpus(size: int, seed: int = 7) -> Corpus:
    """A deterministic Chinese corpus from templates (used when ../shared is absent)."""
    rng = random.Random(seed)
    texts = [
        f"{rng.choice(_SUBJECTS)}{rng.choice(_EVENTS)}{rng.choice(_FEELINGS)}{rng.choice(_TAILS)} "
        f"{rng.randrange(10**6)}"
        for _ in range(size)
    ]
    return Corpus(texts, [None] * size, f"{size:,} synthetic template posts (seed {seed})", real=False)


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


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_status(pid: int, field_name: str) -> float:
    """A /proc/<pid>/status memory field (VmHWM, VmRSS) in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"{field_name}:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def service_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a yuqing subprocess: no inherited YUQING_* variables, loopback only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YUQING_")}
    env.update(
        YUQING_DATABASE_URL=database_url,
        YUQING_SECRET_KEY=BENCH_SECRET_KEY,
        YUQING_URL_ALLOWLIST=LOOPBACK_ALLOWLIST,
        YUQING_LOG_LEVEL="WARNING",
        YUQING_COLLECT_HOST_INTERVAL_SECONDS="0",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def yuqing_cli(args: Sequence[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> str:
    """Run `python -m app ARGS` and return its stdout (raises with stderr on failure)."""
    done = subprocess.run(
        [sys.executable, "-m", "app", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"yuqing {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


def admin_key(env: dict[str, str], cwd: Path, name: str = "bench") -> str:
    """Create an admin API key with the CLI (migrating SQLite on the way) and return it."""
    return (
        yuqing_cli(["keys", "create", "--name", name, "--scope", "admin"], env, cwd).strip().splitlines()[-1]
    )


class Server:
    """`yuqing serve --role ROLE` in a subprocess on a free loopback port."""

    def __init__(self, env: dict[str, str], cwd: Path, role: str = "all", name: str = "server") -> None:
        self.env, self.cwd, self.role = env, cwd, role
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = cwd / f"{name}-{role}-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> Server:
        """Start and wait until /healthz answers."""
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--role",
                self.role,
            ],
            env=self.env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server did not answer within {timeout:.0f} s: {self.log_tail()}")

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.process is not None
        return self.process.pid

    def peak_rss_mb(self) -> float:
        """VmHWM of the server process in MiB."""
        return proc_status(self.pid, "VmHWM")

    def rss_mb(self) -> float:
        """VmRSS of the server process in MiB."""
        return proc_status(self.pid, "VmRSS")

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def last_error(self) -> str:
        """The last exception line of the server's log (for failure messages)."""
        found = [
            line
            for line in self.log_tail(200_000).splitlines()
            if re.match(r"^[\w.]*(Error|Exception)\b", line)
        ]
        return found[-1][:500] if found else "no exception in the server log"

    def stop(self) -> None:
        """SIGTERM, wait up to 30 s, then SIGKILL (this process only)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def client(server: Server, key: str, timeout: float = 120.0) -> httpx.Client:
    """An HTTP client for the server's API with the key."""
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout)


def checked(response: httpx.Response) -> Any:
    """The JSON body of a 2xx response (raises with the body otherwise)."""
    if response.status_code >= 300:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} -> {response.status_code}: "
            f"{response.text[:500]}"
        )
    return response.json() if response.content else None
