"""Where a message that waits for its turn stands."""

from __future__ import annotations

from enum import StrEnum


class PendingInputState(StrEnum):
    """``pending`` waits for its turn; ``dropped`` was taken off the queue by the user.

    A message whose turn starts leaves the queue for the transcript, so there is no
    third state: the row is gone and a message with the same id exists.
    """

    PENDING = "pending"
    DROPPED = "dropped"
