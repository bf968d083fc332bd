"""A client of a node's control API (``/__admin/``) over HTTP, as a CI script would use it.

``payter-emulator check`` drives the emulator (and the simulated CPO) only through this, so a
check runs the same against an emulator in the same process, in another one or in a
container.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from emulator import jsonio


class ControlApiError(Exception):
    """The control API answered with an error (or could not be reached)."""

    def __init__(self, method: str, url: str, status: int | None, body: Any) -> None:
        detail = body.get("error", body) if isinstance(body, dict) else body
        super().__init__(f"{method} {url}: {status if status else 'unreachable'}: {detail}")
        self.status = status
        self.body = body


class AdminClient:
    def __init__(
        self, http: aiohttp.ClientSession, base_url: str, token: str | None = None
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.token = token

    def url(self, path: str) -> str:
        return f"{self.base_url}/__admin/{path.lstrip('/')}"

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (200, 201),
        timeout: float | None = None,
    ) -> Any:
        """The decoded JSON answer; :class:`ControlApiError` unless the status is in ``ok``."""
        status, data = await self.request(method, path, body, params=params, timeout=timeout)
        if status not in ok:
            raise ControlApiError(method, self.url(path), status, data)
        return data

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        data = jsonio.dumps(body).encode() if body is not None else None
        if data is not None:
            headers["Content-Type"] = "application/json"
        query = {
            k: ("true" if v else "false") if isinstance(v, bool) else str(v)
            for k, v in (params or {}).items()
            if v is not None
        }
        try:
            async with self.http.request(
                method,
                self.url(path),
                data=data,
                params=query,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout) if timeout else None,
            ) as resp:
                raw = await resp.read()
                try:
                    return resp.status, jsonio.loads(raw) if raw else None
                except ValueError:
                    return resp.status, raw.decode("utf-8", "replace")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            detail = str(exc) or type(exc).__name__
            raise ControlApiError(method, self.url(path), None, detail) from None

    async def get(self, route: str, /, **params: Any) -> Any:
        return await self.call("GET", route, params=params)

    async def post(self, route: str, /, body: Any = None, **kw: Any) -> Any:
        return await self.call("POST", route, body if body is not None else {}, **kw)
