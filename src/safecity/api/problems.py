"""RFC 9457 problem details: every error names what was wrong and, for input, which field."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from safecity.core.errors import (
    Conflict,
    FieldError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str,
    instance: str | None = None,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:safecity:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = [e.as_dict() for e in errors]
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(
        orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def install(app: FastAPI) -> None:
    """Map domain and framework errors to problem responses."""

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> Response:
        first = exc.errors[0] if exc.errors else FieldError("body", "invalid")
        return problem(
            422,
            "Invalid input",
            f"{first.field}: {first.reason}",
            slug="invalid-input",
            instance=request.url.path,
            errors=exc.errors,
            dead_letter_id=getattr(exc, "dead_letter_id", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            FieldError(".".join(str(p) for p in e["loc"]), str(e["msg"])) for e in exc.errors()
        ]
        first = errors[0] if errors else FieldError("request", "invalid")
        letter = None
        raw = await request.body()
        if raw:
            # A refused body is kept like any refused input, whatever the endpoint.
            letter = await request.app.state.services.ingest.dead_letter_raw(
                raw,
                channel=f"http {request.method} {request.url.path}",
                content_type=request.headers.get("content-type"),
                errors=errors,
            )
        return problem(
            422,
            "Invalid request",
            f"{first.field}: {first.reason}",
            slug="invalid-input",
            instance=request.url.path,
            errors=errors,
            dead_letter_id=letter,
        )

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return problem(404, "Not found", str(exc), slug="not-found", instance=request.url.path)

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> Response:
        return problem(409, "Conflict", str(exc), slug="conflict", instance=request.url.path)

    @app.exception_handler(PermissionDenied)
    async def _forbidden(request: Request, exc: PermissionDenied) -> Response:
        return problem(403, "Forbidden", str(exc), slug="forbidden", instance=request.url.path)

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(request: Request, exc: Unauthenticated) -> Response:
        return problem(
            401,
            "Unauthenticated",
            str(exc),
            slug="unauthenticated",
            instance=request.url.path,
            headers={"WWW-Authenticate": "Bearer"},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {
            404: "Not found",
            405: "Method not allowed",
            413: "Content too large",
            429: "Too many requests",
        }
        return problem(
            exc.status_code,
            titles.get(exc.status_code, "HTTP error"),
            str(exc.detail),
            slug=f"http-{exc.status_code}",
            instance=request.url.path,
            headers=dict(exc.headers or {}),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        return problem(
            500,
            "Internal error",
            "the server failed; the error has been logged",
            slug="internal",
            instance=request.url.path,
        )
