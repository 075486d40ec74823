"""Yuqing service processes for multi-process tests: start `yuqing serve --role …`, wait, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServiceProcess:
    """One `yuqing serve` subprocess and its port."""

    process: subprocess.Popen[bytes]
    port: int
    role: str

    @property
    def url(self) -> str:
        """Base URL of its HTTP server."""
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> str | None:
        """None while running; its stderr once it has exited."""
        if self.process.poll() is None:
            return None
        return self.process.stderr.read().decode() if self.process.stderr else "exited"

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_service(role: str, database_url: str, **env: str) -> ServiceProcess:
    """Start `yuqing serve --role ROLE` against a database; extra YUQING_* settings via `env`."""
    environment = {
        **os.environ,
        "YUQING_DATABASE_URL": database_url,
        "YUQING_URL_ALLOWLIST": "127.0.0.0/8",
        "YUQING_COLLECT_HOST_INTERVAL_SECONDS": "0",
        "YUQING_LOG_LEVEL": "WARNING",
        **env,
    }
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "serve", "--role", role, "--port", str(port)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return ServiceProcess(process, port, role)


def wait_ready(services: list[ServiceProcess], timeout: float = 90.0) -> None:
    """Wait until every process answers /healthz (fails with its stderr if one exits)."""
    deadline = time.monotonic() + timeout
    for service in services:
        while True:
            exited = service.alive()
            assert exited is None, exited
            try:
                if httpx.get(f"{service.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{service.role} on port {service.port} did not become ready"
            time.sleep(0.3)
