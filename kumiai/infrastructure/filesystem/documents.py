"""Markdown documents with YAML front matter: ``agent.md``, v1 ``CLAUDE.md``, ``SKILL.md``.

Splitting uses python-frontmatter's YAML handler; the YAML itself is read with
``yaml.safe_load`` so that errors and non-mapping front matter are reported instead
of silently dropped.

A :class:`FrontMatterFormat` reads and writes the main document of one kind of
definition. It lists no fields of its own: the front matter holds the entity's
editable fields (``Definition.editable_fields()``), in their declared order, each read
according to its declared type (a list, optional text, or text with a default). A
format only says where the file differs from the entity: a key spelled differently,
a second spelling it also reads, a default of its own, a field written only when it is
not the default. Parsing comes in two flavours:

- strict (``parse``): any problem raises ``ValidationError`` naming the file and the
  problem;
- lenient (``parse_lenient``), for the v1 importer: problems become warnings and the
  affected values fall back to their defaults, so one bad file never aborts an import.

Bodies are returned in a canonical form: line endings are ``\\n``, leading blank lines
and trailing whitespace are removed. ``render`` writes the body followed by one
newline, so ``parse(render(doc)) == doc`` for every parsed document.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, replace
from enum import Enum
from typing import Any, get_origin, get_type_hints

import yaml
from frontmatter.default_handlers import YAMLHandler

from kumiai.application.ports.documents import DefinitionDocument
from kumiai.core.exceptions import ValidationError
from kumiai.domain.entities import Character, Definition, Skill

_BOM = "\ufeff"
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+")
_YAML_HANDLER = YAMLHandler()


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """A document split into its YAML metadata and its markdown body."""

    metadata: dict[str, Any]
    body: str


# ---------------------------------------------------------------- front matter


def read_front_matter(text: str, *, source: str = "document") -> FrontMatter:
    """Split ``text`` into metadata and body.

    Handles a UTF-8 BOM and CRLF line endings. Text without front matter gives empty
    metadata and the whole text as the body.

    Raises:
        ValidationError: the front matter is not closed, is not valid YAML, or is
            not a mapping. The message names ``source`` and the problem.
    """
    return _read_front_matter(text, source, strict=True)[0]


def read_front_matter_lenient(
    text: str, *, source: str = "document"
) -> tuple[FrontMatter, str | None]:
    """Like :func:`read_front_matter`, but a broken header gives empty metadata and a
    warning (the second item) instead of an error."""
    front_matter, warnings = _read_front_matter(text, source, strict=False)
    return front_matter, (warnings[0] if warnings else None)


def _read_front_matter(text: str, source: str, *, strict: bool) -> tuple[FrontMatter, list[str]]:
    text = _normalise(text)
    if not _YAML_HANDLER.detect(text):
        return FrontMatter({}, _canonical_body(text)), []
    try:
        header, body = _YAML_HANDLER.split(text)
    except ValueError:
        # Only one "---" line: there is no end to the header, so nothing is a body.
        problem = f"{source}: front matter starts with '---' but is never closed"
        return _front_matter_problem(problem, text, strict)
    try:
        metadata = yaml.safe_load(header)
    except yaml.YAMLError as exc:
        problem = f"{source}: malformed YAML front matter ({_describe_yaml_error(exc, text)})"
        return _front_matter_problem(problem, body, strict)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        problem = f"{source}: front matter must be a mapping of keys to values"
        return _front_matter_problem(problem, body, strict)
    keyed = {str(key): value for key, value in metadata.items()}
    return FrontMatter(keyed, _canonical_body(body)), []


def _front_matter_problem(problem: str, body: str, strict: bool) -> tuple[FrontMatter, list[str]]:
    if strict:
        raise ValidationError(problem)
    return FrontMatter({}, _canonical_body(body)), [problem]


def _normalise(text: str) -> str:
    return text.removeprefix(_BOM).replace("\r\n", "\n").replace("\r", "\n").lstrip("\n")


def _canonical_body(body: str) -> str:
    # Leading spaces on the first real line are kept: they can start a code block.
    return _LEADING_BLANK_LINES.sub("", body).rstrip()


def _describe_yaml_error(exc: yaml.YAMLError, text: str) -> str:
    mark = getattr(exc, "problem_mark", None)
    if mark is None:  # e.g. a reader error for a forbidden control character
        return str(exc)
    problem = getattr(exc, "problem", None) or str(exc)
    # The YAML text starts right after the opening "---" match, so offset the mark by
    # the lines that match covers to report a line number of the whole file.
    opening = _YAML_HANDLER.FM_BOUNDARY.match(text) if _YAML_HANDLER.FM_BOUNDARY else None
    offset = text.count("\n", 0, opening.end()) if opening else 0
    return f"line {offset + mark.line + 1}: {problem}"


def _render(metadata: dict[str, Any], extra: dict[str, Any], body: str) -> str:
    # Known keys win over a same-named extra key, so typed fields are never shadowed.
    metadata = {**metadata, **{key: value for key, value in extra.items() if key not in metadata}}
    header = yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True, default_flow_style=None)
    document = f"---\n{header}---\n"
    return f"{document}\n{body}\n" if body else document


# ---------------------------------------------------------------- field reading


class _Fields:
    """Takes typed values out of front-matter metadata, key by key.

    Strict readers raise on the first bad value; lenient ones record a warning and
    use the default. Whatever is not taken is left over as ``extra``.
    """

    def __init__(self, metadata: dict[str, Any], source: str, *, strict: bool) -> None:
        self._remaining = dict(metadata)
        self._source = source
        self._strict = strict
        self.warnings: list[str] = []

    def text(self, key: str, default: str) -> str:
        value = self.optional_text(key)
        return default if value is None else value

    def optional_text(self, key: str) -> str | None:
        value = self._remaining.pop(key, None)
        if value is None:
            return None
        if isinstance(value, (dict, list)):
            self._problem(f"'{key}' must be a single value, not a {type(value).__name__}")
            return None
        return str(value).strip()

    def items(self, key: str) -> list[str]:
        """Read a list of strings written as a YAML list, a comma-separated string
        (older v1 files: ``tags: data, analytics``), or ``''``/null for none."""
        value = self._remaining.pop(key, None)
        if value is None:
            return []
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        if isinstance(value, list):
            return [item for item in (self._list_item(key, v) for v in value) if item]
        if isinstance(value, dict):
            self._problem(f"'{key}' must be a list of strings, not a mapping")
            return []
        return [str(value)]

    def extra(self) -> dict[str, Any]:
        return self._remaining

    def warn(self, message: str) -> None:
        self.warnings.append(f"{self._source}: {message}")

    def _list_item(self, key: str, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, (dict, list)):
            self._problem(f"'{key}' must hold only strings")
            return ""
        return str(value).strip()

    def _problem(self, message: str) -> None:
        if self._strict:
            raise ValidationError(f"{self._source}: {message}")
        self.warn(message)


# ---------------------------------------------------------------- formats


@dataclass(frozen=True)
class FrontMatterFormat:
    """The main document of one kind of definition: its editable fields as front matter.

    Implements the application's ``DocumentCodec`` port.
    """

    entity: type[Definition]
    file_name: str  # also what errors name when the caller gives no path
    keys: Mapping[str, str] = field(default_factory=dict)  # field -> key, where they differ
    also_read: Mapping[str, str] = field(default_factory=dict)  # field -> an older spelling
    defaults: Mapping[str, Any] = field(default_factory=dict)  # where the file's differ
    # Fields written only when they differ from their default, so files stay unchanged.
    written_when_changed: frozenset[str] = frozenset()

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(item.name for item in self.entity.editable_fields())

    def new(
        self, *, body: str = "", extra: dict[str, Any] | None = None, **values: Any
    ) -> DefinitionDocument:
        """A document holding ``values`` and the defaults for every other field."""
        defaults = {item.name: self._default(item) for item in self.entity.editable_fields()}
        return DefinitionDocument(fields={**defaults, **values}, body=body, extra=extra or {})

    def parse(self, text: str, *, source: str | None = None) -> DefinitionDocument:
        """Parse ``text``; raises ``ValidationError`` on a bad header or value.

        A missing ``name`` gives ``""``: the caller decides whether to fall back to the
        folder name or refuse.
        """
        return self._parse(text, source or self.file_name, strict=True)[0]

    def parse_lenient(
        self, text: str, *, source: str | None = None
    ) -> tuple[DefinitionDocument, list[str]]:
        """Parse without failing; problems are returned as warnings."""
        return self._parse(text, source or self.file_name, strict=False)

    def render(self, document: DefinitionDocument) -> str:
        """Front matter in the fields' declared order, then unknown keys in their
        original order, then the body. Fields whose value is None are left out."""
        metadata: dict[str, Any] = {}
        for item in self.entity.editable_fields():
            value = document.fields[item.name]
            if value is None or (
                item.name in self.written_when_changed and value == self._default(item)
            ):
                continue
            metadata[self._key(item.name)] = _plain(value)
        known = {self._key(name) for name in self.fields} | set(self.also_read.values())
        extra = {key: value for key, value in document.extra.items() if key not in known}
        return _render(metadata, extra, document.body)

    def _parse(
        self, text: str, source: str, *, strict: bool
    ) -> tuple[DefinitionDocument, list[str]]:
        front_matter, warnings = _read_front_matter(text, source, strict=strict)
        reader = _Fields(front_matter.metadata, source, strict=strict)
        values = {
            item.name: self._read(reader, item, is_list=item.name in self._lists)
            for item in self.entity.editable_fields()
        }
        document = DefinitionDocument(fields=values, body=front_matter.body, extra=reader.extra())
        return document, warnings + reader.warnings

    def _read(self, reader: _Fields, item: Field[Any], *, is_list: bool) -> Any:
        key = self._key(item.name)
        if is_list:
            return reader.items(key)
        value = reader.optional_text(key)
        if item.name in self.also_read:
            # Both spellings are consumed so the older one never lingers in ``extra``.
            older = reader.optional_text(self.also_read[item.name])
            value = value or older
        default = self._default(item)
        if default is MISSING:  # a required field: the name
            if not value:
                reader.warn(f"no '{key}' in the front matter")
            return value or ""
        # A blank value means "not set", as the entities read blank text.
        return value or default

    @functools.cached_property
    def _lists(self) -> frozenset[str]:
        """The fields declared as lists; every other editable field is text."""
        hints = get_type_hints(self.entity)
        return frozenset(name for name, hint in hints.items() if get_origin(hint) is list)

    def _key(self, name: str) -> str:
        return self.keys.get(name, name)

    def _default(self, item: Field[Any]) -> Any:
        if item.name in self.defaults:
            return self.defaults[item.name]
        if item.default_factory is not MISSING:
            return item.default_factory()
        return item.default


def _plain(value: Any) -> Any:
    """A value as YAML's safe dumper takes it: lists, and an enum as its value."""
    if isinstance(value, list | tuple):
        return list(value)
    return value.value if isinstance(value, Enum) else value


# ``avatar_url`` is written ``avatar``; the v2 agent.md leaves the model to the user. The
# backend is written only when it is not ``claude``, as the original app does, so the
# files of agents that run on Claude stay as they were.
AGENT_FORMAT = FrontMatterFormat(
    Character,
    "agent.md",
    keys={"avatar_url": "avatar"},
    written_when_changed=frozenset({"cli_backend"}),
)
# A v1 agent's CLAUDE.md: the same keys; an agent without a model used sonnet.
V1_AGENT_FORMAT = replace(AGENT_FORMAT, file_name="CLAUDE.md", defaults={"default_model": "sonnet"})
# Claude's skill format, plus KumiAI's display keys; v1 wrote the colour ``iconColor``.
SKILL_FORMAT = FrontMatterFormat(Skill, "SKILL.md", also_read={"icon_color": "iconColor"})
