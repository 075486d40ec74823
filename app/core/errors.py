"""The API's one error shape, and the domain errors that map onto it.

    AppError                      (500 unless a subclass says otherwise)
     ├── BadRequest               400 bad_request: the request is well-formed JSON but makes no sense
     │    └── RuleError           400 invalid_rule: a monitoring rule does not parse
     ├── Unauthorized             401 unauthorized: missing or unknown API key
     ├── Forbidden                403 forbidden: the key's scope is too small
     ├── NotFound                 404 not_found
     ├── Conflict                 409 conflict: a unique name is taken, or a state change is not allowed
     ├── PayloadTooLarge          413 payload_too_large
     ├── UnsafeURL                422 unsafe_url: a user-given URL points at a private address
     ├── TooManyRequests          429 rate_limited: too many failed attempts; Retry-After says when to retry
     └── ServiceUnavailable       503 unavailable: the database or a dependency is down
          └── QueueFull           503 queue_full: the push queue is at its bound; Retry-After says when

Every response body is {"error": {"code", "message", "details"}}. A 500 carries only a request id.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class AppError(Exception):
    """Base of every error the API turns into its error shape."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(AppError):
    """The request makes no sense for this resource."""

    status_code = 400
    code = "bad_request"


class RuleError(BadRequest):
    """A monitoring rule does not parse; details name the position and what was expected."""

    code = "invalid_rule"


class Unauthorized(AppError):
    """Missing or unknown API key."""

    status_code = 401
    code = "unauthorized"


class Forbidden(AppError):
    """The API key's scope does not allow this operation."""

    status_code = 403
    code = "forbidden"


class NotFound(AppError):
    """The resource does not exist."""

    status_code = 404
    code = "not_found"


class Conflict(AppError):
    """A unique name is taken or a state change is not allowed."""

    status_code = 409
    code = "conflict"


class PayloadTooLarge(AppError):
    """The request body is over the configured limit."""

    status_code = 413
    code = "payload_too_large"


class UnsafeURL(AppError):
    """A user-given URL points at a private, loopback or link-local address."""

    status_code = 422
    code = "unsafe_url"


class TooManyRequests(AppError):
    """The client has used up its allowance; `retry_after` seconds go into the Retry-After header."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class ServiceUnavailable(AppError):
    """The database or another dependency is unavailable."""

    status_code = 503
    code = "unavailable"


class QueueFull(ServiceUnavailable):
    """The push queue holds its configured maximum; the push was refused whole, retry later."""

    code = "queue_full"

    def __init__(self, message: str, *, retry_after: int, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """Build the one error shape."""
    return {"error": {"code": code, "message": message, "details": details}}


def _request_id(request: Request) -> str:
    return getattr(request.state, "request_id", None) or uuid.uuid4().hex


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    if isinstance(exc, TooManyRequests | QueueFull):
        headers = {"Retry-After": str(exc.retry_after)}
    body = jsonable_encoder(error_body(exc.code, exc.message, exc.details))
    return JSONResponse(body, exc.status_code, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]
    return JSONResponse(error_body("validation_error", "request validation failed", details), 422)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 401: "unauthorized"}
    code = codes.get(exc.status_code, "http_error")
    return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    body = error_body(
        "invalid_data", "the database refused a value (for example a NUL character or an out-of-range number)"
    )
    return JSONResponse(body, 422)


async def _db_unavailable(request: Request, exc: Exception) -> JSONResponse:
    request_id = _request_id(request)
    log.error("database unavailable (request %s): %s", request_id, type(exc).__name__)
    body = error_body("unavailable", "the database is unavailable, retry later", {"request_id": request_id})
    return JSONResponse(body, 503, headers={"Retry-After": "5"})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = _request_id(request)
    log.error("unhandled error (request %s)", request_id, exc_info=exc)
    body = error_body("internal_error", "internal server error", {"request_id": request_id})
    return JSONResponse(body, 500)


def install_error_handlers(app: FastAPI) -> None:
    """Register handlers so every error leaves in the one shape."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _db_unavailable)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(Exception, _unexpected)
