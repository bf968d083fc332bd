"""Credentials handshake in both directions (credentials.asciidoc; checklist 5.2)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from cpo_double import CpoDouble, b64
from helpers import admin, findings, ocpi

from emulator.app import EmulatorNode
from emulator.ocpi.registration import PROBE_TOKEN

TOKEN_A = "payter-emulator-token-a"


# --- the CPO registers with the emulator (emulator = Receiver) -----------------------------


@pytest.mark.parametrize("version", ["2.3.0", "2.2.1"])
async def test_cpo_registers_with_emulator(
    emulator: EmulatorNode, cpo: CpoDouble, http, version: str
) -> None:
    answer = await cpo.register_with(emulator.server.versions_url, TOKEN_A, version)
    assert answer["_http"] == 200 and answer["status_code"] == 1000, answer
    creds = answer["data"]
    token_c = creds["token"]
    # Token C is new: neither token A nor the CPO's token B.
    assert token_c not in (TOKEN_A,) and not token_c.startswith("cpo-token-b")
    assert creds["url"] == emulator.server.versions_url
    # EMSP by default: a value of every version's Role enum (2.2.1/2.3.0 have no PTP).
    assert creds["roles"] == [
        {
            "role": "EMSP",
            "business_details": {"name": "Payter", "website": "https://www.payter.com"},
            "party_id": "PAY",
            "country_code": "NL",
        }
    ]
    # Before answering, the emulator read the CPO's versions and details with token B, Base64.
    fetches = [s for s in cpo.seen if s.method == "GET"][:2]
    assert [s.path for s in fetches] == ["/cpo/versions", f"/cpo/{version}"]
    token_b = next(t for t in cpo.valid_tokens if t.startswith("cpo-token-b"))
    assert all(s.headers["Authorization"] == f"Token {b64(token_b)}" for s in fetches)
    # Configuration modules carry no routing headers.
    assert all("OCPI-from-party-id" not in s.headers for s in fetches)
    [platform] = emulator.platforms.registered()
    assert platform.version == version
    assert platform.peer_token == token_b
    assert emulator.platforms.by_issued_token(token_c) == platform
    assert platform.owns("nl", "cpo")
    assert {e["identifier"] for e in platform.endpoints} >= {"credentials", "locations"}
    # Token C now works; token A is spent (checklist 5.2 #16).
    status, _, body = await ocpi(
        http, "GET", f"{emulator.server.version_url(version)}/credentials", token_c
    )
    assert status == 200 and body["data"]["token"] == token_c
    status, _, body = await ocpi(http, "GET", emulator.server.versions_url, TOKEN_A)
    assert status == 401 and "already used" in body["status_message"]


async def test_second_post_is_405_and_put_rotates(
    emulator: EmulatorNode, cpo: CpoDouble, http
) -> None:
    answer = await cpo.register_with(emulator.server.versions_url, TOKEN_A)
    token_c = answer["data"]["token"]
    url = emulator.server.endpoint_url("2.3.0", "credentials")
    body = cpo.my_credentials("2.3.0", "cpo-token-b-again")
    status, _, env = await ocpi(http, "POST", url, token_c, json=body)
    assert status == 405 and env["status_code"] == 2000 and "timestamp" in env
    # PUT: the emulator re-reads the CPO's endpoints with the new token and issues a new one.
    cpo.valid_tokens.add("cpo-token-b-rotated")
    before = len(cpo.seen)
    status, _, env = await ocpi(
        http, "PUT", url, token_c, json=cpo.my_credentials("2.3.0", "cpo-token-b-rotated")
    )
    assert status == 200 and env["status_code"] == 1000
    new_c = env["data"]["token"]
    assert new_c != token_c
    refetch = cpo.seen[before:]
    assert [s.path for s in refetch] == ["/cpo/versions", "/cpo/2.3.0"]
    assert refetch[0].headers["Authorization"] == f"Token {b64('cpo-token-b-rotated')}"
    [platform] = emulator.platforms.registered()
    assert platform.peer_token == "cpo-token-b-rotated"
    # The old token C is no longer accepted.
    status, _, _ = await ocpi(http, "GET", url, token_c)
    assert status == 401
    status, _, env = await ocpi(http, "GET", url, new_c)
    assert status == 200


async def test_delete_unregisters_then_put_and_delete_are_405(
    emulator: EmulatorNode, cpo: CpoDouble, http
) -> None:
    token_c = (await cpo.register_with(emulator.server.versions_url, TOKEN_A))["data"]["token"]
    url = emulator.server.endpoint_url("2.3.0", "credentials")
    status, _, env = await ocpi(http, "DELETE", url, token_c)
    assert status == 200 and env["status_code"] == 1000
    assert emulator.platforms.registered() == []
    status, _, _ = await ocpi(http, "DELETE", url, token_c)
    assert status == 405
    status, _, _ = await ocpi(http, "PUT", url, token_c, json=cpo.my_credentials("2.3.0", "x"))
    assert status == 405
    # The unregistered platform cannot use other modules any more.
    status, _, _ = await ocpi(http, "GET", emulator.server.version_url("2.3.0"), token_c)
    assert status == 401
    # The fixed token A is re-armed for a new registration.
    status, _, _ = await ocpi(http, "GET", emulator.server.versions_url, TOKEN_A)
    assert status == 200


async def test_put_and_delete_with_token_a_are_405(emulator: EmulatorNode, http) -> None:
    url = emulator.server.endpoint_url("2.2.1", "credentials")
    status, _, env = await ocpi(http, "PUT", url, TOKEN_A, json={"token": "x"})
    assert status == 405 and env["status_code"] == 2000
    status, _, _ = await ocpi(http, "DELETE", url, TOKEN_A)
    assert status == 405


async def test_peer_versions_unreachable_is_3001(
    emulator: EmulatorNode, cpo: CpoDouble, http
) -> None:
    url = emulator.server.endpoint_url("2.3.0", "credentials")
    body = cpo.my_credentials("2.3.0", "tok-b")
    body["url"] = "http://127.0.0.1:9/nothing-listens-here/versions"
    status, _, env = await ocpi(http, "POST", url, TOKEN_A, json=body)
    assert status == 200 and env["status_code"] == 3001
    assert "cannot read the peer's versions" in env["status_message"]
    assert emulator.platforms.all() == []
    # Nothing was consumed: token A still works.
    status, _, _ = await ocpi(http, "GET", emulator.server.versions_url, TOKEN_A)
    assert status == 200


async def test_peer_without_the_version_is_3002(emulator: EmulatorNode, http) -> None:
    cpo = await CpoDouble(versions=("2.2.1",)).start()
    try:
        cpo.valid_tokens.add("tok-b")
        url = emulator.server.endpoint_url("2.3.0", "credentials")
        status, _, env = await ocpi(
            http, "POST", url, TOKEN_A, json=cpo.my_credentials("2.3.0", "tok-b")
        )
        assert status == 200 and env["status_code"] == 3002
    finally:
        await cpo.stop()


async def test_peer_without_credentials_endpoint_is_3003(emulator: EmulatorNode, http) -> None:
    cpo = await CpoDouble(modules=(("locations", "SENDER"),)).start()
    try:
        cpo.valid_tokens.add("tok-b")
        url = emulator.server.endpoint_url("2.3.0", "credentials")
        status, _, env = await ocpi(
            http, "POST", url, TOKEN_A, json=cpo.my_credentials("2.3.0", "tok-b")
        )
        assert status == 200 and env["status_code"] == 3003
        assert "credentials" in env["status_message"]
        assert findings(emulator, "OCPI-14")
    finally:
        await cpo.stop()


async def test_required_modules_setting(start_emulator, http) -> None:
    emulator = await start_emulator(required_modules="credentials,payments:RECEIVER@2.3.0")
    cpo = await CpoDouble(modules=(("credentials", "SENDER"), ("payments", "SENDER"))).start()
    try:
        cpo.valid_tokens.add("tok-b")
        url = emulator.server.endpoint_url("2.3.0", "credentials")
        _status, _, env = await ocpi(
            http, "POST", url, TOKEN_A, json=cpo.my_credentials("2.3.0", "tok-b")
        )
        assert env["status_code"] == 3003 and "payments (RECEIVER)" in env["status_message"]
        # The role mismatch was reported as well.
        assert findings(emulator, "OCPI-14b")
    finally:
        await cpo.stop()


async def test_invalid_json_and_invalid_credentials(emulator: EmulatorNode, http) -> None:
    url = emulator.server.endpoint_url("2.3.0", "credentials")
    status, _, env = await ocpi(
        http, "POST", url, TOKEN_A, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and env["status_code"] == 2000
    bad = {
        "token": "has space",
        "url": "http://x/versions",
        "roles": [
            {
                "role": "HUB",
                "business_details": {"name": "X"},
                "party_id": "TOOLONG",
                "country_code": "N",
            }
        ],
    }
    status, _, env = await ocpi(http, "POST", url, TOKEN_A, json=bad)
    assert status == 200 and env["status_code"] == 2001
    pointers = {f["pointer"] for f in findings(emulator)}
    assert {"/token", "/roles/0/role", "/roles/0/party_id", "/roles/0/country_code"} <= pointers
    assert emulator.platforms.all() == []
    # Even an invalid token is not echoed in full (answer, findings).
    assert "has space" not in env["status_message"] and "has …" in env["status_message"]
    assert not [f for f in findings(emulator) if "has space" in f["message"]]
    # HUB is a 2.2.1 role but not a 2.3.0 one.
    assert any(
        f["rule"] == "OCPI-18" and f["pointer"] == "/roles/0/role" for f in findings(emulator)
    )


async def test_credentials_roles_checks(emulator: EmulatorNode, cpo: CpoDouble, http) -> None:
    """Checklist 5.2 #18: unique roles, hub_party_id of 5 characters; accepted, reported."""
    cpo.valid_tokens.add("tok-b")
    body = cpo.my_credentials("2.3.0", "tok-b")
    body["hub_party_id"] = "NLH"
    body["roles"].append(dict(body["roles"][0]))
    url = emulator.server.endpoint_url("2.3.0", "credentials")
    status, _, env = await ocpi(http, "POST", url, TOKEN_A, json=body)
    assert status == 200 and env["status_code"] == 1000, env
    pointers = {f["pointer"] for f in findings(emulator, "OCPI-18")}
    assert pointers == {"/hub_party_id", "/roles/1"}


async def test_raw_token_from_221_peer_is_a_finding_and_strict_refuses(
    start_emulator, http
) -> None:
    lenient = await start_emulator()
    # The versions list is the same for 2.1.1 (raw tokens) and 2.2.1+: no verdict there yet.
    status, _, _ = await ocpi(http, "GET", lenient.server.versions_url, TOKEN_A, raw=True)
    assert status == 200 and findings(lenient, "OCPI-01") == []
    status, _, _ = await ocpi(http, "GET", lenient.server.version_url("2.2.1"), TOKEN_A, raw=True)
    assert status == 200
    [finding] = findings(lenient, "OCPI-01")
    assert "Base64" in finding["message"] and finding["exchange_id"]
    strict = await start_emulator(strict=True)
    status, _, env = await ocpi(http, "GET", strict.server.version_url("2.3.0"), TOKEN_A, raw=True)
    assert status == 401 and "strict" in env["status_message"]
    cpo = await CpoDouble().start()
    try:
        token_c = (await cpo.register_with(strict.server.versions_url, TOKEN_A))["data"]["token"]
        [platform] = strict.platforms.registered()
        status, _, env = await ocpi(http, "GET", strict.server.versions_url, token_c, raw=True)
        assert status == 401 and "strict" in env["status_message"]
        # The refusal is explained in the report, against the platform that sent it.
        assert any(f["platform_id"] == platform.id for f in findings(strict, "OCPI-01"))
        status, _, _ = await ocpi(http, "GET", strict.server.versions_url, token_c)
        assert status == 200
    finally:
        await cpo.stop()


async def test_211_registration_uses_raw_token(emulator: EmulatorNode, http) -> None:
    cpo = await CpoDouble(versions=("2.1.1",), accept_raw_only=True).start()
    try:
        answer = await cpo.register_with(emulator.server.versions_url, TOKEN_A, "2.1.1")
        assert answer["status_code"] == 1000, answer
        creds = answer["data"]
        assert creds["party_id"] == "PAY" and "roles" not in creds
        # The emulator called the 2.1.1 CPO with the raw token (2.1.1 has no Base64).
        fetches = [s for s in cpo.seen if s.method == "GET"]
        token_b = next(t for t in cpo.valid_tokens if t.startswith("cpo-token-b"))
        assert fetches and all(s.headers["Authorization"] == f"Token {token_b}" for s in fetches)
        [platform] = emulator.platforms.registered()
        assert platform.version == "2.1.1" and platform.auth_encoding == "raw"
        assert platform.roles[0]["role"] == "CPO" and platform.roles[0]["party_id"] == "CPO"
        # Raw tokens and no request ids are right in 2.1.1: nothing to report.
        assert findings(emulator) == []
    finally:
        await cpo.stop()


async def test_several_platforms_at_once(emulator: EmulatorNode, http) -> None:
    status, minted = await admin(http, emulator, "POST", "tokens-a", json={"label": "second"})
    assert status == 201 and minted["versions_url"] == emulator.server.versions_url
    first = await CpoDouble(party_id="AAA").start()
    second = await CpoDouble(party_id="BBB").start()
    try:
        c1 = (await first.register_with(emulator.server.versions_url, TOKEN_A))["data"]["token"]
        c2 = (await second.register_with(emulator.server.versions_url, minted["token"], "2.2.1"))[
            "data"
        ]["token"]
        assert c1 != c2
        platforms = {p.roles[0]["party_id"]: p for p in emulator.platforms.registered()}
        assert set(platforms) == {"AAA", "BBB"}
        assert platforms["BBB"].version == "2.2.1" and platforms["AAA"].version == "2.3.0"
        status, listed = await admin(http, emulator, "GET", "platforms")
        assert status == 200 and len(listed) == 2
        # Tokens are never shown in full by the control API.
        assert all(c1 not in str(p) and c2 not in str(p) for p in listed)
    finally:
        await first.stop()
        await second.stop()


# --- the emulator registers with the CPO (emulator = Sender) --------------------------------


async def test_emulator_registers_with_cpo(emulator: EmulatorNode, cpo: CpoDouble, http) -> None:
    status, body = await admin(
        http,
        emulator,
        "POST",
        "platforms/register",
        json={"versions_url": cpo.versions_url, "token": cpo.token_a},
    )
    assert status == 201, body
    assert body["status"] == "REGISTERED" and body["version"] == "2.3.0"
    assert body["registered_by"] == "us" and body["roles"][0]["party_id"] == "CPO"
    # Handshake: GET versions and details with token A, then POST with token A.
    calls = [(s.method, s.path) for s in cpo.seen]
    assert calls[:3] == [
        ("GET", "/cpo/versions"),
        ("GET", "/cpo/2.3.0"),
        ("POST", "/cpo/2.3.0/credentials"),
    ]
    assert all(s.headers["Authorization"] == f"Token {b64(cpo.token_a)}" for s in cpo.seen[:3])
    post = cpo.seen[2]
    token_b = post.body["token"]
    assert (
        post.body["roles"][0]["role"] == "EMSP" and post.body["url"] == emulator.server.versions_url
    )
    # The CPO could read our versions with token B while answering the POST.
    assert cpo.emulator_token == token_b
    [platform] = emulator.platforms.registered()
    assert emulator.platforms.by_issued_token(token_b) == platform
    assert platform.peer_token in cpo.valid_tokens and platform.peer_token != cpo.token_a
    # Token B keeps working for the CPO afterwards.
    status, _, _ = await ocpi(http, "GET", emulator.server.versions_url, token_b)
    assert status == 200


async def test_emulator_picks_highest_mutual_version(emulator: EmulatorNode, http) -> None:
    cpo = await CpoDouble(versions=("2.1.1", "2.2.1")).start()
    try:
        status, body = await admin(
            http,
            emulator,
            "POST",
            "platforms/register",
            json={"versions_url": cpo.versions_url, "token": cpo.token_a},
        )
        assert status == 201 and body["version"] == "2.2.1"
    finally:
        await cpo.stop()


async def test_sender_errors(start_emulator, http) -> None:
    emulator = await start_emulator(versions="2.3.0")
    # Unreachable peer → 3001.
    status, body = await admin(
        http,
        emulator,
        "POST",
        "platforms/register",
        json={"versions_url": "http://127.0.0.1:9/versions", "token": "a"},
    )
    assert status == 502 and body["error"]["ocpi_status_code"] == 3001
    # No mutual version → 3002.
    old = await CpoDouble(versions=("2.2.1",)).start()
    status, body = await admin(
        http,
        emulator,
        "POST",
        "platforms/register",
        json={"versions_url": old.versions_url, "token": old.token_a},
    )
    assert status == 502 and body["error"]["ocpi_status_code"] == 3002
    assert not any(s.method == "POST" for s in old.seen)
    await old.stop()
    # Missing credentials endpoint → 3003, and no POST is made.
    bare = await CpoDouble(modules=(("locations", "SENDER"),)).start()
    status, body = await admin(
        http,
        emulator,
        "POST",
        "platforms/register",
        json={"versions_url": bare.versions_url, "token": bare.token_a},
    )
    assert status == 502 and body["error"]["ocpi_status_code"] == 3003
    assert not any(s.method == "POST" for s in bare.seen)
    await bare.stop()
    # The CPO refuses the POST: its OCPI error is passed on.
    refusing = await CpoDouble(post_error={"code": 2001}).start()
    status, body = await admin(
        http,
        emulator,
        "POST",
        "platforms/register",
        json={"versions_url": refusing.versions_url, "token": refusing.token_a},
    )
    assert status == 502 and body["error"]["ocpi_status_code"] == 2001
    await refusing.stop()
    assert emulator.platforms.all() == []
    # Bad control-API input.
    status, body = await admin(http, emulator, "POST", "platforms/register", json={"token": "x"})
    assert status == 400 and body["error"]["code"] == "missing_field"


async def test_a_url_that_is_not_a_versions_endpoint_judges_no_cpo(
    emulator: EmulatorNode, http
) -> None:
    """An operator's wrong URL (here the emulator's own /healthz, which answers 200 without an
    OCPI envelope): the registration fails and says why, and the report does not FAIL for a
    platform that never registered."""
    status, body = await admin(
        http,
        emulator,
        "POST",
        "platforms/register",
        json={"versions_url": f"{emulator.rt.base_url}/healthz", "token": "a"},
    )
    assert status == 502 and body["error"]["ocpi_status_code"] == 3001
    assert "not an OCPI envelope" in body["error"]["message"]
    assert "is it the CPO's OCPI versions endpoint?" in body["error"]["message"]
    assert body["error"]["exchange_id"]  # the exchange stays in the journal
    assert emulator.platforms.all() == []
    assert emulator.rt.findings.list() == []
    status, report = await admin(http, emulator, "GET", "report")
    assert report["verdict"] != "FAIL"


async def test_token_c_equal_to_b_is_a_finding(emulator: EmulatorNode, http) -> None:
    cpo = await CpoDouble(return_token="same-as-token-a").start()
    cpo.token_a = "same-as-token-a"
    cpo.valid_tokens = {"same-as-token-a"}
    try:
        status, _ = await admin(
            http,
            emulator,
            "POST",
            "platforms/register",
            json={"versions_url": cpo.versions_url, "token": cpo.token_a},
        )
        assert status == 201
        assert any(
            "equals a token already exchanged" in f["message"]
            for f in findings(emulator, "OCPI-15")
        )
    finally:
        await cpo.stop()


async def test_cpo_answering_invalid_credentials(emulator: EmulatorNode, http) -> None:
    cpo = await CpoDouble(return_token="secret with spaces").start()
    try:
        status, body = await register(emulator, http, cpo)
        assert status == 502 and body["error"]["ocpi_status_code"] == 3001
        assert "invalid Credentials: /token:" in body["error"]["message"]
        [finding] = findings(emulator, "OCPI-15")
        assert finding["pointer"] == "/data/token" and finding["exchange_id"]
        assert "secret with spaces" not in finding["message"] + body["error"]["message"]
        assert emulator.platforms.all() == []
    finally:
        await cpo.stop()


async def test_sender_update_and_unregister(emulator: EmulatorNode, cpo: CpoDouble, http) -> None:
    status, body = await admin(
        http,
        emulator,
        "POST",
        "platforms/register",
        json={"versions_url": cpo.versions_url, "token": cpo.token_a},
    )
    pid = body["id"]
    old_b = cpo.emulator_token
    status, body = await admin(
        http, emulator, "POST", f"platforms/{pid}/update", json={"version": "2.2.1"}
    )
    assert status == 200 and body["version"] == "2.2.1"
    put = [s for s in cpo.seen if s.method == "PUT"]
    assert put and put[-1].path == "/cpo/2.2.1/credentials"
    assert cpo.emulator_token != old_b
    platform = emulator.platforms.get(pid)
    assert platform is not None and platform.peer_token in cpo.valid_tokens
    status, body = await admin(http, emulator, "DELETE", f"platforms/{pid}")
    assert status == 200 and body["status"] == "UNREGISTERED" and "warning" not in body
    assert any(s.method == "DELETE" for s in cpo.seen)
    status, body = await admin(http, emulator, "DELETE", "platforms/999")
    assert status == 404


async def test_emulator_registers_with_a_211_cpo(emulator: EmulatorNode, http) -> None:
    cpo = await CpoDouble(accept_raw_only=True, versions=("2.1.1",)).start()
    try:
        status, body = await register(emulator, http, cpo)
        assert status == 201, body
        assert body["version"] == "2.1.1" and body["auth_encoding"] == "raw"
        # From the version details on, the raw token 2.1.1 wants; nothing to report.
        details, post = cpo.seen[2], cpo.seen[3]
        assert (details.path, post.method) == ("/cpo/2.1.1", "POST")
        assert (
            details.headers["Authorization"]
            == post.headers["Authorization"]
            == (f"Token {cpo.token_a}")
        )
        assert post.body["party_id"] == "PAY" and "roles" not in post.body
        assert findings(emulator, "OCPI-01") == []
    finally:
        await cpo.stop()


async def test_peer_that_only_takes_raw_tokens(emulator: EmulatorNode, http) -> None:
    cpo = await CpoDouble(accept_raw_only=True, versions=("2.2.1",)).start()
    try:
        status, body = await admin(
            http,
            emulator,
            "POST",
            "platforms/register",
            json={"versions_url": cpo.versions_url, "token": cpo.token_a},
        )
        assert status == 201, body
        assert body["auth_encoding"] == "raw"
        assert any("accepted the raw token" in f["message"] for f in findings(emulator, "OCPI-01"))
    finally:
        await cpo.stop()


async def test_restart_keeps_registrations(tmp_path, cpo: CpoDouble, http) -> None:
    from helpers import make_settings

    from emulator.app import build_emulator

    db = str(tmp_path / "state.db")
    first = build_emulator(make_settings(db=db))
    await first.start()
    token_c = (await cpo.register_with(first.server.versions_url, TOKEN_A))["data"]["token"]
    await first.stop()
    second = build_emulator(make_settings(db=db))
    await second.start()
    try:
        [platform] = second.platforms.registered()
        assert platform.roles[0]["party_id"] == "CPO"
        status, _, _ = await ocpi(http, "GET", second.server.versions_url, token_c)
        assert status == 200
        status, _, _ = await ocpi(http, "GET", second.server.versions_url, TOKEN_A)
        assert status == 401
    finally:
        await second.stop()
    # A new --token-a replaces the old unused one; the spent one stays spent.
    third = build_emulator(make_settings(db=db, token_a="another-token-a"))
    await third.start()
    try:
        status, _, _ = await ocpi(http, "GET", third.server.versions_url, "another-token-a")
        assert status == 200
        status, _, body = await ocpi(http, "GET", third.server.versions_url, TOKEN_A)
        assert status == 401 and "already used" in body["status_message"]
    finally:
        await third.stop()
    fourth = build_emulator(make_settings(db=db, token_a="a-third-token-a"))
    await fourth.start()
    try:
        status, _, body = await ocpi(http, "GET", fourth.server.versions_url, "another-token-a")
        assert status == 401 and body["status_message"] == "unknown token"
    finally:
        await fourth.stop()


# --- how the CPO handles the tokens of the handshake (checklist 5.1 #2, 5.2 #15-#17, #19) -----


async def register(emulator: EmulatorNode, http, cpo: CpoDouble) -> tuple[int, dict]:
    return await admin(
        http,
        emulator,
        "POST",
        "platforms/register",
        json={"versions_url": cpo.versions_url, "token": cpo.token_a},
    )


async def test_cpo_presenting_the_wrong_token_gets_401_and_a_finding(
    emulator: EmulatorNode, cpo: CpoDouble, http
) -> None:
    token_c = (await cpo.register_with(emulator.server.versions_url, TOKEN_A))["data"]["token"]
    [platform] = emulator.platforms.registered()
    details = emulator.server.version_url("2.3.0")
    # Token A after the registration: the Sender switches to token C.
    status, _, env = await ocpi(http, "GET", details, TOKEN_A)
    assert status == 401 and "already used" in env["status_message"]
    # Its own token B, the one it gave the emulator.
    status, _, env = await ocpi(http, "GET", details, platform.peer_token)
    assert status == 401 and "the token you gave us" in env["status_message"]
    # After its PUT, the token C that the PUT replaced.
    cpo.valid_tokens.add("cpo-token-b-rotated")
    url = emulator.server.endpoint_url("2.3.0", "credentials")
    body = cpo.my_credentials("2.3.0", "cpo-token-b-rotated")
    status, _, env = await ocpi(http, "PUT", url, token_c, json=body)
    assert status == 200 and env["status_code"] == 1000
    status, _, env = await ocpi(http, "GET", details, token_c)
    assert status == 401 and "replaced by a credentials update" in env["status_message"]
    found = findings(emulator, "OCPI-17")
    assert len(found) == 3 and {f["platform_id"] for f in found} == {platform.id}
    assert all(f["exchange_id"] for f in found)
    # A token nobody issued is just unknown.
    status, _, env = await ocpi(http, "GET", details, "never-issued")
    assert status == 401 and env["status_message"] == "unknown token"
    assert len(findings(emulator, "OCPI-17")) == 3


async def test_correct_cpo_passes_the_token_probes(
    emulator: EmulatorNode, cpo: CpoDouble, http
) -> None:
    status, body = await register(emulator, http, cpo)
    assert status == 201, body
    # After the handshake: the CPO must refuse a token it never issued. Its spent token A is
    # not tried: the Sender SHALL use token C from now on (credentials.asciidoc), and the
    # emulator does not break the spec to test a peer.
    probes = [s.headers["Authorization"] for s in cpo.seen[3:]]
    assert probes[0] == f"Token {b64(PROBE_TOKEN)}" and cpo.seen[3].path == "/cpo/versions"
    assert f"Token {b64(cpo.token_a)}" not in probes
    rules = {f["rule"] for f in findings(emulator)}
    assert not rules & {"OCPI-02", "OCPI-15", "OCPI-16", "OCPI-17", "OCPI-19"}, rules


async def test_the_spent_token_a_probe_is_opt_in(start_emulator, cpo: CpoDouble, http) -> None:
    emulator = await start_emulator(probe_spent_token_a=True)
    status, body = await register(emulator, http, cpo)
    assert status == 201, body
    probes = [s.headers["Authorization"] for s in cpo.seen[3:5]]
    assert probes == [f"Token {b64(PROBE_TOKEN)}", f"Token {b64(cpo.token_a)}"]
    assert not findings(emulator, "OCPI-16b")  # the CPO refused it


async def test_token_probes_can_be_switched_off(start_emulator, cpo: CpoDouble, http) -> None:
    emulator = await start_emulator(probe_tokens=False)
    status, _ = await register(emulator, http, cpo)
    assert status == 201
    assert not [s for s in cpo.seen if s.headers["Authorization"] == f"Token {b64(PROBE_TOKEN)}"]
    # The versions list was read once, for the handshake.
    assert [s.path for s in cpo.seen].count("/cpo/versions") == 1


async def test_cpo_that_accepts_any_token_and_skips_our_details(
    emulator: EmulatorNode, http
) -> None:
    cpo = await CpoDouble(accept_any_token=True, read_details=False).start()
    emulator.registration.probe_spent_token_a = True
    try:
        status, body = await register(emulator, http, cpo)
        assert status == 201, body
        [unknown] = findings(emulator, "OCPI-02")
        assert "unknown token" in unknown["message"] and "expected HTTP 401" in unknown["message"]
        # Token A "MAY no longer be used": a peer that still takes it is noted, an info.
        [spent] = findings(emulator, "OCPI-16b")
        assert "CREDENTIALS_TOKEN_A" in spent["message"] and spent["severity"] == "info"
        [unread] = findings(emulator, "OCPI-15")
        assert "without reading the 2.3.0 version details" in unread["message"]
        assert {unknown["platform_id"], spent["platform_id"]} == {body["id"]}
    finally:
        await cpo.stop()


async def test_token_probe_answered_without_an_envelope(emulator: EmulatorNode, http) -> None:
    """FastAPI-based libraries refuse a bad token with {"detail": ...} and no OCPI envelope.
    The probe still judges the HTTP status (transport_and_format: SHALL 401): a bare 401
    passes OCPI-02, a bare 403 fails it; OCPI-06 names the missing envelope either way."""
    for party, http_status in (("CP1", 401), ("CP2", 403)):
        cpo = CpoDouble(party_id=party, token_a=f"{party}-token-a")
        original = cpo.handle

        async def bare(request: web.Request, original=original, http_status=http_status):  # type: ignore[no-untyped-def]
            if request.headers.get("Authorization") == f"Token {b64(PROBE_TOKEN)}":
                return web.json_response({"detail": "Unauthorized"}, status=http_status)
            return await original(request)

        cpo.handle = bare  # type: ignore[method-assign]
        await cpo.start()
        try:
            status, body = await register(emulator, http, cpo)
            assert status == 201, body
            mine = [f for f in findings(emulator) if f["platform_id"] == body["id"]]
            assert any(
                f["rule"] == "OCPI-06" and f"HTTP {http_status}" in f["message"] for f in mine
            )
            unknown = [f for f in mine if f["rule"] == "OCPI-02"]
            [part] = emulator.rt.findings.report(body["id"])["coverage"]
            [check] = [c for c in part["checks"] if c["rule"] == "OCPI-02"]
            if http_status == 401:
                assert unknown == [] and check["status"] == "passed", check
            else:
                assert len(unknown) == 1 and "expected HTTP 401" in unknown[0]["message"]
                assert check["status"] == "failed", check
        finally:
            await cpo.stop()


async def test_cpo_reading_our_versions_with_its_own_token(emulator: EmulatorNode, http) -> None:
    cpo = await CpoDouble(read_with="own").start()
    try:
        status, body = await register(emulator, http, cpo)
        # Refused with 401, the CPO answered the POST with 3001.
        assert status == 502 and body["error"]["ocpi_status_code"] == 3001
        assert any("peer's own token" in f["message"] for f in findings(emulator, "OCPI-15"))
    finally:
        await cpo.stop()


async def test_cpo_mishandling_put_and_delete(emulator: EmulatorNode, http) -> None:
    cpo = await CpoDouble(return_token="cpo-token-c").start()
    try:
        status, body = await register(emulator, http, cpo)
        assert status == 201 and findings(emulator, "OCPI-16") == []
        pid, old_b = body["id"], cpo.emulator_token
        # The PUT: same token C again and no re-read of our version details.
        cpo.read_details = False
        status, body = await admin(http, emulator, "POST", f"platforms/{pid}/update", json={})
        assert status == 200, body
        messages = [f["message"] for f in findings(emulator, "OCPI-16")]
        assert any("equals a token already exchanged" in m for m in messages)
        assert any("PUT without reading the 2.3.0 version details" in m for m in messages)
        # The CPO keeps calling with the token B that the PUT replaced.
        status, _, env = await ocpi(http, "GET", emulator.server.versions_url, old_b)
        assert status == 401 and "replaced" in env["status_message"]
        assert any("replaced token" in f["message"] for f in findings(emulator, "OCPI-16"))
        # A refused PUT: reported, and the current token B stays valid.
        cpo.put_error = {"code": 2001}
        status, body = await admin(http, emulator, "POST", f"platforms/{pid}/update", json={})
        assert status == 502 and body["error"]["ocpi_status_code"] == 2001
        assert any("refused the credentials PUT" in f["message"] for f in findings(emulator))
        status, _, _ = await ocpi(http, "GET", emulator.server.versions_url, cpo.emulator_token)
        assert status == 200
        # A refused DELETE: the emulator unregisters anyway, with a warning and a finding.
        cpo.delete_error = {"code": 2000, "http": 405}
        status, body = await admin(http, emulator, "DELETE", f"platforms/{pid}")
        assert status == 200 and body["status"] == "UNREGISTERED" and "405" in body["warning"]
        assert any("refused the credentials DELETE" in f["message"] for f in findings(emulator))
    finally:
        await cpo.stop()


@pytest.mark.parametrize(("role", "reported"), [("PTP", True), ("OTHER", False), (None, False)])
async def test_cpo_refusing_our_role_value(
    start_emulator, http, role: str | None, reported: bool
) -> None:
    """A CPO that validates the Role enum is right to refuse PTP (noted, an info, with the
    way out); the default (EMSP) and OTHER are in the enum."""
    emulator = await start_emulator(**({"role": role} if role else {}))
    role = role or "EMSP"
    cpo = await CpoDouble(post_error={"code": 2001}).start()
    try:
        status, body = await register(emulator, http, cpo)
        assert status == 502 and body["error"]["ocpi_status_code"] == 2001
        assert cpo.seen[2].body["roles"][0]["role"] == role
        found = findings(emulator, "OCPI-19")
        assert bool(found) is reported
        if reported:
            assert "--role OTHER" in found[0]["message"] and found[0]["severity"] == "info"
    finally:
        await cpo.stop()


async def test_two_posts_with_one_token_a_register_once(emulator: EmulatorNode, http) -> None:
    import asyncio

    first = await CpoDouble(party_id="AAA").start()
    second = await CpoDouble(party_id="BBB").start()
    try:
        first.valid_tokens.add("tok-b-1")
        second.valid_tokens.add("tok-b-2")
        url = emulator.server.endpoint_url("2.3.0", "credentials")
        answers = await asyncio.gather(
            ocpi(http, "POST", url, TOKEN_A, json=first.my_credentials("2.3.0", "tok-b-1")),
            ocpi(http, "POST", url, TOKEN_A, json=second.my_credentials("2.3.0", "tok-b-2")),
        )
        statuses = sorted(status for status, _, _ in answers)
        assert statuses == [200, 405], answers
        assert len(emulator.platforms.registered()) == 1
    finally:
        await first.stop()
        await second.stop()


# --- a registration a restart interrupted ------------------------------------------------------


class Killed(BaseException):
    """The process dies here (a kill -9 between two statements)."""


async def killed_after_the_cpo_answered(start_emulator: Any, cpo: CpoDouble, db: str) -> Any:
    """An emulator on ``db`` whose registration with ``cpo`` is killed once the CPO answered
    our credentials POST (stopped, as a kill would leave it)."""
    first = await start_emulator(db=db)

    def killed(*args: object, **kwargs: object) -> None:
        raise Killed

    first.registration._accept_credentials = killed
    with pytest.raises(Killed):
        await first.registration.register_with(cpo.versions_url, cpo.token_a)
    await first.stop()
    return first


async def test_a_registration_interrupted_after_the_post_is_completed_by_the_peers_put(
    start_emulator, cpo: CpoDouble, http, tmp_path
) -> None:
    """Killed after the CPO answered our credentials POST: it holds token B and spent its token
    A, its token C was lost with the process. After the restart the platform is an interrupted
    registration (PENDING); the CPO's credentials PUT with token B completes it (one platform),
    and an operator registering again instead begins it again (still one platform)."""
    db = str(tmp_path / "emulator.db")
    first = await killed_after_the_cpo_answered(start_emulator, cpo, db)
    token_b = cpo.emulator_token
    assert token_b and cpo.token_a not in cpo.valid_tokens  # the CPO has B; A is spent

    node = await start_emulator(db=db, port=first.port)
    [pending] = node.platforms.all()
    assert pending.status == "PENDING" and node.registration.interrupted(pending)
    url = f"{node.rt.base_url}/ocpi/2.3.0/credentials"
    # Until it is completed, token B opens versions and credentials only.
    _, _, env = await ocpi(http, "GET", f"{node.rt.base_url}/ocpi/2.3.0/locations", token_b)
    assert env["status_code"] == 2000
    token_c = "cpo-token-c-after-restart"
    cpo.valid_tokens.add(token_c)
    status, _, env = await ocpi(
        http, "PUT", url, token_b, json=cpo.my_credentials("2.3.0", token_c)
    )
    assert (status, env["status_code"]) == (200, 1000), env
    [platform] = node.platforms.all()
    assert (platform.id, platform.status) == (pending.id, "REGISTERED")
    new_b = env["data"]["token"]
    status, _, env = await ocpi(http, "GET", url, new_b)
    assert env["status_code"] == 1000, env


async def test_an_interrupted_registration_begun_again_leaves_one_platform(
    start_emulator, cpo: CpoDouble, tmp_path
) -> None:
    db = str(tmp_path / "emulator.db")
    first = await killed_after_the_cpo_answered(start_emulator, cpo, db)
    node = await start_emulator(db=db, port=first.port)
    # The CPO's operator hands out a new token A; ours registers again from the start.
    cpo.token_a = "cpo-token-a-new"
    cpo.valid_tokens.add(cpo.token_a)
    platform = await node.registration.register_with(cpo.versions_url, cpo.token_a)
    assert [(p.id, p.status) for p in node.platforms.all()] == [(platform.id, "REGISTERED")]


async def test_a_registration_still_running_is_not_taken_for_an_interrupted_one(
    emulator: EmulatorNode, cpo: CpoDouble, http
) -> None:
    """While our handshake runs, the CPO's PUT with token B is refused as before (405)."""
    seen: list[tuple[int, str]] = []
    original = cpo.read_emulator

    async def put_meanwhile(version: str, versions_url: str) -> bool:
        if cpo.emulator_token and not seen:
            status, _, env = await ocpi(
                http,
                "PUT",
                f"{emulator.rt.base_url}/ocpi/2.3.0/credentials",
                cpo.emulator_token,
                json=cpo.my_credentials("2.3.0", "cpo-token-c-early"),
            )
            seen.append((status, env["status_message"]))
        return await original(version, versions_url)

    cpo.read_emulator = put_meanwhile  # type: ignore[method-assign]
    platform = await emulator.registration.register_with(cpo.versions_url, cpo.token_a)
    assert platform.status == "REGISTERED"
    assert seen and seen[0][0] == 405, seen


@pytest.mark.parametrize("where", ["before REGISTERED", "before the answer"])
async def test_a_peers_registration_killed_before_its_answer_is_made_again_on_its_platform(
    start_emulator, cpo: CpoDouble, http, tmp_path, where: str
) -> None:
    """The CPO's credentials POST to us, the emulator killed before the CPO had the answer
    (token C): the CPO POSTs again with its token A. The registration is made again on the
    platform the first POST made — not a second platform, not a 401 for a spent token A."""
    db = str(tmp_path / "emulator.db")
    first = await start_emulator(db=db)

    def killed(*args: object, **kwargs: object) -> None:
        raise Killed

    if where == "before REGISTERED":
        update = first.platforms.update

        def update_or_die(platform_id: int, **fields: object) -> object:
            if fields.get("status") == "REGISTERED":
                raise Killed
            return update(platform_id, **fields)

        first.platforms.update = update_or_die  # type: ignore[method-assign]
    else:
        first.registration._follow_up = killed  # type: ignore[method-assign]
    with pytest.raises(Exception):  # noqa: B017 - the connection dies with the process
        await cpo.register_with(first.server.versions_url, TOKEN_A)
    await first.stop()
    node = await start_emulator(db=db, port=first.port)
    [before] = node.platforms.all()
    answer = await cpo.register_with(node.server.versions_url, TOKEN_A)
    assert answer["status_code"] == 1000, answer
    token_c = answer["data"]["token"]
    [platform] = node.platforms.all()
    assert (platform.id, platform.status) == (before.id, "REGISTERED")
    details = node.server.version_url("2.3.0")
    status, _, env = await ocpi(http, "GET", f"{details}/credentials", token_c)
    assert (status, env["status_code"]) == (200, 1000), env
    assert findings(node, "OCPI-17") == []
    # Once token C has been used, the token A is spent for good.
    status, _, env = await ocpi(
        http, "POST", f"{details}/credentials", TOKEN_A, json=cpo.my_credentials("2.3.0", "x")
    )
    assert status == 401 and "already used" in env["status_message"]
    assert len(node.platforms.all()) == 1
