"""The card wallet: the emulator's test cards, each with the outcome it selects."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button

from tui.messages import CardPresented
from tui.widgets.fitted_table import Column, FittedTable

# Wallet action → presentation medium of ``POST /__admin/terminals/{serial}/present-card``.
MEDIA = {"tap": "contactless", "insert": "chip", "qr": "qr", "rfid": "rfid"}
# The card's label says what it does ("Visa, declined (05 do not honour)"): it comes first in a
# narrow pane.
COLUMNS = (
    Column("outcome", "Outcome", 18, priority=1),
    Column("card", "Card", 56, priority=0, flex=True),
    Column("media", "Media", 18, priority=2),
)


class CardWallet(Vertical):
    """A table of test cards and four ways to present the selected one."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield FittedTable(COLUMNS, id="cards-table")
        with Horizontal(classes="wallet-actions"):
            yield Button("Tap \\[t]", id="wallet-tap", compact=True)
            yield Button("Insert \\[i]", id="wallet-insert", compact=True)
            yield Button("QR \\[q]", id="wallet-qr", compact=True)
            yield Button("RFID \\[r]", id="wallet-rfid", compact=True)

    @property
    def table(self) -> FittedTable:
        return self.query_one("#cards-table", FittedTable)

    def set_cards(self, cards: list[dict[str, Any]]) -> None:
        self.cards = cards
        rows = []
        for card in cards:
            card_id = str(card.get("id") or card.get("pan") or card.get("uid") or "?")
            media = card.get("media") or []
            rows.append(
                (
                    card_id,
                    {
                        "outcome": str(card.get("outcome") or ""),
                        "card": str(card.get("label") or card_id),
                        "media": (
                            ", ".join(str(m) for m in media)
                            if isinstance(media, list)
                            else str(media)
                        ),
                    },
                )
            )
        self.table.set_rows(rows)

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
