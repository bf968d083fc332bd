"""The request bodies the simulated CPO receives, and the project's model for each.

Only what a CPO receives from an eMSP or PTP (mod_commands, mod_tokens, mod_payments): the
command bodies, Tokens (whole and PATCH), Terminals and Financial Advice Confirmations. The
models are the shared ones of :mod:`emulator.ocpi.models`, per version.
"""

from __future__ import annotations

from pydantic import BaseModel

from emulator.ocpi.models.base import partial_model
from emulator.ocpi.models.registry import model_for

# CommandType → the object its body is (mod_commands, CommandType).
COMMAND_OBJECTS = {
    "START_SESSION": "StartSession",
    "STOP_SESSION": "StopSession",
    "RESERVE_NOW": "ReserveNow",
    "CANCEL_RESERVATION": "CancelReservation",
    "UNLOCK_CONNECTOR": "UnlockConnector",
}


def command_model(version: str, command: str) -> type[BaseModel] | None:
    name = COMMAND_OBJECTS.get(command)
    return None if name is None else model_for(version, name)


def token_model(version: str) -> type[BaseModel]:
    return model_for(version, "Token")


def token_patch_model(version: str) -> type[BaseModel]:
    """A Token PATCH: any field of a Token may be left out (transport_and_format, PATCH)."""
    return partial_model(model_for(version, "Token"))


def terminal_model(version: str = "2.3.0") -> type[BaseModel]:
    return model_for(version, "Terminal")


def fac_model(version: str = "2.3.0") -> type[BaseModel]:
    return model_for(version, "FinancialAdviceConfirmation")
