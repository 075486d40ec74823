"""Collectors: turn a source definition plus its saved state into RawPosts, new state, or a typed error.

This package knows HTTP and source formats only; it never imports `app` or `analysis`.
"""

__version__ = "0.1.0"
