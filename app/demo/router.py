"""Routes of the demo (mounted from ROUTERS in app/runtime/application.py)."""

from app.demo.sink import router

__all__ = ["router"]
