"""Reading a value that must be one of an enum's members."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from kumiai.core.exceptions import ValidationError

E = TypeVar("E", bound=StrEnum)


def parse_member(
    kind: type[E], value: str, *, field: str, noun: str, spelling: Callable[[str], str] = str
) -> E:
    """The member of ``kind`` whose value is ``spelling(value)``; otherwise a 422 naming
    ``field``, the value as given and the values allowed."""
    try:
        return kind(spelling(value))
    except ValueError:
        allowed = [str(member) for member in kind]
        raise ValidationError(
            f"unknown {noun} {value!r}: use one of {', '.join(allowed)}",
            details={"field": field, "value": value, "allowed": allowed},
        ) from None
