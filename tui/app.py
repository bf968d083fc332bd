"""The Textual application and its factory.

``make_app()`` is what the command line, the demo, textual-serve and the tests use; it takes
either a ready :class:`ControlClient` or the emulator's URL.
"""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding

from tui.client import ControlClient
from tui.screens.main_screen import MainScreen


class PayterTui(App[None]):
    """The Payter emulator's terminal UI."""

    CSS_PATH = "tui.tcss"
    TITLE = "Payter emulator"
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", priority=True)]

    def __init__(
        self,
        client: ControlClient,
        *,
        animate: bool = True,
        poll_interval: float = 2.0,
        label: str | None = None,
        initial_serial: str | None = None,
    ) -> None:
        super().__init__()
        self.initial_serial = initial_serial
        self.client = client
        self._animated = animate
        self.poll_interval = poll_interval
        self.label = label

    def on_mount(self) -> None:
        self.push_screen(
            MainScreen(
                self.client,
                animate=self._animated,
                poll_interval=self.poll_interval,
                label=self.label,
                initial_serial=self.initial_serial,
            )
        )

    async def on_unmount(self) -> None:
        await self.client.close()


def make_app(
    url: str | None = None,
    *,
    client: ControlClient | None = None,
    admin_token: str | None = None,
    cpo_sim_url: str | None = None,
    cpo_sim_token: str | None = None,
    animate: bool = True,
    poll_interval: float = 2.0,
    label: str | None = None,
    initial_serial: str | None = None,
) -> PayterTui:
    """Build the TUI for the emulator at ``url`` (or over ``client``).

    ``label`` names the emulator in the top bar (default: its URL); ``initial_serial`` is the
    terminal shown first (default: the first one listed); ``animate=False`` and
    ``poll_interval=0`` make the screen depend on the emulator's answers alone (snapshots).
    """
    if client is None:
        if url is None:
            raise ValueError("make_app needs the emulator's URL or a client")
        client = ControlClient(
            url, admin_token=admin_token, cpo_sim_url=cpo_sim_url, cpo_sim_token=cpo_sim_token
        )
    return PayterTui(
        client,
        animate=animate,
        poll_interval=poll_interval,
        label=label,
        initial_serial=initial_serial,
    )
