"""Commands module objects (mod_commands.asciidoc; 2.1.1: mod_commands.md).

The CPO answers a command synchronously with a CommandResponse and, only if that was ACCEPTED,
POSTs a CommandResult to the ``response_url`` later. 2.2.1 and 2.3.0 differ only in the Token
embedded in StartSession and ReserveNow (and CommandType being an OpenEnum in 2.3.0).

2.1.1: no CANCEL_RESERVATION; the callback to ``response_url`` is a CommandResponse (there is
no CommandResult), which carries only ``result`` (including TIMEOUT); ``reservation_id`` is an
int; no ``authorization_reference`` nor ``connector_id`` in StartSession.
"""

from __future__ import annotations

from typing import Annotated, Literal

from emulator.ocpi.models.base import Lenient, OcpiModel, Open
from emulator.ocpi.models.common import DisplayText, Id36
from emulator.ocpi.models.tokens import TokenV211, TokenV221, TokenV230
from emulator.ocpi.types import URL, DateTime, Str

COMMAND_TYPES = (
    "CANCEL_RESERVATION",
    "RESERVE_NOW",
    "START_SESSION",
    "STOP_SESSION",
    "UNLOCK_CONNECTOR",
)
COMMAND_TYPES_V211 = ("RESERVE_NOW", "START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR")

CommandTypeV211 = Annotated[str, Lenient("CommandType", *COMMAND_TYPES_V211)]
CommandTypeV221 = Annotated[str, Lenient("CommandType", *COMMAND_TYPES)]
CommandTypeV230 = Annotated[str, Open("CommandType", *COMMAND_TYPES)]

# TIMEOUT moved from CommandResponseType to CommandResultType in 2.2.
CommandResponseType = Literal["NOT_SUPPORTED", "REJECTED", "ACCEPTED", "UNKNOWN_SESSION"]
CommandResponseTypeV211 = Literal[
    "NOT_SUPPORTED", "REJECTED", "ACCEPTED", "TIMEOUT", "UNKNOWN_SESSION"
]
CommandResultType = Literal[
    "ACCEPTED",
    "CANCELED_RESERVATION",
    "EVSE_OCCUPIED",
    "EVSE_INOPERATIVE",
    "FAILED",
    "NOT_SUPPORTED",
    "REJECTED",
    "TIMEOUT",
    "UNKNOWN_RESERVATION",
]


class CommandResponse(OcpiModel):
    """The CPO's synchronous answer: understood and forwarded, or not."""

    result: CommandResponseType
    # Seconds after which the sender may stop waiting for the CommandResult.
    timeout: int
    message: list[DisplayText] | None = None


class CommandResult(OcpiModel):
    """The charge point's answer, POSTed to ``response_url``."""

    result: CommandResultType
    message: list[DisplayText] | None = None


class CommandResponseV211(OcpiModel):
    """2.1.1: both the synchronous answer and the callback to ``response_url``."""

    result: CommandResponseTypeV211


class _StartSession(OcpiModel):
    response_url: URL
    location_id: Id36
    # Required when connector_id is set.
    evse_uid: Id36 | None = None
    # Required when the EVSE has START_SESSION_CONNECTOR_REQUIRED (added in 2.2.1).
    connector_id: Id36 | None = None
    authorization_reference: Id36 | None = None


class StartSessionV221(_StartSession):
    token: TokenV221


class StartSessionV230(_StartSession):
    token: TokenV230


class StartSessionV211(OcpiModel):
    response_url: URL
    token: TokenV211
    location_id: Annotated[str, Str(39)]
    evse_uid: Annotated[str, Str(39)] | None = None


class StopSession(OcpiModel):
    response_url: URL
    session_id: Id36


class StopSessionV211(OcpiModel):
    response_url: URL
    session_id: Annotated[str, Str(36)]


class _ReserveNow(OcpiModel):
    response_url: URL
    expiry_date: DateTime
    # The same id for the same location replaces the reservation.
    reservation_id: Id36
    location_id: Id36
    evse_uid: Id36 | None = None
    authorization_reference: Id36 | None = None


class ReserveNowV221(_ReserveNow):
    token: TokenV221


class ReserveNowV230(_ReserveNow):
    token: TokenV230


class ReserveNowV211(OcpiModel):
    response_url: URL
    token: TokenV211
    expiry_date: DateTime
    reservation_id: int
    location_id: Annotated[str, Str(39)]
    evse_uid: Annotated[str, Str(39)] | None = None


class CancelReservation(OcpiModel):
    response_url: URL
    reservation_id: Id36


class UnlockConnector(OcpiModel):
    response_url: URL
    location_id: Id36
    evse_uid: Id36
    connector_id: Id36


class UnlockConnectorV211(OcpiModel):
    response_url: URL
    location_id: Annotated[str, Str(39)]
    evse_uid: Annotated[str, Str(39)]
    connector_id: Annotated[str, Str(36)]
