"""Slug, name and colour rules."""

from __future__ import annotations

import pytest

from kumiai.core.exceptions import ValidationError
from kumiai.domain.value_objects import (
    NAME_MAX_LENGTH,
    SLUG_MAX_LENGTH,
    SLUG_PATTERN,
    slugify,
    validate_hex_color,
    validate_name,
    validate_slug,
)


@pytest.mark.parametrize("slug", ["a", "code-reviewer", "agent-007", "x" * SLUG_MAX_LENGTH, "2fa"])
def test_valid_slugs_are_returned_unchanged(slug: str) -> None:
    assert validate_slug(slug) == slug
    assert SLUG_PATTERN.fullmatch(slug)


@pytest.mark.parametrize(
    "slug",
    [
        "",
        "Code",
        "code reviewer",
        "code--reviewer",
        "-code",
        "code-",
        "code_reviewer",
        "café",
        "x" * (SLUG_MAX_LENGTH + 1),
        "code\n",
        "../etc",
    ],
)
def test_invalid_slugs_are_rejected_with_the_value_named(slug: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_slug(slug)

    assert repr(slug) in caught.value.message
    assert caught.value.details == {"field": "slug", "value": slug}


def test_slug_error_can_name_the_field_it_came_from() -> None:
    with pytest.raises(ValidationError) as caught:
        validate_slug("Bad Skill", field="skills")

    assert caught.value.details["field"] == "skills"


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Code Reviewer", "code-reviewer"),
        ("  Café Bot 2!! ", "cafe-bot-2"),
        ("already-a-slug", "already-a-slug"),
        ("snake_case__name", "snake-case-name"),
        ("Ünïcödé Ñame", "unicode-name"),
        ("---", None),
    ],
)
def test_slugify_lowercases_transliterates_and_joins_words(name: str, slug: str | None) -> None:
    if slug is None:
        with pytest.raises(ValidationError):
            slugify(name)
    else:
        assert slugify(name) == slug


def test_slugify_truncates_to_the_maximum_without_a_trailing_hyphen() -> None:
    name = "a" * (SLUG_MAX_LENGTH - 1) + " tail"

    slug = slugify(name)

    assert slug == "a" * (SLUG_MAX_LENGTH - 1)
    assert validate_slug(slug) == slug


def test_slugify_of_a_long_name_is_a_valid_slug() -> None:
    assert len(slugify("word " * 40)) <= SLUG_MAX_LENGTH


@pytest.mark.parametrize("name", ["", "   ", "日本語", "!!!"])
def test_slugify_refuses_names_without_ascii_letters_or_digits(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        slugify(name)

    assert repr(name) in caught.value.message


def test_names_are_stripped() -> None:
    assert validate_name("  Alice  ") == "Alice"


def test_a_name_may_be_exactly_the_maximum_length() -> None:
    assert validate_name("n" * NAME_MAX_LENGTH) == "n" * NAME_MAX_LENGTH


@pytest.mark.parametrize("name", ["", "  \t", "n" * (NAME_MAX_LENGTH + 1)])
def test_blank_or_overlong_names_are_rejected(name: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_name(name, field="role")

    assert caught.value.details == {"field": "role"}
    assert caught.value.message.startswith("role must")


@pytest.mark.parametrize("color", ["#4A90E2", "#4a90e2", "#000000", "#FfFfFf"])
def test_hex_colours_are_returned_as_given(color: str) -> None:
    assert validate_hex_color(color) == color


@pytest.mark.parametrize("color", ["4A90E2", "#4A90E", "#4A90E22", "#GGGGGG", "red", "", "#fff"])
def test_malformed_colours_are_rejected(color: str) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_hex_color(color)

    assert caught.value.details == {"field": "icon_color", "value": color}
