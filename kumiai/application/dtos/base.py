"""The base of the read models the services return."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict


class View(BaseModel):
    """A read model of an object: ``of(source)`` reads each field from the attribute
    (or property) of the same name, or of the field's ``validation_alias``, so no view
    copies its fields by hand."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, source: Any) -> Self:
        return cls.model_validate(source)
