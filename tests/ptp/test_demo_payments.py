"""``payter-emulator demo --ocpi-version 2.2.1``: Payments on 2.2.1 gets the demo's terminal
pushed and assigned as on 2.3.0; a demo that cannot start says why."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from emulator import demo as demo_module
from emulator import logs
from emulator.demo import Demo, DemoError, DemoOptions


async def terminals(url: str) -> list[dict]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/__admin/terminals") as resp:
        assert resp.status == 200
        return list(await resp.json())


@pytest.mark.parametrize("version", ["2.2.1", "2.3.0"])
async def test_demo_starts_on_both_versions_with_the_terminal_pushed(version: str) -> None:
    demo = Demo(DemoOptions(version=version, clock="manual", clock_start="2025-03-01T09:00:00Z"))
    ready = await demo.start()
    try:
        assert ready["ocpi_version"] == version
        assert ready["evses"]["PAY-DEMO-0001"], "the simulated CPO assigned no EVSE"
        [terminal] = await terminals(ready["emulator"]["url"])
        assert terminal["serial_number"] == "PAY-DEMO-0001"
        assert terminal["push_state"] == "PUSHED"
    finally:
        await demo.stop()


async def test_a_demo_whose_terminal_cannot_be_pushed_says_why_at_once() -> None:
    """A 2.2.1 simulated CPO without the payments module: the demo stops with the reason,
    without waiting for the setup timeout."""
    demo = Demo(
        DemoOptions(
            version="2.2.1",
            clock="manual",
            clock_start="2025-03-01T09:00:00Z",
            cpo_sim_settings={"payments_versions": "2.3.0"},
        )
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(DemoError) as failed:
        await demo.start()
    assert loop.time() - started < demo_module.SETUP_TIMEOUT / 2
    message = str(failed.value)
    assert "PAY-DEMO-0001" in message and "NO_ENDPOINT" in message
    assert "payments" in message


async def test_a_start_up_failure_without_a_message_is_still_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def fail(self: Demo) -> dict:
        raise TimeoutError

    monkeypatch.setattr(Demo, "start", fail)
    # run() configures logging for the process: not in a test (capsys closes its stream).
    monkeypatch.setattr(logs, "configure", lambda *args, **kwargs: None)
    code = await demo_module.run(DemoOptions(headless=True))
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("demo: cannot start: ") and err.strip() != "demo: cannot start:"
    assert "TimeoutError" in err


async def test_a_setup_step_that_times_out_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo_module, "SETUP_TIMEOUT", 0.05)

    async def never(self: Demo, serials: list[str]) -> dict:
        await asyncio.sleep(3600)
        return {}

    async def registered(self: Demo, cpo_info: dict) -> dict:
        return {"id": 1, "version": "2.3.0"}

    async def created(self: Demo, platform_id: int | None) -> list[str]:
        return ["PAY-DEMO-0001"]

    monkeypatch.setattr(Demo, "_register", registered)
    monkeypatch.setattr(Demo, "_create_terminals", created)
    monkeypatch.setattr(Demo, "_wait_for_assignment", never)
    demo = Demo(DemoOptions(clock="manual", clock_start="2025-03-01T09:00:00Z"))
    with pytest.raises(DemoError) as failed:
        await demo.start()
    assert "assign EVSEs" in str(failed.value) and "0.05 s" in str(failed.value)
