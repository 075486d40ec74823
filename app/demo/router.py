"""Routes of the demo (mounted from app.main's ROUTER_MODULES as `app.demo.router`)."""

from app.demo.sink import router

__all__ = ["router"]
