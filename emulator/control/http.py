"""Plain-JSON answers, errors and access control for the control API.

Control API answers carry no OCPI envelope. Errors are ``{"error": {"code", "message", ...}}``
with a fitting HTTP status. Access: with an admin token, ``Authorization: Bearer <token>`` is
required (compared in constant time); without one, only loopback clients are served.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from emulator import inbound, jsonio

ADMIN_PREFIX = "/__admin"


def ok(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=jsonio.dumps(data).encode("utf-8"), content_type="application/json"
    )


def error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return ok({"error": {"code": code, "message": message, **extra}}, status=status)


class ControlError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def response(self) -> web.Response:
        return error(self.status, self.code, self.message, **self.extra)


async def json_body(request: web.Request, *, required: bool = False) -> dict[str, Any]:
    try:
        raw = await request.read()
    except web.RequestPayloadError as exc:  # e.g. a Content-Encoding it is not in
        reason = inbound.unreadable(exc)
        message = f"request body could not be read: {reason}"
        raise ControlError(400, "invalid_body", message) from None
    if not raw.strip():
        if required:
            raise ControlError(400, "invalid_body", "a JSON object body is required")
        return {}
    try:
        body = inbound.loads(raw)
    except inbound.InvalidInput as exc:
        code = "invalid_text" if exc.kind == "text" else "invalid_body"
        raise ControlError(400, code, f"request body refused: {exc.message}") from None
    except ValueError as exc:
        raise ControlError(400, "invalid_json", f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ControlError(400, "invalid_body", "the request body must be a JSON object")
    return body


def field(
    body: dict[str, Any],
    name: str,
    kind: type | tuple[type, ...],
    *,
    required: bool = True,
    default: Any = None,
) -> Any:
    if name not in body or body[name] is None:
        if required:
            raise ControlError(400, "missing_field", f"'{name}' is required")
        return default
    value = body[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        names = "/".join(k.__name__ for k in _as_tuple(kind))
        raise ControlError(400, "invalid_field", f"'{name}' must be of type {names}")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def query_int(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ControlError(400, "invalid_parameter", f"'{name}' must be an integer") from None


def _is_loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote.split("%")[0]).is_loopback
    except ValueError:
        return remote in ("localhost",)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def admin_middleware(token: str | None) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(ADMIN_PREFIX):
            return await handler(request)
        if token:
            presented = request.headers.get("Authorization", "")
            scheme, _, value = presented.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                value.strip().encode(), token.encode()
            ):
                return error(
                    401,
                    "unauthorized",
                    "the control API needs 'Authorization: Bearer <admin token>'",
                )
        elif not _is_loopback(request.remote):
            return error(
                403,
                "forbidden",
                "the control API answers loopback clients only; set an admin token "
                "(--admin-token / EMULATOR_ADMIN_TOKEN) to use it from elsewhere",
            )
        try:
            inbound.check_request_text(request.raw_path, request.headers.items())
        except inbound.InvalidInput as exc:
            return error(400, "invalid_text", exc.message)
        try:
            return await handler(request)
        except ControlError as exc:
            return exc.response()
        except web.HTTPRequestEntityTooLarge as exc:
            return error(
                413,
                "body_too_large",
                f"request body too large: {exc.text or exc.reason} (--max-body-bytes)",
            )
        except web.HTTPNotFound:
            return error(
                404,
                "not_found",
                f"no control API route {request.method} {request.path}: "
                f"GET {ADMIN_PREFIX}/ lists them",
                path=request.path,
                routes=f"{ADMIN_PREFIX}/",
            )
        except web.HTTPMethodNotAllowed as exc:
            allowed = sorted(exc.allowed_methods)
            return error(
                405,
                "method_not_allowed",
                f"{request.path} does not take {request.method} (it takes "
                f"{', '.join(allowed)}): GET {ADMIN_PREFIX}/ lists the routes",
                path=request.path,
                allowed=allowed,
            )
        except web.HTTPException as exc:
            if exc.status >= 400:
                return error(
                    exc.status, exc.reason.lower().replace(" ", "_"), exc.text or exc.reason
                )
            raise

    return middleware
