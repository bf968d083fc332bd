"""One exchange of the traffic journal: request and response, headers and bodies.

The emulator redacts tokens when it writes the journal; this screen shows what it returns.
"""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def _body(body: Any) -> RenderableType:
    if body in (None, ""):
        return Text("(no body)", style="dim")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return Text(body)
    return Syntax(json.dumps(body, indent=2, ensure_ascii=False), "json", word_wrap=True)


def _headers(headers: Any) -> Text:
    text = Text()
    if isinstance(headers, dict):
        for name, value in headers.items():
            text.append(f"{name}: ", style="bold")
            text.append(f"{value}\n")
    return text


def exchange_renderable(exchange: dict[str, Any]) -> RenderableType:
    title = Text()
    title.append(f"#{exchange.get('id')} ", style="bold")
    title.append(f"{exchange.get('method')} {exchange.get('url')}", style="bold cyan")
    title.append(f"\n{exchange.get('at', '')} · {exchange.get('direction', '')} · ")
    title.append(f"{exchange.get('protocol', '')} · HTTP {exchange.get('status')}")
    if exchange.get("ocpi_status") is not None:
        title.append(f" · OCPI {exchange.get('ocpi_status')}")
    parts: list[RenderableType] = [title]
    if exchange.get("fault"):
        parts.append(Text(f"↯ injected {exchange['fault']}", style="bold magenta"))
    if exchange.get("error"):
        parts.append(Text(f"error: {exchange['error']}", style="bold red"))
    parts += [
        Text("\nRequest headers", style="bold underline"),
        _headers(exchange.get("request_headers")),
        Text("Request body", style="bold underline"),
        _body(exchange.get("request_body")),
        Text("\nResponse headers", style="bold underline"),
        _headers(exchange.get("response_headers")),
        Text("Response body", style="bold underline"),
        _body(exchange.get("response_body")),
    ]
    findings = exchange.get("findings") or []
    if findings:
        parts.append(Text("\nFindings", style="bold underline"))
        for finding in findings:
            parts.append(
                Text(
                    f"[{finding.get('severity')}] {finding.get('rule')}: {finding.get('message')}",
                    style="red" if finding.get("severity") == "error" else "yellow",
                )
            )
    return Group(*parts)


class ExchangeScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q", "dismiss", "Close")]

    def __init__(self, exchange: dict[str, Any]) -> None:
        super().__init__()
        self.exchange = exchange

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="exchange-body") as body:
            body.border_title = f"Exchange #{self.exchange.get('id')}"
            body.border_subtitle = "Esc to close"
            yield Static(exchange_renderable(self.exchange))
