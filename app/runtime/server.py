"""Run the service under uvicorn with the chosen role."""

from __future__ import annotations

import logging
import socket

import uvicorn

from app.core.config import Settings
from app.core.migrate import upgrade
from app.core.secrets import SecretsError
from app.runtime.container import ROLES

log = logging.getLogger(__name__)


class RoleError(RuntimeError):
    """The requested role cannot run with this configuration (or cannot listen where asked)."""


def check_role(settings: Settings, role: str) -> None:
    """Refuse roles that need a shared PostgreSQL when the store is SQLite."""
    if role not in ROLES:
        raise RoleError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if settings.is_sqlite and role != "all":
        raise RoleError(
            "SQLite is single-process: run `yuqing serve --role all`, or point YUQING_DATABASE_URL at "
            "PostgreSQL to split the API, scheduler and workers across processes"
        )


def bind(host: str, port: int) -> socket.socket:
    """Take the listening address before anything starts; a taken port is one clear error."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise RoleError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); every `yuqing serve` process on "
            "one machine, whatever its role (workers and schedulers serve /healthz, /readyz and "
            "/metrics too), needs its own --port"
        ) from None
    return sock


def run_server(settings: Settings, *, host: str, port: int, role: str = "all") -> None:
    """Bind, migrate an embedded SQLite store, then serve until SIGTERM/SIGINT (graceful).

    The port is bound first, so a process that cannot listen exits before any background job starts.
    """
    from app.runtime.application import create_app
    from app.runtime.secrets import verify as verify_secrets

    try:
        check_role(settings, role)
        sock = bind(host, port)
    except RoleError as exc:
        raise SystemExit(f"yuqing: {exc}") from None
    if settings.is_sqlite:
        upgrade(settings.database_url)
    try:  # a missing or wrong key stops here, naming every secret it cannot open
        verify_secrets(settings)
    except SecretsError as exc:
        raise SystemExit(f"yuqing: {exc}") from None
    app = create_app(settings, role=role)
    log.info(
        "serving role=%s on http://%s:%d (database: %s)",
        role,
        host,
        port,
        "SQLite" if settings.is_sqlite else "PostgreSQL",
    )
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=20)
    uvicorn.Server(config).run(sockets=[sock])
