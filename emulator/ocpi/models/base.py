"""Conventions shared by every OCPI model.

* Unknown fields are accepted and kept (OCPI 2.3.0 "Non-specified JSON fields"; harmless for
  older versions), so a stored object re-serialises with what the peer sent.
* Closed enums are ``Literal`` types: a value outside them fails validation (OCPI 2001).
* OpenEnums accept any string; a value outside the listed ones is noted (rule OCPI-11b).
* Optional fields are ``None`` by default and left out when serialised.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict

from emulator.ocpi.types import note


class OcpiModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, validate_default=False)

    def dump(self) -> dict[str, Any]:
        """JSON-shaped dict without unset optional fields (what goes on the wire)."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


def OpenEnum(name: str, *values: str) -> Any:
    known = frozenset(values)

    def check(value: str) -> str:
        if value not in known:
            note("OCPI-11b", f"{value!r} is not a listed {name} value (accepted: OpenEnum)")
        return value

    return Annotated[str, AfterValidator(check)]
