"""Markdown documents with YAML front matter: ``agent.md``, v1 ``CLAUDE.md``, ``SKILL.md``.

Splitting uses python-frontmatter's YAML handler; the YAML itself is read with
``yaml.safe_load`` so that errors and non-mapping front matter are reported instead
of silently dropped. Parsers come in two flavours:

- strict (``parse_agent_md``, ``parse_v1_claude_md``, ``parse_skill_md``): any
  problem raises ``ValidationError`` naming the file and the problem;
- lenient (``*_lenient``), for the v1 importer: problems become warnings and the
  affected values fall back to their defaults, so one bad file never aborts an import.

Bodies are returned in a canonical form: line endings are ``\\n``, leading blank lines
and trailing whitespace are removed. ``render_*`` writes the body followed by one
newline, so ``parse(render(doc)) == doc`` for every parsed document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

from kumiai.core.exceptions import ValidationError

DEFAULT_ROLE = "specialist"
DEFAULT_ICON_COLOR = "#4A90E2"
DEFAULT_SKILL_ICON = "zap"
DEFAULT_SKILL_LICENSE = "MIT"
V1_DEFAULT_MODEL = "sonnet"

_BOM = "\ufeff"
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\n)+")
_YAML_HANDLER = YAMLHandler()


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """A document split into its YAML metadata and its markdown body."""

    metadata: dict[str, Any]
    body: str


@dataclass(slots=True)
class AgentDocument:
    """A character's ``agent.md`` (or a v1 ``CLAUDE.md``).

    ``default_model`` is None when the file does not choose a model (the runtime then
    uses the user's setting). ``extra`` keeps unknown front-matter keys so that
    rewriting a hand-edited file does not lose them.
    """

    name: str
    role: str = DEFAULT_ROLE
    description: str | None = None
    skills: list[str] = field(default_factory=list)
    default_model: str | None = None
    allowed_tools: list[str] = field(default_factory=list)
    allowed_mcps: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    icon_color: str = DEFAULT_ICON_COLOR
    avatar: str | None = None
    body: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class SkillDocument:
    """A skill's ``SKILL.md`` in Claude's skill format plus KumiAI's display keys.

    ``extra`` keeps unknown front-matter keys (for example Claude's ``allowed-tools``).
    """

    name: str
    description: str = ""
    tags: list[str] = field(default_factory=list)
    icon: str = DEFAULT_SKILL_ICON
    icon_color: str = DEFAULT_ICON_COLOR
    license: str = DEFAULT_SKILL_LICENSE
    body: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


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


# ---------------------------------------------------------------- agents


def parse_agent_md(text: str, *, source: str = "agent.md") -> AgentDocument:
    """Parse a character's ``agent.md``; raises ``ValidationError`` on a bad header.

    A missing ``name`` gives ``""``: the caller decides whether to fall back to the
    folder name or refuse.
    """
    return _parse_agent(text, source, default_model=None, strict=True)[0]


def parse_v1_claude_md(text: str, *, source: str = "CLAUDE.md") -> AgentDocument:
    """Parse a v1 agent ``CLAUDE.md``, with v1 defaults (``default_model`` ``sonnet``).

    Raises ``ValidationError`` on a bad header; see :func:`parse_v1_claude_md_lenient`.
    """
    return _parse_agent(text, source, default_model=V1_DEFAULT_MODEL, strict=True)[0]


def parse_v1_claude_md_lenient(
    text: str, *, source: str = "CLAUDE.md"
) -> tuple[AgentDocument, list[str]]:
    """Parse a v1 ``CLAUDE.md`` without failing; problems are returned as warnings."""
    return _parse_agent(text, source, default_model=V1_DEFAULT_MODEL, strict=False)


def render_agent_md(document: AgentDocument) -> str:
    """Render ``document`` as front matter in a stable key order, then the body.

    Keys whose value is None are left out; unknown keys from ``extra`` follow the
    known ones in their original order.
    """
    metadata: dict[str, Any] = {
        "name": document.name,
        "role": document.role,
        "description": document.description,
        "default_model": document.default_model,
        "skills": list(document.skills),
        "allowed_tools": list(document.allowed_tools),
        "allowed_mcps": list(document.allowed_mcps),
        "tags": list(document.tags),
        "icon_color": document.icon_color,
        "avatar": document.avatar,
    }
    present = {key: value for key, value in metadata.items() if value is not None}
    extra = {key: value for key, value in document.extra.items() if key not in metadata}
    return _render(present, extra, document.body)


def _parse_agent(
    text: str, source: str, *, default_model: str | None, strict: bool
) -> tuple[AgentDocument, list[str]]:
    front_matter, warnings = _read_front_matter(text, source, strict=strict)
    fields = _Fields(front_matter.metadata, source, strict=strict)
    name = fields.text("name", "")
    if not name:
        fields.warn("no 'name' in the front matter")
    model = fields.optional_text("default_model")
    document = AgentDocument(
        name=name,
        role=fields.text("role", DEFAULT_ROLE) or DEFAULT_ROLE,
        description=fields.optional_text("description"),
        skills=fields.items("skills"),
        default_model=model or default_model,
        allowed_tools=fields.items("allowed_tools"),
        allowed_mcps=fields.items("allowed_mcps"),
        tags=fields.items("tags"),
        icon_color=fields.text("icon_color", DEFAULT_ICON_COLOR) or DEFAULT_ICON_COLOR,
        avatar=fields.optional_text("avatar"),
        body=front_matter.body,
        extra=fields.extra(),
    )
    return document, warnings + fields.warnings


# ---------------------------------------------------------------- skills


def parse_skill_md(text: str, *, source: str = "SKILL.md") -> SkillDocument:
    """Parse a skill's ``SKILL.md``; raises ``ValidationError`` on a bad header.

    Reads the colour from ``icon_color`` or, as v1 wrote it, ``iconColor``.
    """
    return _parse_skill(text, source, strict=True)[0]


def parse_skill_md_lenient(
    text: str, *, source: str = "SKILL.md"
) -> tuple[SkillDocument, list[str]]:
    """Parse a ``SKILL.md`` without failing; problems are returned as warnings."""
    return _parse_skill(text, source, strict=False)


def render_skill_md(document: SkillDocument) -> str:
    """Render ``document``: ``name`` and ``description`` first (Claude's skill
    format), then ``tags``, ``icon``, ``icon_color``, ``license`` and any extra keys."""
    metadata: dict[str, Any] = {
        "name": document.name,
        "description": document.description,
        "tags": list(document.tags),
        "icon": document.icon,
        "icon_color": document.icon_color,
        "license": document.license,
    }
    return _render(metadata, document.extra, document.body)


def _parse_skill(text: str, source: str, *, strict: bool) -> tuple[SkillDocument, list[str]]:
    front_matter, warnings = _read_front_matter(text, source, strict=strict)
    fields = _Fields(front_matter.metadata, source, strict=strict)
    name = fields.text("name", "")
    if not name:
        fields.warn("no 'name' in the front matter")
    # Both spellings are consumed so the camelCase one never lingers in ``extra``.
    snake_colour = fields.optional_text("icon_color")
    camel_colour = fields.optional_text("iconColor")
    document = SkillDocument(
        name=name,
        description=fields.text("description", ""),
        tags=fields.items("tags"),
        icon=fields.text("icon", DEFAULT_SKILL_ICON) or DEFAULT_SKILL_ICON,
        icon_color=snake_colour or camel_colour or DEFAULT_ICON_COLOR,
        license=fields.text("license", DEFAULT_SKILL_LICENSE) or DEFAULT_SKILL_LICENSE,
        body=front_matter.body,
        extra=fields.extra(),
    )
    return document, warnings + fields.warnings
