"""Imperative ORM mapping of the domain entities onto the Core tables.

The entities stay plain dataclasses with no SQLAlchemy import; this module teaches
SQLAlchemy how to load and persist them. ``map_entities()`` is idempotent.
"""

from __future__ import annotations

from sqlalchemy.orm import registry

from kumiai.domain.entities import (
    ActivityEntry,
    Character,
    Message,
    PendingInput,
    Project,
    Session,
    Skill,
    Task,
    UserProfile,
)
from kumiai.infrastructure.database import tables

mapper_registry = registry(metadata=tables.metadata)

_MAPPINGS = (
    (Character, tables.characters),
    (Skill, tables.skills),
    (Project, tables.projects),
    (Task, tables.tasks),
    (Session, tables.sessions),
    (Message, tables.messages),
    (PendingInput, tables.pending_inputs),
    (ActivityEntry, tables.activity_logs),
    (UserProfile, tables.user_profiles),
)
_mapped = False


def map_entities() -> None:
    global _mapped  # noqa: PLW0603 - mapping is process-wide by nature
    if _mapped:
        return
    for entity, table in _MAPPINGS:
        # eager_defaults: server-side timestamps are fetched in the same round trip.
        mapper_registry.map_imperatively(entity, table, eager_defaults=True)
    _mapped = True
