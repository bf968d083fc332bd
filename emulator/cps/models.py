"""The CPS objects, in Payter's field names (camelCase), as the API answers and sends them.

What Payter's traffic shows (payter.md §3.5, §3.6) is kept exactly: the terminal
``{serialNumber, online, state}``, the card ``{serialNumber, ifd, aid, cardId, maskedPan}``, the
session ``{sessionId, authorizedAmount, ...}``, the UI event ``{serialNumber, screenId,
response}`` and the state event ``{serialNumber, online, state}``. Fields beyond those are the
emulator's, marked so in their descriptions; Payter's full schemas are not public (§6.1).
Amounts are integers in minor units (DESIGN.md "Amounts in CPS").

The same models describe the API in its OpenAPI document (:mod:`emulator.cps.openapi`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

from emulator import money

# Bounds of numeric query parameters: Payter's amounts are 4-byte integers in minor units (PSP
# "Money to Reserve", payter.md §3.5), and 2147483647 s is the largest time Payter uses (§4.3:
# it disables the screensaver). Larger values are refused rather than overflow a timer.
MAX_AMOUNT = money.MAX_AMOUNT
MAX_SECONDS = 2**31 - 1
# An absolute http(s) URL (the scheme in any case, as URLs allow): where webhooks go.
URL_SCHEMA = {"type": "string", "format": "uri", "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#]"}
HttpUrl = Annotated[str, WithJsonSchema(URL_SCHEMA)]

TerminalState = Literal["IDLE", "READING", "CARD", "AUTHORIZING"]
SessionState = Literal["AUTHORIZED", "COMMITTED", "CANCELLED", "EXPIRED"]


class CpsModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def dump(self, *, exclude_none: bool = False) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=exclude_none)


class Terminal(CpsModel):
    """``GET /terminals/{serialNumber}`` (§3.5)."""

    serialNumber: str = Field(description="The terminal's serial number.")
    online: bool = Field(description="Whether the terminal is connected to the cloud.")
    state: TerminalState = Field(
        description="IDLE (not reading), READING (waiting for a card after start), CARD (a card "
        "was read and waits for authorize or stop), AUTHORIZING (PIN entry or waiting for the "
        "acquirer; the emulator's name, Payter's full enum is not public)."
    )
    model: str = Field(description="Emulator: Apollo, Apollo Max or Polar.")
    currency: str = Field(description="Emulator: the terminal's currency (MyPayter setting).")


class Card(CpsModel):
    """A read card: ``GET .../card`` and the start ``callbackUrl`` webhook (§3.5, §3.6)."""

    serialNumber: str
    ifd: str = Field(description="Interface: CONTACTLESS, CHIP, QR_CODE (camera) or MIFARE (RFID).")
    aid: str = Field(description="EMV application id; empty for QR codes and RFID cards.")
    cardId: str = Field(
        description="Stable id of the card (the same on every read; Tap to Stop matches on "
        "it). QR: the scanned content. RFID: the UID in hex."
    )
    maskedPan: str | None = Field(None, description="e.g. 411111******1111 (payment cards).")
    sessions: list[str] = Field(
        default_factory=list,
        description="Open sessions already authorized with this card on this terminal.",
    )


class Session(CpsModel):
    """A payment session: the ``authorize`` answer and ``GET .../sessions[/{sessionId}]``."""

    sessionId: str
    serialNumber: str
    state: SessionState = Field(
        description="AUTHORIZED until committed or cancelled; EXPIRED when the authorization "
        "lapsed at the issuer before either."
    )
    authorizedAmount: int = Field(description="Minor units; grows with increments.")
    currency: str
    cardId: str
    maskedPan: str | None = None
    aid: str | None = None
    ifd: str | None = None
    brand: str | None = None
    authCode: str | None = None
    responseCode: str | None = None
    increments: list[int] = Field(
        default_factory=list, description="Emulator: approved incremental authorizations."
    )
    commitAmount: int | None = Field(None, description="The amount asked at commit.")
    capturedAmount: int | None = Field(
        None, description="The amount the acquirer settled (may be less than commitAmount)."
    )
    captureStatus: Literal["SUCCESS", "PARTIAL_SUCCESS", "FAILED"] | None = None
    queued: Literal["commit", "cancel"] | None = Field(
        None,
        description="A commit or cancel accepted while the terminal was offline and carried "
        "out once it is back online (§3.7).",
    )
    receiptLines: list[str] = Field(
        default_factory=list, description="The receiptLine values given by the CSMS."
    )
    eftData: list[str] = Field(default_factory=list, description="Receipt data of the card.")
    createdAt: str
    updatedAt: str
    completedAt: str | None = None
    expiresAt: str | None = Field(
        None, description="Emulator: when the session timeout closes an open session."
    )


ScreenProperties = dict[Annotated[str, StringConstraints(min_length=1)], str | float | bool]


class ScreenRequest(CpsModel):
    """The ``POST .../ui`` body (Apollo UI screen, §4.3)."""

    model_config = ConfigDict(extra="allow")

    id: Annotated[str, StringConstraints(min_length=1, pattern=r"\S")] | int = Field(
        description="Screen id; UI events report it as screenId (a number is taken as its text)."
    )
    type: Literal[
        "carousel", "info", "notification", "selection", "screensaver", "message", "dispense"
    ]
    properties: ScreenProperties | None = Field(
        default_factory=dict,
        description="Absent or null: none. Every value a string (a number or boolean is taken "
        "as its text: true, false); lists as key prefixes (items.<name>.label, "
        "buttons.<name>.label, cards.<name>.logo). Checked per §4.3: icon approved|declined, "
        "color 0|1|2, offset 0-420, cards.<name>.logo one of the card brands, at most two "
        "carousel buttons, selection type 0-3, boolean attributes (transp, language, disabled) "
        "true|false; error.message names the property at fault.",
    )


class UiResult(CpsModel):
    """Emulator: what ``POST .../ui`` did (Payter's answer body is not documented)."""

    screenId: str
    shown: bool = Field(description="The screen is on the display now.")
    held: bool = Field(
        description="A payment flow owns the display; the screen shows once it is released."
    )


class UiEvent(CpsModel):
    """Webhook to the ``ui`` callbackUrl when a button or item is pressed (§3.6)."""

    serialNumber: str
    screenId: str
    response: str = Field(description="The key name of the pressed button or item.")


class StateEvent(CpsModel):
    """Webhook to the global ``/webhook`` URL when a terminal's online flag or state changes."""

    serialNumber: str
    online: bool
    state: TerminalState


class Webhook(CpsModel):
    """The state webhook of the API key's terminals (``GET/POST/DELETE /webhook``)."""

    url: str | None = Field(description="Where state events are POSTed; null when none.")


class WebhookRequest(CpsModel):
    """The ``POST /webhook`` body; ``?url=`` wins over it."""

    model_config = ConfigDict(extra="allow")

    url: HttpUrl | None = Field(None, description="Or give it as ?url= (which wins).")
    callbackUrl: HttpUrl | None = Field(None, description="Taken when url is absent.")


class ApiKey(CpsModel):
    """``GET /apikey?token=``: the emulator's shape of Payter's ApiKey endpoint."""

    apikey: str


class Increment(CpsModel):
    """Emulator extension: the answer of ``POST .../sessions/{sessionId}/increment``."""

    approved: bool
    amount: int = Field(description="The increment asked, minor units.")
    authorizedAmount: int = Field(description="The authorized amount after the increment.")
    responseCode: str
    responseText: str
    session: Session


class ErrorDetail(CpsModel):
    model_config = ConfigDict(extra="allow")

    code: str = Field(description="Stable, machine-readable: no_card, session_completed, ...")
    message: str = Field(description="What went wrong, for a person.")
    status: int = Field(description="The HTTP status, repeated.")


class ErrorBody(CpsModel):
    """Every CPS error: ``{"error": {"code", "message", "status", ...details}}``.

    Details depend on the error: ``parameter`` (the query parameter at fault), ``sessionId``,
    ``responseCode``/``responseText`` (a decline), ``state``, ``authorizedAmount``.
    """

    error: ErrorDetail
