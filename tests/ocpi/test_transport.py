"""The transport layer: envelope, status codes, auth, headers, paging (transport_and_format)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cpo_double import CpoDouble
from helpers import findings, make_settings, ocpi

from emulator.app import EmulatorNode
from emulator.ocpi.transport import Module, OcpiRequest, Route, paged, parse_paging
from emulator.ocpi.types import format_datetime
from emulator.runtime import build_runtime

TOKEN_A = "payter-emulator-token-a"
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


class Things(Module):
    """A paginated Sender list and a client-owned Receiver, for transport tests only."""

    id = "things"
    interface = "SENDER"
    versions = ("2.2.1", "2.3.0")

    def __init__(self, count: int) -> None:
        self.items = [
            {"id": f"T{i:03d}", "last_updated": format_datetime(T0 + timedelta(minutes=i))}
            for i in range(count)
        ]

    def routes(self) -> list[Route]:
        return [
            Route("GET", "", self.list),
            Route("PUT", "/{id}", self.put),
            Route("GET", "/{id}", self.get_one),
            Route("POST", "/{id}/fail", self.fail),
        ]

    async def fail(self, req: OcpiRequest) -> Any:
        from aiohttp import web

        if req.params["id"] == "crash":
            raise RuntimeError("boom")
        raise web.HTTPUnprocessableEntity(text="aiohttp said no")

    async def list(self, req: OcpiRequest) -> Any:
        page = parse_paging(req, req.server.page_limit)
        chosen = [
            t
            for t in self.items
            if (page.date_from is None or t["last_updated"] >= format_datetime(page.date_from))
            and (page.date_to is None or t["last_updated"] < format_datetime(page.date_to))
        ]
        return paged(req, page, len(chosen), chosen[page.offset : page.offset + page.limit])

    async def put(self, req: OcpiRequest) -> Any:
        req.require_platform()
        return None

    async def get_one(self, req: OcpiRequest) -> Any:
        from emulator.ocpi.status import OcpiError

        for t in self.items:
            if t["id"].upper() == req.params["id"].upper():
                return t
        raise OcpiError(2000, "unknown thing", http_status=404)


class ThingsNode(EmulatorNode):
    def setup(self) -> None:
        super().setup()
        self.server.add_module(Things(self.rt.settings.seed or 0))


@pytest.fixture
async def node(cpo: CpoDouble):
    settings = make_settings(ocpi_page_limit=4, seed=10, max_body_bytes=2048)
    n = ThingsNode(build_runtime(settings))
    await n.start()
    answer = await cpo.register_with(n.server.versions_url, TOKEN_A)
    n.token_c = answer["data"]["token"]  # type: ignore[attr-defined]
    yield n
    await n.stop()


async def test_versions_and_details(emulator: EmulatorNode, http) -> None:
    status, headers, env = await ocpi(http, "GET", emulator.server.versions_url, TOKEN_A)
    assert status == 200 and env["status_code"] == 1000
    assert [v["version"] for v in env["data"]] == ["2.3.0", "2.2.1", "2.1.1"]
    assert env["timestamp"].endswith("Z") and len(env["timestamp"]) <= 25
    # Configuration module: no routing headers; request ids echoed.
    assert "OCPI-from-party-id" not in headers
    assert headers["X-Request-ID"] == "req-1" and headers["X-Correlation-ID"] == "corr-1"
    _, _, details = await ocpi(http, "GET", env["data"][0]["url"], TOKEN_A)
    assert details["data"]["version"] == "2.3.0"
    creds = [e for e in details["data"]["endpoints"] if e["identifier"] == "credentials"]
    assert creds and creds[0]["role"] == "SENDER"
    _, _, old = await ocpi(http, "GET", emulator.server.version_url("2.1.1"), TOKEN_A, raw=True)
    assert all("role" not in e for e in old["data"]["endpoints"])


async def test_auth_failures_are_401_with_envelope(emulator: EmulatorNode, http) -> None:
    url = emulator.server.versions_url
    ids = {"X-Request-ID": "r-401", "X-Correlation-ID": "c-401"}
    for headers in ({}, {"Authorization": "Bearer abc"}, {"Authorization": "Token bm9wZQ=="}):
        async with http.get(url, headers={**headers, **ids}) as resp:
            env = await resp.json()
            assert resp.status == 401 and env["status_code"] == 2000 and "timestamp" in env
            # Errors are envelopes too, with the request's ids echoed.
            assert resp.content_type == "application/json"
            assert resp.headers["X-Request-ID"] == "r-401"
            assert resp.headers["X-Correlation-ID"] == "c-401"


async def test_token_a_outside_credentials_and_versions(node, http) -> None:
    status, _, env = await ocpi(http, "GET", node.server.endpoint_url("2.3.0", "things"), TOKEN_A)
    # TOKEN_A is spent by the registration in the fixture; a fresh one shows the scope rule.
    fresh = node.platforms.mint_token_a()
    status, _, env = await ocpi(http, "GET", node.server.endpoint_url("2.3.0", "things"), fresh)
    assert status == 401 and "only be used on versions and credentials" in env["status_message"]
    status, _, _ = await ocpi(http, "GET", node.server.versions_url, fresh)
    assert status == 200


async def test_functional_headers_echo_and_findings(node, http) -> None:
    url = node.server.endpoint_url("2.3.0", "things")
    routing = {
        "OCPI-from-country-code": "NL",
        "OCPI-from-party-id": "CPO",
        "OCPI-to-country-code": "NL",
        "OCPI-to-party-id": "PAY",
    }
    status, headers, env = await ocpi(http, "GET", url, node.token_c, headers=routing)
    assert status == 200 and env["status_code"] == 1000
    # Response swaps the routing headers.
    assert headers["OCPI-from-party-id"] == "PAY" and headers["OCPI-to-party-id"] == "CPO"
    assert headers["X-Request-ID"] == "req-1"
    assert findings(node, "OCPI-04") == [] and findings(node, "OCPI-03") == []
    # Without routing headers or ids: findings, still answered. The peer has one party and
    # one role, as do we: routing headers are not needed peer to peer (the spec's own
    # exception), request ids are.
    [platform] = node.platforms.registered()
    assert len(platform.roles) == 1
    async with http.get(url, headers={"Authorization": f"Token {_b64(node.token_c)}"}) as resp:
        assert resp.status == 200
        assert resp.headers["X-Request-ID"]  # generated when the client sent none
    assert findings(node, "OCPI-03") and not findings(node, "OCPI-04")
    # A platform with two roles (a CPO and an eMSP behind one connection) needs them.
    two_roles = [*platform.roles, {**platform.roles[0], "role": "EMSP"}]
    node.platforms.update(platform.id, roles=two_roles)
    async with http.get(url, headers={"Authorization": f"Token {_b64(node.token_c)}"}) as resp:
        assert resp.status == 200
    [missing] = findings(node, "OCPI-04")
    assert missing["message"].startswith("functional-module request without OCPI-from")
    # Wrong OCPI-to.
    await ocpi(http, "GET", url, node.token_c, headers={**routing, "OCPI-to-party-id": "XXX"})
    assert any("OCPI-to is NL/XXX" in f["message"] for f in findings(node, "OCPI-04"))
    # Routing headers on a configuration module: reported, and none in the answer.
    status, headers, _ = await ocpi(
        http, "GET", node.server.versions_url, node.token_c, headers=routing
    )
    assert status == 200 and not [h for h in headers if h.startswith("OCPI-")]
    assert any("configuration module versions" in f["message"] for f in findings(node, "OCPI-04b"))


def _b64(token: str) -> str:
    import base64

    return base64.b64encode(token.encode()).decode()


async def test_pagination_serving(node, http) -> None:
    url = node.server.endpoint_url("2.3.0", "things")
    _status, headers, env = await ocpi(http, "GET", url, node.token_c)
    assert [t["id"] for t in env["data"]] == ["T000", "T001", "T002", "T003"]
    assert headers["X-Total-Count"] == "10" and headers["X-Limit"] == "4"
    assert headers["Link"] == f'<{url}?offset=4&limit=4>; rel="next"'
    # Filters survive in Link; date_from inclusive, date_to exclusive.
    date_from = format_datetime(T0 + timedelta(minutes=2))
    date_to = format_datetime(T0 + timedelta(minutes=8))
    params = {"date_from": date_from, "date_to": date_to, "limit": "3"}
    async with http.get(
        url, params=params, headers={"Authorization": f"Token {_b64(node.token_c)}"}
    ) as r:
        env = await r.json()
        link = r.headers["Link"]
        assert r.headers["X-Total-Count"] == "6" and r.headers["X-Limit"] == "4"
    assert [t["id"] for t in env["data"]] == ["T002", "T003", "T004"]
    assert "date_from=2025-03-01T09%3A02%3A00Z" in link and "date_to=" in link
    assert "offset=3" in link and "limit=3" in link
    # The last page has no Link.
    async with http.get(
        link[1 : link.index(">")], headers={"Authorization": f"Token {_b64(node.token_c)}"}
    ) as r:
        env = await r.json()
        assert [t["id"] for t in env["data"]] == ["T005", "T006", "T007"]
        assert "Link" not in r.headers
    # Limit above the server maximum is capped; offset past the end gives an empty page.
    async with http.get(
        url,
        params={"limit": "500", "offset": "20"},
        headers={"Authorization": f"Token {_b64(node.token_c)}"},
    ) as r:
        env = await r.json()
        assert env["data"] == [] and "Link" not in r.headers
    # Bad parameters: 2001 with HTTP 200.
    for bad in ({"limit": "x"}, {"offset": "-1"}, {"date_from": "yesterday"}):
        async with http.get(
            url, params=bad, headers={"Authorization": f"Token {_b64(node.token_c)}"}
        ) as r:
            env = await r.json()
            assert r.status == 200 and env["status_code"] == 2001, bad


async def test_unknown_path_and_method(node, http) -> None:
    base = node.server.endpoint_url("2.3.0", "things")
    status, headers, env = await ocpi(http, "DELETE", f"{base}/T001", node.token_c)
    assert status == 405 and env["status_code"] == 2000 and "PUT" in headers["Allow"]
    assert findings(node, "OCPI-32")
    status, _, env = await ocpi(http, "GET", f"{base}/t001", node.token_c)
    assert status == 200 and env["data"]["id"] == "T001"  # CiString ids: case-insensitive
    status, _, env = await ocpi(http, "GET", f"{base}/NOPE", node.token_c)
    assert status == 404 and env["status_code"] == 2000
    status, _, env = await ocpi(
        http, "GET", node.server.prefix.join([node.rt.base_url, "/9.9"]), node.token_c
    )
    assert status == 404


async def test_handler_failures_are_envelopes(node, http) -> None:
    base = node.server.endpoint_url("2.3.0", "things")
    status, headers, env = await ocpi(http, "POST", f"{base}/x/fail", node.token_c)
    assert (
        status == 422
        and env["status_code"] == 2000
        and env["status_message"] == ("aiohttp said no")
    )
    assert headers["X-Request-ID"] == "req-1"
    status, _, env = await ocpi(http, "POST", f"{base}/crash/fail", node.token_c)
    assert (
        status == 500
        and env["status_code"] == 3000
        and "RuntimeError: boom" in (env["status_message"])
    )


async def test_body_limit_and_content_type(node, http) -> None:
    url = node.server.endpoint_url("2.3.0", "things") + "/T001"
    status, _, env = await ocpi(http, "PUT", url, node.token_c, json={"pad": "x" * 5000})
    assert status == 413 and env["status_code"] == 2000 and "limit" in env["status_message"]
    status, _, env = await ocpi(
        http,
        "PUT",
        url,
        node.token_c,
        data=b'{"id": "T001"}',
        headers={"Content-Type": "text/plain"},
    )
    assert status == 200
    assert findings(node, "OCPI-05")


async def test_journal_never_holds_full_tokens(node, http, cpo: CpoDouble) -> None:
    await ocpi(http, "GET", node.server.endpoint_url("2.3.0", "things"), node.token_c)
    node.rt.journal.flush()  # what the database file holds, not what waits to be written
    rows = node.rt.store.query("select * from journal")
    text = repr(rows)
    assert rows
    secrets = [node.token_c, TOKEN_A, *cpo.valid_tokens]
    for secret in secrets:
        assert secret not in text, "a token was written to the journal in full"


# --- following pages as a client -------------------------------------------------------------


class PagedPeer:
    """A CPO Sender list whose paging can be made wrong in one way at a time."""

    def __init__(self, n: int, mode: str = "correct", page: int = 3) -> None:
        self.n, self.mode, self.page = n, mode, page

    def app(self):
        from aiohttp import web

        async def handler(request: web.Request) -> web.Response:
            offset = int(request.query.get("offset", 0))
            limit = min(int(request.query.get("limit", self.page)), self.page)
            items = [
                {"id": f"L{i}", "country_code": "NL", "party_id": "CPO"} for i in range(self.n)
            ][offset : offset + limit]
            headers = {"X-Total-Count": str(self.n), "X-Limit": str(self.page)}
            if self.mode == "count-as-limit":
                headers["X-Limit"] = str(len(items))
            if self.mode == "no-headers":
                headers = {}
            base = str(request.url.with_query(None))
            if offset + limit < self.n:
                nxt = f"{base}?offset={offset + limit}&limit={limit}"
                if "date_from" in request.query and self.mode != "drop-filters":
                    nxt += f"&date_from={request.query['date_from']}"
                if self.mode == "loop":
                    nxt = f"{base}?offset=0&limit={limit}"
                headers["Link"] = f'<{nxt}>; rel="next"'
            for h in ("X-Request-ID", "X-Correlation-ID"):
                headers[h] = request.headers.get(h, "")
            headers.update(
                {
                    "OCPI-from-country-code": "NL",
                    "OCPI-from-party-id": "CPO",
                    "OCPI-to-country-code": "NL",
                    "OCPI-to-party-id": "PAY",
                }
            )
            return web.json_response(
                {"data": items, "status_code": 1000, "timestamp": "2025-03-01T09:00:00Z"},
                headers=headers,
            )

        app = web.Application()
        app.router.add_get("/locations", handler)
        return app


@pytest.mark.parametrize(
    ("mode", "rule", "expect_items"),
    [
        ("correct", None, 8),
        ("count-as-limit", "OCPI-21", 8),
        ("no-headers", "OCPI-20", 8),
        ("drop-filters", "OCPI-20b", 8),
        ("loop", "OCPI-20b", None),
    ],
)
async def test_crawl(emulator: EmulatorNode, aiohttp_server, mode, rule, expect_items) -> None:
    from emulator.ocpi.client import PeerError

    server = await aiohttp_server(PagedPeer(8, mode).app())
    platform = emulator.platforms.create(
        status="REGISTERED",
        version="2.2.1",
        peer_token="t",
        issued_token="i",
        roles=[{"role": "CPO", "party_id": "CPO", "country_code": "NL"}],
        endpoints=[
            {"identifier": "locations", "role": "SENDER", "url": str(server.make_url("/locations"))}
        ],
    )
    params = {"date_from": "2025-01-01T00:00:00Z"}
    if expect_items is None:
        with pytest.raises(PeerError, match="loops"):
            await emulator.client.get_all(platform, "locations", params=params)
    else:
        crawl = await emulator.client.get_all(platform, "locations", params=params)
        assert len(crawl.items) == expect_items and crawl.pages == 3
    found = {f["rule"] for f in findings(emulator)}
    if rule is None:
        assert found == set(), findings(emulator)
    else:
        assert rule in found


async def test_crawl_gives_up_after_max_pages(start_emulator, aiohttp_server) -> None:
    from emulator.ocpi.client import PeerError

    emulator = await start_emulator(crawl_max_pages=2)
    server = await aiohttp_server(PagedPeer(8).app())
    platform = emulator.platforms.create(
        status="REGISTERED",
        version="2.2.1",
        peer_token="t",
        issued_token="i2",
        roles=[{"role": "CPO", "party_id": "CPO", "country_code": "NL"}],
        endpoints=[
            {"identifier": "locations", "role": "SENDER", "url": str(server.make_url("/locations"))}
        ],
    )
    with pytest.raises(PeerError, match="more than 2 pages"):
        await emulator.client.get_all(platform, "locations")


async def test_malformed_peer_answer_is_a_finding_not_a_crash(
    emulator: EmulatorNode, aiohttp_server
) -> None:
    from aiohttp import web

    from emulator.ocpi.client import PeerProtocolError

    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html>oops</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/x", html)
    server = await aiohttp_server(app)
    with pytest.raises(PeerProtocolError, match="not JSON"):
        await emulator.client.request(
            "GET", str(server.make_url("/x")), token="t", version="2.2.1", module="locations"
        )
    assert findings(emulator, "OCPI-06")


# --- the outbound client: headers it sets, answers it judges --------------------------------


class EchoPeer:
    """Records what the client sent; answers with whatever the test puts in ``answer``."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        self.bodies: list[Any] = []
        self.answer: dict[str, Any] = {"status": 200, "data": []}
        self.hang = False
        self.refuse_unknown_fields = False

    def app(self):
        import asyncio

        from aiohttp import web

        async def handler(request: web.Request) -> web.Response:
            self.seen.append(dict(request.headers))
            body = await request.json() if request.can_read_body else None
            self.bodies.append(body)
            if self.hang:
                await asyncio.Event().wait()  # never answers; the client's timeout ends it
            answer = dict(self.answer)
            if self.refuse_unknown_fields and set(body or {}) - {"id", "name"}:
                answer = {"status": 200, "code": 2001}
            headers = {
                h: request.headers[h]
                for h in ("X-Request-ID", "X-Correlation-ID")
                if h in request.headers
            }
            if "OCPI-from-party-id" in request.headers:
                headers.update(
                    {
                        "OCPI-from-country-code": "NL",
                        "OCPI-from-party-id": "CPO",
                        "OCPI-to-country-code": "NL",
                        "OCPI-to-party-id": "PAY",
                    }
                )
            envelope = {
                "status_code": answer.get("code", 1000),
                "timestamp": "2025-03-01T09:00:00Z",
            }
            if "data" in answer:
                envelope["data"] = answer["data"]
            return web.json_response(envelope, status=answer["status"], headers=headers)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        return app


def _platform(node: EmulatorNode, url: str, version: str = "2.3.0") -> Any:
    endpoints = [{"identifier": "locations", "role": "SENDER", "url": f"{url}/locations"}]
    return node.platforms.create(
        status="REGISTERED",
        version=version,
        versions_url=f"{url}/versions",
        peer_token="the-cpo-token",
        issued_token=f"issued-{version}",
        auth_encoding="raw" if version == "2.1.1" else "base64",
        roles=[{"role": "CPO", "party_id": "CPO", "country_code": "NL"}],
        endpoints=endpoints,
    )


async def test_client_sets_auth_ids_and_routing_headers(
    emulator: EmulatorNode, aiohttp_server
) -> None:
    peer = EchoPeer()
    server = await aiohttp_server(peer.app())
    base = str(server.make_url("")).rstrip("/")
    modern, old = _platform(emulator, base), _platform(emulator, base, "2.1.1")
    await emulator.client.call(modern, "GET", "locations", expect="list")
    await emulator.client.request(
        "GET", f"{base}/versions", token="tok", version="2.3.0", module="versions"
    )
    await emulator.client.call(old, "GET", "locations", expect="list")
    functional, configuration, v211 = peer.seen
    assert functional["Authorization"] == f"Token {_b64('the-cpo-token')}"
    assert functional["X-Request-ID"] and functional["X-Correlation-ID"]
    assert (functional["OCPI-from-country-code"], functional["OCPI-from-party-id"]) == ("NL", "PAY")
    assert (functional["OCPI-to-country-code"], functional["OCPI-to-party-id"]) == ("NL", "CPO")
    assert not [h for h in configuration if h.startswith("OCPI-")]
    # 2.1.1: the raw token, and none of the headers 2.1.1 does not have.
    assert v211["Authorization"] == "Token the-cpo-token"
    assert not [h for h in v211 if h.startswith(("OCPI-", "X-Request", "X-Correlation"))]
    assert findings(emulator) == []


@pytest.mark.parametrize(
    ("answer", "expect", "rule"),
    [
        ({"status": 500, "code": 1000, "data": []}, "list", "OCPI-07"),
        ({"status": 200, "data": {"id": "x"}}, "list", "OCPI-06b"),
        ({"status": 200, "data": [1]}, "object", "OCPI-06b"),
        ({"status": 200, "code": 99, "data": []}, "list", "OCPI-06"),
    ],
)
async def test_client_judges_the_answer(
    emulator: EmulatorNode, aiohttp_server, answer, expect, rule
) -> None:
    peer = EchoPeer()
    peer.answer = answer
    server = await aiohttp_server(peer.app())
    platform = _platform(emulator, str(server.make_url("")).rstrip("/"))
    reply = await emulator.client.call(platform, "GET", "locations", expect=expect)
    [finding] = findings(emulator)
    assert finding["rule"] == rule and finding["exchange_id"] == reply.exchange_id
    assert finding["platform_id"] == platform.id


async def test_client_times_out(start_emulator, aiohttp_server) -> None:
    from emulator.ocpi.client import PeerUnreachable

    emulator = await start_emulator(http_timeout=0.2)
    peer = EchoPeer()
    peer.hang = True
    server = await aiohttp_server(peer.app())
    platform = _platform(emulator, str(server.make_url("")).rstrip("/"))
    with pytest.raises(PeerUnreachable, match=r"no answer within 0.2 s") as caught:
        await emulator.client.call(platform, "GET", "locations")
    row = emulator.rt.journal.get(caught.value.exchange_id or 0)
    assert row is not None and row["error"] == "no answer within 0.2 s" and row["status"] is None


async def test_versions_list_checks(emulator: EmulatorNode, aiohttp_server) -> None:
    """Checklist 5.2 #13: known version strings, absolute URLs."""
    peer = EchoPeer()
    peer.answer = {
        "status": 200,
        "data": [
            {"version": "2.3", "url": "http://cpo.example.com/ocpi/2.3"},
            {"version": "2.2.1", "url": "/ocpi/2.2.1"},
            {"url": "http://cpo.example.com/ocpi/x"},
        ],
    }
    server = await aiohttp_server(peer.app())
    platform = _platform(emulator, str(server.make_url("")).rstrip("/"))
    versions = await emulator.registration.fetch_versions(platform, "the-cpo-token")
    assert [v["version"] for v in versions] == ["2.3", "2.2.1"]
    messages = {f["pointer"]: f["message"] for f in findings(emulator, "OCPI-13")}
    assert "(2.3.0 is written '2.3.0')" in messages["/data/0/version"]
    assert "not absolute" in messages["/data/1/url"]
    assert "lacks version or url" in messages["/data/2"]


@pytest.mark.parametrize(
    ("version", "refuses", "sent", "rule"),
    [
        ("2.3.0", True, True, "OCPI-09"),
        ("2.3.0", False, True, None),
        ("2.2.1", True, False, None),
    ],
)
async def test_probe_unknown_fields(
    start_emulator, aiohttp_server, version, refuses, sent, rule
) -> None:
    """Checklist 5.1 #9 (2.3.0): a peer must not refuse a message for an unknown field."""
    from emulator.ocpi.client import UNKNOWN_FIELD

    emulator = await start_emulator(probe_unknown_fields=True)
    peer = EchoPeer()
    peer.refuse_unknown_fields = refuses
    server = await aiohttp_server(peer.app())
    platform = _platform(emulator, str(server.make_url("")).rstrip("/"), version)
    reply = await emulator.client.call(platform, "PUT", "locations", "L1", body={"id": "L1"})
    assert reply.ok
    assert (UNKNOWN_FIELD in peer.bodies[0]) is sent
    # Refused with the field: the same request again, without it.
    assert peer.bodies[1:] == ([{"id": "L1"}] if rule else [])
    assert [f["rule"] for f in findings(emulator)] == ([rule] if rule else [])
