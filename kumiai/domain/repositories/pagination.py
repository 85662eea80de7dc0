"""Keyset pagination values shared by every repository.

A cursor is an opaque, URL-safe token holding the sort key of the last row a client
saw. It never encodes an offset, so rows inserted between two page requests can
neither duplicate nor hide the rows that were already there.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from kumiai.core.exceptions import ValidationError

T = TypeVar("T")

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None
    total: int | None = None
    limit: int = DEFAULT_PAGE_SIZE

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


@dataclass(frozen=True)
class PageRequest:
    """A page size and an optional cursor from the previous page."""

    limit: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None
    with_total: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_PAGE_SIZE:
            raise ValidationError(
                f"limit must be between 1 and {MAX_PAGE_SIZE}", details={"field": "limit"}
            )


def encode_cursor(values: Sequence[str | int]) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[str | int]:
    """The sort-key values inside ``cursor``; a 422 for anything we did not issue."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _bad_cursor() from None
    if not isinstance(values, list) or len(values) != arity:
        raise _bad_cursor()
    if not all(isinstance(value, str | int) for value in values):
        raise _bad_cursor()
    return values


def _bad_cursor() -> ValidationError:
    return ValidationError("invalid cursor", details={"field": "cursor"})
