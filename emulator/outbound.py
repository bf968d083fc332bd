"""Where the emulator may call out to: the outbound policy (server-side request forgery).

A peer chooses the URLs the emulator calls: the ``url`` of a credentials POST (with the default
token A, anyone who can reach the port), the endpoints of its version details, the ``Link`` of
a page, and on CPS the ``webhook`` and ``callbackUrl``. Without a policy that is a way to make
the emulator call anything it can reach, cloud metadata services included. So, for every
outbound call:

1. link-local addresses (169.254.0.0/16, fe80::/10), the cloud metadata addresses and host
   names, the unspecified and multicast addresses are always refused;
2. ``--deny-outbound`` (CIDR, IP or host name; ``.example.com`` for its subdomains) is refused;
3. ``--allow-outbound`` is allowed;
4. loopback and private networks (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) are allowed:
   the emulator and the CPO usually share a laptop or a compose network;
5. everything else (public addresses) is refused.

Host names are checked as written and again on every address they resolve to, at connection
time (:class:`PolicyResolver`), so a name cannot be pointed at a refused address afterwards.
A refusal names the rule, never whether anything listens there.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
# Cloud instance metadata services outside the link-local range (AWS IPv6, Alibaba, Oracle).
_METADATA_ADDRESSES = (
    ipaddress.ip_network("fd00:ec2::254/128"),
    ipaddress.ip_network("100.100.100.200/32"),
    ipaddress.ip_network("192.0.0.192/32"),
)
METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.com",
        "metadata.oraclecloud.com",
    }
)
_PRIVATE = tuple(
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",
        "::1/128",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "fc00::/7",
    )
)


class OutboundRefused(OSError):
    """An outbound call the policy does not allow (an OSError, so that aiohttp reports it as a
    connection error like any other)."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"refused by the outbound policy: {host} {reason}")
        self.host = host
        self.reason = reason


def _host(value: str) -> str:
    return value.strip().rstrip(".").lower()


@dataclass(frozen=True)
class Rules:
    """Entries of ``--allow-outbound`` / ``--deny-outbound``: networks and host names."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str | Iterable[str] | None, name: str = "rules") -> Rules:
        items = text.split(",") if isinstance(text, str) else list(text or [])
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        suffixes: list[str] = []
        for raw in (i.strip() for i in items):
            if not raw:
                continue
            try:
                networks.append(ipaddress.ip_network(raw.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            host = _host(raw)
            if not host or "/" in host or " " in host or ":" in host:
                raise ValueError(f"{name}: {raw!r} is neither a CIDR, an IP nor a host name")
            if host.startswith("."):
                suffixes.append(host)
            else:
                hosts.add(host)
        return cls(tuple(networks), frozenset(hosts), tuple(suffixes))

    def has_host(self, host: str) -> bool:
        host = _host(host)
        return host in self.hosts or any(host.endswith(s) or host == s[1:] for s in self.suffixes)

    def has_address(self, address: IPAddress) -> bool:
        return any(address in n for n in self.networks if n.version == address.version)

    def __bool__(self) -> bool:
        return bool(self.networks or self.hosts or self.suffixes)


def _address(value: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(value.strip("[]").split("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class OutboundPolicy:
    allow: Rules = field(default_factory=Rules)
    deny: Rules = field(default_factory=Rules)

    @classmethod
    def from_settings(cls, allow: str | None, deny: str | None) -> OutboundPolicy:
        return cls(Rules.parse(allow, "--allow-outbound"), Rules.parse(deny, "--deny-outbound"))

    # --- the verdicts -------------------------------------------------------------------------

    def host_refusal(self, host: str) -> str | None:
        """Why a host, as written in a URL, is refused before it is resolved (None: it may be
        tried; a name is checked again on each address it resolves to)."""
        return _host_refusal(self, host)

    def _host_refusal(self, host: str) -> str | None:
        address = _address(host)
        if address is not None:
            return self.address_refusal(host, address)
        name = _host(host)
        if name in METADATA_HOSTS:
            return "is a cloud metadata host (always refused)"
        if self.deny.has_host(name):
            return "is denied (--deny-outbound)"
        return None

    def address_refusal(self, host: str, address: IPAddress) -> str | None:
        """Why calling ``address`` (which ``host`` resolved to, or is) is refused."""
        if any(address in n for n in _LINK_LOCAL if n.version == address.version):
            return f"is a link-local address ({address}, always refused)"
        if any(address in n for n in _METADATA_ADDRESSES if n.version == address.version):
            return f"is a cloud metadata address ({address}, always refused)"
        if address.is_unspecified or address.is_multicast:
            return f"is not an address to call ({address}, always refused)"
        name = _host(host)
        if self.deny.has_address(address) or (_address(name) is None and self.deny.has_host(name)):
            return "is denied (--deny-outbound)"
        if self.allow.has_address(address) or (
            _address(name) is None and self.allow.has_host(name)
        ):
            return None
        if any(address in n for n in _PRIVATE if n.version == address.version):
            return None
        return (
            f"is a public address ({address}); allow it with --allow-outbound "
            f"(EMULATOR_ALLOW_OUTBOUND)"
        )

    def check_url(self, url: str) -> None:
        """Raise :class:`OutboundRefused` for a URL whose host is refused as written."""
        try:
            host = URL(url).host
        except (ValueError, TypeError):
            return  # not a URL the HTTP client can call either; it says why
        if not host:
            return
        reason = self.host_refusal(host)
        if reason is not None:
            raise OutboundRefused(host, reason)


# A policy is frozen and its verdict on a host is a pure function of the two: every call to a
# peer asks again for the same few hosts.
@functools.lru_cache(maxsize=1024)
def _host_refusal(policy: OutboundPolicy, host: str) -> str | None:
    return policy._host_refusal(host)


class PolicyResolver(AbstractResolver):
    """aiohttp's resolver, keeping only the addresses the policy allows (a name that resolves
    to nothing allowed is a connection error naming the policy)."""

    def __init__(self, policy: OutboundPolicy, resolver: AbstractResolver | None = None) -> None:
        self.policy = policy
        self._resolver = resolver or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        reason = self.policy.host_refusal(host)
        if reason is not None:
            raise OutboundRefused(host, reason)
        results = await self._resolver.resolve(host, port, family)
        allowed: list[ResolveResult] = []
        refused: str | None = None
        for result in results:
            address = _address(str(result["host"]))
            why = (
                "resolves to an address that cannot be read"
                if address is None
                else self.policy.address_refusal(host, address)
            )
            if why is None:
                allowed.append(result)
            else:
                refused = refused or why
        if not allowed:
            raise OutboundRefused(host, refused or "resolves to no address")
        return allowed

    async def close(self) -> None:
        await self._resolver.close()


def describe(exc: BaseException) -> str | None:
    """The policy's refusal inside an aiohttp connection error, if that is what it is."""
    seen: set[int] = set()
    current: Any = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OutboundRefused):
            return str(current)
        current = getattr(current, "os_error", None) or current.__cause__
    return None
