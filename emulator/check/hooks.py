"""The CPO's charger and back office, driven at the right moments: ``--hook-plug-in``,
``--hook-unplug``, ``--hook-ev-full`` (the car), ``--hook-evse-unavailable`` and
``--hook-evse-available`` (the EVSE goes out of service and comes back), ``--hook-cpo-stop``
(the CPO ends the session itself), ``--hook-activate`` (the CPO activates a terminal at the
PTP by its reference) and ``--hook-register`` (the CPO registers with the emulator, given a
versions URL and a token A: with it a run makes the credentials handshake in both
directions).

A hook is a shell command (run with ``PAYTER_CHECK_*`` variables naming the terminal,
location, EVSE, connector, session, authorization reference, terminal reference, versions
URL, token A and OCPI version) or an
http(s) URL (POSTed a JSON object with the same fields; ``{evse_uid}`` and the other names in
the URL are replaced, URL-encoded). Against the simulated CPO the hooks are built in: its
control API plugs the car in, puts the EVSE out of order, stops the session.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

HOOKS = (
    "plug-in",
    "unplug",
    "ev-full",
    "evse-unavailable",
    "evse-available",
    "cpo-stop",
    "activate",
    "register",
)
FIELDS = (
    "terminal",
    "location_id",
    "evse_uid",
    "connector_id",
    "session_id",
    "authorization_reference",
    "reference",
    # register: where the CPO registers, with which token A (and OCPI version, if chosen).
    "versions_url",
    "token",
    "version",
)
TIMEOUT = 60.0


class HookFailed(Exception):
    """The hook could not do its job (exit status, HTTP status, timeout)."""


@dataclass
class Hook:
    name: str
    target: str  # a command line or an http(s) URL
    admin_token: str | None = None  # only for the built-in hooks of the simulated CPO
    headers: dict[str, str] | None = None  # sent with a URL hook (--hook-header)

    @property
    def is_url(self) -> bool:
        return self.target.startswith(("http://", "https://"))

    async def run(self, http: aiohttp.ClientSession, context: dict[str, Any]) -> str:
        values = {k: "" if context.get(k) is None else str(context[k]) for k in FIELDS}
        if self.is_url:
            return await self._post(http, values)
        return await self._command(values)

    async def _post(self, http: aiohttp.ClientSession, values: dict[str, str]) -> str:
        url = self.target
        for name, value in values.items():
            url = url.replace("{" + name + "}", quote(value, safe=""))
        headers = {"Authorization": f"Bearer {self.admin_token}"} if self.admin_token else {}
        headers.update(self.headers or {})
        try:
            async with http.post(
                url, json={"hook": self.name, **{k: v for k, v in values.items() if v}},
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=TIMEOUT),
            ) as resp:  # fmt: skip
                text = await resp.text()
                if not 200 <= resp.status < 300:
                    raise HookFailed(f"{self.name} hook: POST {url} answered {resp.status}: {text}")
                return f"POST {url}: {resp.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise HookFailed(f"{self.name} hook: POST {url} failed: {exc}") from None

    async def _command(self, values: dict[str, str]) -> str:
        env = {**os.environ, **{f"PAYTER_CHECK_{k.upper()}": v for k, v in values.items()}}
        env["PAYTER_CHECK_HOOK"] = self.name
        proc = await asyncio.create_subprocess_shell(
            self.target,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), TIMEOUT)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise HookFailed(f"{self.name} hook: {self.target!r} took over {TIMEOUT:g} s") from None
        text = out.decode("utf-8", "replace").strip()
        if proc.returncode != 0:
            raise HookFailed(
                f"{self.name} hook: {self.target!r} exited with {proc.returncode}: {text[-500:]}"
            )
        return text[-500:]


def parse_header(text: str) -> tuple[str, str]:
    """``"Name: value"`` → ``("Name", "value")``; ValueError otherwise."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or any(c in name for c in " \t\r\n"):
        raise ValueError(f"--hook-header {text!r}: expected 'Name: value'")
    return name.strip(), value.strip()


# The simulated CPO's control API route of each hook.
CPO_SIM_ROUTES = {
    "plug-in": "evses/{evse_uid}/plug-in",
    "unplug": "evses/{evse_uid}/unplug",
    "ev-full": "evses/{evse_uid}/ev-full",
    "evse-unavailable": "evses/{evse_uid}/out-of-order",
    "evse-available": "evses/{evse_uid}/repair",
    "cpo-stop": "sessions/{session_id}/stop",
    "activate": "terminals/activate",
    "register": "platforms/register",
}


def cpo_sim_hooks(cpo_sim_url: str, admin_token: str | None = None) -> dict[str, Hook]:
    """The simulated CPO's own control API as the hooks."""
    base = cpo_sim_url.rstrip("/") + "/__admin/"
    return {name: Hook(name, base + CPO_SIM_ROUTES[name], admin_token) for name in HOOKS}
