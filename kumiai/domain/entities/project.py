"""The Project entity: a folder on disk with a team of characters and an optional PM."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from kumiai.core.exceptions import ConflictError, ValidationError
from kumiai.domain.entities._rules import (
    UNSET,
    SoftDeletable,
    Unset,
    optional_text,
    require_text,
    unique,
)
from kumiai.domain.value_objects.identifiers import validate_name


def _check_pm_pair(character_id: UUID | None, session_id: UUID | None) -> None:
    if (character_id is None) != (session_id is None):
        raise ValidationError(
            "a project has both a PM character and a PM session, or neither",
            details={
                "pm_character_id": None if character_id is None else str(character_id),
                "pm_session_id": None if session_id is None else str(session_id),
            },
        )


@dataclass(eq=False, kw_only=True)
class Project(SoftDeletable):
    """A project folder, its team, and its PM (``pm_character_id`` + ``pm_session_id``)."""

    name: str
    description: str | None = None
    path: str
    pm_character_id: UUID | None = None
    pm_session_id: UUID | None = None
    team_character_ids: list[UUID] = field(default_factory=list)
    archived_at: datetime | None = None

    @classmethod
    def create(
        cls,
        *,
        name: str,
        path: str,
        description: str | None = None,
        team_character_ids: Iterable[UUID] = (),
        pm_character_id: UUID | None = None,
        pm_session_id: UUID | None = None,
    ) -> Project:
        """A new, validated project."""
        _check_pm_pair(pm_character_id, pm_session_id)
        return cls(
            name=validate_name(name),
            description=optional_text(description),
            path=require_text(path, "path"),
            pm_character_id=pm_character_id,
            pm_session_id=pm_session_id,
            team_character_ids=unique(team_character_ids),
        )

    def assign_pm(self, character_id: UUID, session_id: UUID) -> UUID | None:
        """Make ``character_id`` the PM, run by ``session_id``.

        Returns the PM session this replaces (so the caller can cancel it), or None.
        """
        self._check_invariants()
        _check_pm_pair(character_id, session_id)
        replaced = self.pm_session_id
        self.pm_character_id = character_id
        self.pm_session_id = session_id
        return None if replaced == session_id else replaced

    def remove_pm(self) -> UUID | None:
        """Drop the PM; returns the old PM session id so the caller can cancel it."""
        # No invariant check first: clearing both fields is also how a half-set PM is repaired.
        previous = self.pm_session_id
        self.pm_character_id = None
        self.pm_session_id = None
        return previous

    def set_team(self, character_ids: Iterable[UUID]) -> None:
        """Replace the team, dropping repeats but keeping the given order."""
        self._check_invariants()
        self.team_character_ids = unique(character_ids)

    def has_member(self, character_id: UUID) -> bool:
        """Whether the character is on the team or is the PM."""
        return character_id == self.pm_character_id or character_id in self.team_character_ids

    def update(
        self,
        *,
        name: str | Unset = UNSET,
        description: str | Unset | None = UNSET,
    ) -> None:
        """Rename and/or re-describe; omitted arguments stay, ``description=None`` clears."""
        self._check_invariants()
        new_name = self.name if isinstance(name, Unset) else validate_name(name)
        if not isinstance(description, Unset):
            self.description = optional_text(description)
        self.name = new_name

    def archive(self, now: datetime) -> None:
        """Archive the project; archiving twice keeps the first timestamp."""
        self._check_invariants()
        if self.archived_at is None:
            self.archived_at = now

    def unarchive(self) -> None:
        self._check_invariants()
        self.archived_at = None

    def soft_delete(self, now: datetime) -> None:
        """Hide the project; a second delete keeps the first timestamp."""
        self._check_invariants()
        super().soft_delete(now)

    def restore(self) -> None:
        self._check_invariants()
        self.deleted_at = None

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def refuse_if_archived(self) -> None:
        """An archived project's sessions take no new messages until it is unarchived."""
        if self.is_archived:
            raise ConflictError(
                f"project '{self.name}' is archived; unarchive it to send messages to its sessions",
                details={"project_id": str(self.id), "reason": "project_archived"},
            )

    def _check_invariants(self) -> None:
        # Rows are loaded from the database and may have been edited outside the domain.
        _check_pm_pair(self.pm_character_id, self.pm_session_id)
