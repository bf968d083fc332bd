"""Where the simulated CPO's pushes go, and sending them without ever crashing.

* Sessions and CDRs go to the platform that owns the token (its CredentialsRoles hold the
  token's country_code/party_id): the CPO sends each CDR only to the party that pays
  (mod_cdrs), and the PTP's tokens are the PTP's (mod_commands: an eMSP may only use its own
  tokens).
* EVSE status changes go to every registered platform with a Locations Receiver.
* Command results go to the ``response_url`` given with the command, with the token of the
  platform that sent it.

A peer without the endpoint, unreachable, or answering an error is logged and reported in
the returned :class:`Delivery`; nothing is retried (transport_and_format: no queueing, no
retries; the receiver re-syncs with GET).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emulator import logs
from emulator.ocpi.client import OcpiClient, PeerError, join_url
from emulator.ocpi.platforms import Platform, Platforms
from emulator.settings import version_key

if TYPE_CHECKING:
    from emulator.runtime import Runtime

log = logs.get_logger("emulator.cpo_sim")


@dataclass
class Delivery:
    """The outcome of one push, as the control API shows it."""

    ok: bool
    method: str
    url: str | None
    http_status: int | None = None
    ocpi_status: int | None = None
    error: str | None = None
    exchange_id: int | None = None
    location: str | None = None  # the CDR receiver's Location header

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class Peers:
    def __init__(self, rt: Runtime, platforms: Platforms, client: OcpiClient) -> None:
        self.rt = rt
        self.platforms = platforms
        self.client = client

    def modern(self) -> list[Platform]:
        """Registered platforms on 2.2.1 or later (the CPO modules exist from 2.2.1)."""
        return [
            p
            for p in self.platforms.registered()
            if p.version is not None and version_key(p.version) >= (2, 2)
        ]

    def owner_of(self, country_code: str, party_id: str) -> Platform | None:
        return next((p for p in self.modern() if p.owns(country_code, party_id)), None)

    def with_receiver(self, module: str) -> list[Platform]:
        return [p for p in self.modern() if p.endpoint(module, "RECEIVER")]

    async def send(
        self,
        platform: Platform,
        method: str,
        module: str,
        path: str = "",
        *,
        body: Any = None,
        role: str = "RECEIVER",
        url: str | None = None,
    ) -> Delivery:
        if url is None:
            base = platform.endpoint(module, role)
            if base is None:
                message = f"platform {platform.id} has no {module} {role} endpoint"
                log.warning("push skipped", reason=message, method=method, module=module)
                return Delivery(False, method, None, error=message)
            url = join_url(base, path)
        try:
            reply = await self.client.call(platform, method, module, url=url, body=body)
        except PeerError as exc:
            log.warning("push failed", method=method, url=url, error=exc.message)
            answered = exc.reply
            return Delivery(
                False,
                method,
                url,
                http_status=answered.http_status if answered else None,
                error=exc.message,
                exchange_id=exc.exchange_id,
            )
        delivery = Delivery(
            reply.ok,
            method,
            url,
            http_status=reply.http_status,
            ocpi_status=reply.status_code,
            exchange_id=reply.exchange_id,
            location=reply.headers.get("Location"),
        )
        if not reply.ok:
            delivery.error = reply.describe()
            log.warning("push refused", method=method, url=url, answer=reply.describe())
        return delivery
