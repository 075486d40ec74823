"""A private, throw-away PostgreSQL cluster for tests that stop and start the database server.

The machine's shared PostgreSQL is never touched: `initdb` makes a cluster in a fresh temporary
directory, `pg_ctl` runs it on a free loopback port (trust auth, fsync off, its socket in its own
directory), and `private_cluster()` removes it afterwards. When the process runs as root, the server runs as
the `postgres` user through `runuser` (PostgreSQL refuses to run as root). Tests skip with the reason
when the binaries or that user are missing.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CANDIDATE_BINDIRS = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin")
# fsync off: the tests kill the server, never the machine, so what reached the OS survives. Commits
# stay synchronous: with synchronous_commit off an immediate stop loses the last acknowledged commits
# (the restart test caught exactly that), which would blame the service for the test's settings.
SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off "
    "-c shared_buffers=32MB -c max_connections=60"
)


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl (PATH first, then the Debian locations)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    for candidate in CANDIDATE_BINDIRS:
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateCluster:
    """One initdb'd cluster: `start()`, `stop(mode)`, `url(database)`."""

    def __init__(self, bindir: Path, root: Path, run_as: str | None) -> None:
        self.bindir, self.root, self.run_as = bindir, root, run_as
        self.datadir = root / "data"
        self.logfile = root / "server.log"
        self.port = _free_port()

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(
                f"{args[0]} failed ({done.returncode}): {done.stderr.strip()}\n{self.log_tail()}"
            )
        return done

    def init(self) -> None:
        """initdb with trust auth and no fsync."""
        self._run(
            "initdb", "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"
        )

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"{SERVER_OPTIONS} -c port={self.port} -c unix_socket_directories={self.root}"
        self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-l",
            str(self.logfile),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: disconnect clients, `immediate`: as if it crashed) and wait."""
        self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        """Whether pg_ctl sees the server running."""
        command = [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "status"]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command]
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0

    def url(self, database: str = "postgres") -> str:
        """A libpq URL for a database of this cluster."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """CREATE DATABASE and return its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the server log."""
        try:
            return self.logfile.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """A running private cluster, removed afterwards; skips the calling test when it cannot be made."""
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run a private PostgreSQL as")
        if shutil.which("runuser") is None:
            pytest.skip("running as root and runuser is missing, so a private PostgreSQL cannot be started")
        run_as = "postgres"
    root = Path(tempfile.mkdtemp(prefix="yq-private-pg-"))
    if run_as:
        account = pwd.getpwnam(run_as)
        os.chown(root, account.pw_uid, account.pw_gid)
    cluster = PrivateCluster(bindir, root, run_as)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            try:
                cluster.stop("immediate")
            except RuntimeError:
                pass
        shutil.rmtree(root, ignore_errors=True)
