"""Explicit registration of optional app modules (routers, CLI commands) by dotted name."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType


def import_if_present(name: str) -> ModuleType | None:
    """Import a module when it exists; a module that exists but fails to import still raises."""
    try:
        spec = importlib.util.find_spec(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            return None
        raise
    return None if spec is None else importlib.import_module(name)
