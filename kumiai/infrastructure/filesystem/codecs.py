"""``agent.md`` and ``SKILL.md`` as the application's ``DocumentCodec`` port.

The parsing and rendering live in ``documents``; these adapters only rename the
document's keys to the entities' attribute names and back.
"""

from __future__ import annotations

from kumiai.application.ports.documents import DefinitionDocument
from kumiai.infrastructure.filesystem.documents import (
    AgentDocument,
    SkillDocument,
    parse_agent_md,
    parse_skill_md,
    render_agent_md,
    render_skill_md,
)

# The attributes shared by the Character entity and AgentDocument; ``avatar`` is the
# one key spelled differently (``avatar_url`` on the entity).
_AGENT_FIELDS = (
    "name",
    "role",
    "description",
    "skills",
    "default_model",
    "allowed_tools",
    "allowed_mcps",
    "tags",
    "icon_color",
)
_SKILL_FIELDS = ("name", "description", "tags", "icon", "icon_color", "license")


class AgentMarkdownCodec:
    fields = (*_AGENT_FIELDS, "avatar_url")

    def parse(self, text: str, *, source: str = "agent.md") -> DefinitionDocument:
        document = parse_agent_md(text, source=source)
        values = {name: getattr(document, name) for name in _AGENT_FIELDS}
        return DefinitionDocument(
            fields={**values, "avatar_url": document.avatar},
            body=document.body,
            extra=document.extra,
        )

    def render(self, document: DefinitionDocument) -> str:
        values = {name: document.fields[name] for name in _AGENT_FIELDS}
        return render_agent_md(
            AgentDocument(
                **values,
                avatar=document.fields["avatar_url"],
                body=document.body,
                extra=document.extra,
            )
        )


class SkillMarkdownCodec:
    fields = _SKILL_FIELDS

    def parse(self, text: str, *, source: str = "SKILL.md") -> DefinitionDocument:
        document = parse_skill_md(text, source=source)
        return DefinitionDocument(
            fields={name: getattr(document, name) for name in _SKILL_FIELDS},
            body=document.body,
            extra=document.extra,
        )

    def render(self, document: DefinitionDocument) -> str:
        values = {name: document.fields[name] for name in _SKILL_FIELDS}
        return render_skill_md(SkillDocument(**values, body=document.body, extra=document.extra))
