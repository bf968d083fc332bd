"""Conventions shared by every OCPI model.

* Unknown fields are accepted and kept (OCPI 2.3.0 "Non-specified JSON fields"; harmless for
  older versions), so a stored object re-serialises with what the peer sent.
* Closed enums are ``Literal`` types: a value outside them fails validation (OCPI 2001).
* OpenEnums accept any string; a value outside the listed ones is noted (rule OCPI-11b).
* The enums that 2.3.0 opened up (Capability, ConnectorType, TokenType, ...) are closed in 2.1.1
  and 2.2.1. Their older variants are :class:`Lenient` s: an unknown value is accepted but
  noted as rule OCPI-11 (an error), so that one odd capability does not make a whole Location
  unusable while the report still says the peer broke the enum.
* Optional fields are ``None`` by default and left out when serialised.
* A validator that knows which checklist rule a failure breaks raises a
  :class:`~pydantic_core.PydanticCustomError` whose context carries ``rule``; the transport
  reports the failure under that rule (see :func:`refuse`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, NoReturn, TypeVar

from annotated_types import GroupedMetadata
from pydantic import AfterValidator, BaseModel, ConfigDict, create_model
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from emulator.coverage import checked
from emulator.ocpi.types import note
from emulator.rules import RuleId

M = TypeVar("M", bound=BaseModel)


class OcpiModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, validate_default=False)

    def dump(self) -> dict[str, Any]:
        """JSON-shaped dict without unset optional fields (what goes on the wire)."""
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


@dataclass(frozen=True)
class Open(GroupedMetadata):
    """An OpenEnum (types.asciidoc, 2.3.0): any string is legal; unknown values are noted
    (OCPI-11b). Written ``Annotated[str, Open("Name", *values)]``."""

    name: str
    values: tuple[str, ...]
    rule: ClassVar[RuleId] = "OCPI-11b"

    def __init__(self, name: str, *values: str) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "values", values)

    def why(self) -> str:
        return "accepted: OpenEnum"

    def __iter__(self) -> Iterator[Any]:
        yield AfterValidator(self._check)

    def _check(self, value: str) -> str:
        checked(self.rule)
        if value not in self.values:
            note(self.rule, f"{value!r} is not a listed {self.name} value ({self.why()})")
        return value


class Lenient(Open):
    """A closed enum of 2.1.1/2.2.1 that 2.3.0 turned into an OpenEnum.

    An unknown value is a spec violation in these versions (rule OCPI-11) but is accepted,
    with a note, so that the object stays usable.
    """

    rule: ClassVar[RuleId] = "OCPI-11"

    def why(self) -> str:
        return f"{self.name} is a closed enum in this version"


def refuse(kind: str, message: str, rule: RuleId) -> NoReturn:
    """Fail validation with ``message``, reported under checklist ``rule``."""
    raise PydanticCustomError(kind, message, {"rule": rule})


def validate_peer_object(model: type[M], data: Any) -> M:
    """Validate an object a peer sent (raises pydantic's ValidationError). This is where its
    enum values (OCPI-11) and, for a whole object, its required fields (OCPI-30) are checked;
    its strings and DateTimes note their own checks (OCPI-10, OCPI-08) as they are read."""
    checked("OCPI-11")
    if model not in _PARTIAL:
        checked("OCPI-30")
    return model.model_validate(data)


# --- PATCH bodies -----------------------------------------------------------------------------

# The PATCH variants made by partial_model: they check no required field.
_PARTIAL: set[type[BaseModel]] = set()


@cache
def partial_model(model: type[BaseModel]) -> type[BaseModel]:
    """The PATCH variant of ``model``: every field may be left out, nothing else changes.

    A PATCH carries only the fields that change (transport_and_format §PATCH), so each field
    gets a ``None`` default; types, lengths, patterns and enums stay as they are and nested
    objects stay complete. A field that the full model requires still refuses an explicit
    ``null``: a PATCH cannot remove data. Cross-field checks (model validators) are left out,
    as they judge whole objects. Unknown fields are kept, as in the full model.
    """
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        fields[name] = (info.annotation, FieldInfo.merge_field_infos(info, default=None))
    base = OcpiModel if issubclass(model, OcpiModel) else BaseModel
    partial: type[BaseModel] = create_model(  # type: ignore[call-overload]
        f"{model.__name__}Patch",
        __base__=base,
        __module__=model.__module__,
        __doc__=f"PATCH body of {model.__name__}: all fields optional.",
        **fields,
    )
    _PARTIAL.add(partial)
    return partial


def validate_patch(model: type[BaseModel], data: Any) -> BaseModel:
    """Validate a PATCH body against ``model``; ``model_fields_set`` says what it changes."""
    return partial_model(model).model_validate(data)
