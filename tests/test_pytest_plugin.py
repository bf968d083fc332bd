"""The pytest plugin the package ships (entry point pytest11)."""

from __future__ import annotations

import base64
import json
import urllib.request


def test_process_fixture_serves_and_controls(payter_emulator_process) -> None:
    emu = payter_emulator_process
    token = base64.b64encode(emu.token_a.encode()).decode()
    request = urllib.request.Request(emu.versions_url, headers={"Authorization": f"Token {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        versions = json.load(response)["data"]
    assert [v["version"] for v in versions] == ["2.3.0", "2.2.1", "2.1.1"]
    before = emu.admin("GET", "clock")["now"]
    after = emu.advance(3600)["now"]
    assert before != after and after.endswith("Z")
    # Nothing ran through the flows Payter needs yet: neither PASS nor FAIL.
    assert emu.report()["verdict"] == "INCOMPLETE"
