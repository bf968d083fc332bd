"""The card wallet: the emulator's test cards, each with the outcome it selects."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable

from tui.messages import CardPresented

# Wallet action → presentation medium of ``POST /__admin/terminals/{serial}/present-card``.
MEDIA = {"tap": "contactless", "insert": "chip", "qr": "qr", "rfid": "rfid"}


class CardWallet(Vertical):
    """A table of test cards and four ways to present the selected one."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=True, id="cards-table")
        table.add_columns("Outcome", "Card", "Media")
        yield table
        with Horizontal(classes="wallet-actions"):
            yield Button("Tap \\[t]", id="wallet-tap", compact=True)
            yield Button("Insert \\[i]", id="wallet-insert", compact=True)
            yield Button("QR \\[q]", id="wallet-qr", compact=True)
            yield Button("RFID \\[r]", id="wallet-rfid", compact=True)

    @property
    def table(self) -> DataTable[str]:
        return self.query_one("#cards-table", DataTable)

    def set_cards(self, cards: list[dict[str, Any]]) -> None:
        self.cards = cards
        table = self.table
        table.clear()
        for card in cards:
            card_id = str(card.get("id") or card.get("pan") or card.get("uid") or "?")
            media = card.get("media") or []
            table.add_row(
                str(card.get("outcome") or ""),
                str(card.get("label") or card_id),
                ", ".join(str(m) for m in media) if isinstance(media, list) else str(media),
                key=card_id,
            )

    def selected_card(self) -> dict[str, Any] | None:
        table = self.table
        if not self.cards or table.row_count == 0:
            return None
        row = min(max(table.cursor_row, 0), len(self.cards) - 1)
        return self.cards[row]

    def present(self, action: str) -> None:
        card = self.selected_card()
        if card is None:
            self.notify("No test card selected", severity="warning")
            return
        medium = MEDIA[action]
        ref = str(card.get("id") or card.get("pan") or card.get("uid"))
        if medium == "qr" and card.get("content") and "qr" not in (card.get("media") or []):
            ref = str(card["content"])
        self.post_message(CardPresented(ref, medium))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id and event.button.id.startswith("wallet-"):
            self.present(event.button.id.removeprefix("wallet-"))
