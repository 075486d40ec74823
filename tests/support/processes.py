"""`yuqing serve` and the CLI in subprocesses on loopback: free ports, the service environment,
memory figures of a process, and a server that starts, answers /healthz and stops.

Used by the process-level tests (tests/app/runtime/, tests/app/posts/test_push_queue.py) and by the
benchmarks (bench/ imports it from here; tests never import bench/). Nothing here talks to anything but
127.0.0.1.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

LOOPBACK_ALLOWLIST = "127.0.0.0/8"
# PostgreSQL needs a secret key for channel and source credentials (docs/SECURITY.md): the caller
# and every yuqing process it starts share this one unless the environment gives another.
SERVICE_SECRET_KEY = os.environ.setdefault(
    "YUQING_SECRET_KEY", "bGvq7yV0rZk2Q8m3s4t5u6w7x8y9z0A1B2C3D4E5F6c="
)


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
        YUQING_SECRET_KEY=SERVICE_SECRET_KEY,
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
