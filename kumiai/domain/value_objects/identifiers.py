"""Rules for the human-facing identifiers: slugs, names and colours."""

from __future__ import annotations

import re
import unicodedata

from kumiai.core.exceptions import ValidationError

SLUG_MAX_LENGTH = 64
NAME_MAX_LENGTH = 200

# Lowercase ASCII words joined by single hyphens; the lookahead caps the total length.
SLUG_PATTERN: re.Pattern[str] = re.compile(
    rf"(?=.{{1,{SLUG_MAX_LENGTH}}}\Z)[a-z0-9]+(?:-[a-z0-9]+)*"
)
HEX_COLOR_PATTERN: re.Pattern[str] = re.compile(r"#[0-9a-fA-F]{6}")

_NOT_SLUG_CHARS = re.compile(r"[^a-z0-9]+")


def validate_slug(value: str, field: str = "slug") -> str:
    """Return ``value`` if it is a valid slug, else raise :class:`ValidationError`."""
    if SLUG_PATTERN.fullmatch(value) is None:
        raise ValidationError(
            f"invalid slug {value!r}: use lowercase letters, digits and single hyphens, "
            f"at most {SLUG_MAX_LENGTH} characters",
            details={"field": field, "value": value},
        )
    return value


def slugify(name: str) -> str:
    """Derive a slug from a display name, e.g. ``"Café Bot 2"`` -> ``"cafe-bot-2"``."""
    # NFKD splits accented letters into base letter + combining mark, so dropping the
    # non-ASCII bytes keeps the base letter.
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG_CHARS.sub("-", ascii_name.lower()).strip("-")
    # Truncation can cut just after a hyphen, which would leave a trailing one.
    slug = slug[:SLUG_MAX_LENGTH].rstrip("-")
    if not slug:
        raise ValidationError(
            f"cannot derive a slug from {name!r}: it has no letters or digits",
            details={"field": "slug", "value": name},
        )
    return slug


def validate_name(value: str, field: str = "name") -> str:
    """Return ``value`` stripped; it must be non-empty and at most 200 characters."""
    stripped = value.strip()
    if not stripped:
        raise ValidationError(f"{field} must not be empty", details={"field": field})
    if len(stripped) > NAME_MAX_LENGTH:
        raise ValidationError(
            f"{field} must be at most {NAME_MAX_LENGTH} characters",
            details={"field": field},
        )
    return stripped


def validate_hex_color(value: str, field: str = "icon_color") -> str:
    """Return ``value`` unchanged if it is a ``#RRGGBB`` colour (any letter case)."""
    if HEX_COLOR_PATTERN.fullmatch(value) is None:
        raise ValidationError(
            f"invalid colour {value!r}: expected #RRGGBB",
            details={"field": field, "value": value},
        )
    return value
