"""Which user message set off each agent-to-agent message, and the budget it has left.

A message a person sends starts a *chain*. Every message an agent sends to another
session (``spawn_instance``'s task, ``contact_instance``, ``contact_pm``) belongs to the
chain of the turn that sent it, and the turn that message starts belongs to the same
chain. Each chain may spend a fixed number of agent-to-agent messages, so agents that
keep answering each other stop after a bounded number of hops instead of forever.

A delivered message carries its chain in ``metadata["chain"]`` (the origin message and
session, and how much of the budget was spent when it was sent), so the attribution
survives a restart with the pending input. The running count of a chain lives here,
for the most recent ``remembered`` chains; a chain met again after a restart resumes
from the count its message carries.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from kumiai.application.ports.tools import ChainRef
from kumiai.core.exceptions import LimitReachedError

REMEMBERED_CHAINS = 10_000
CHAIN = "chain"


@dataclass
class Chain:
    """The agent-to-agent messages set off by one user message."""

    origin_session_id: UUID
    origin_message_id: UUID
    sent: int = 0
    alerted: bool = False  # the user was told once that the budget ran out

    def as_metadata(self) -> dict[str, Any]:
        """What a message sent within the chain carries, in ``metadata["chain"]``."""
        return {
            CHAIN: {
                "origin_message_id": str(self.origin_message_id),
                "origin_session_id": str(self.origin_session_id),
                "sent": self.sent,
            }
        }


def chain_ref(session_id: UUID, message_id: UUID, metadata: dict[str, Any]) -> ChainRef:
    """The chain of the turn that message ``message_id`` (with ``metadata``) starts in
    ``session_id``: the one its ``metadata["chain"]`` names, else (a message no agent
    sent, or unreadable metadata) a chain of its own."""
    carried = metadata.get(CHAIN)
    if isinstance(carried, dict):
        try:
            return ChainRef(
                UUID(carried["origin_session_id"]),
                UUID(carried["origin_message_id"]),
                int(carried.get("sent", 0)),
            )
        except (KeyError, TypeError, ValueError):
            pass
    return ChainRef(session_id, message_id)


class MessageChains:
    def __init__(self, budget: int, remembered: int = REMEMBERED_CHAINS) -> None:
        self.budget = budget
        self._remembered = remembered
        self._chains: OrderedDict[UUID, Chain] = OrderedDict()

    def of(self, ref: ChainRef) -> Chain:
        """The running count of the chain ``ref`` names (a chain met again after a
        restart resumes from the count its message carried)."""
        origin = Chain(ref.origin_session_id, ref.origin_message_id, ref.spent)
        chain = self._chains.setdefault(origin.origin_message_id, origin)
        self._chains.move_to_end(origin.origin_message_id)
        while len(self._chains) > self._remembered:
            self._chains.popitem(last=False)
        return chain

    def spend(self, chain: Chain) -> None:
        """Take one message from the chain's budget, or refuse if it is used up."""
        self.require_room(chain)
        chain.sent += 1

    def require_room(self, chain: Chain) -> None:
        """Refuse if the chain cannot send one more message."""
        if chain.sent >= self.budget:
            raise LimitReachedError(
                f"the budget of {self.budget} messages between agents for this request "
                "of the user is used up; stop messaging other sessions, finish with what "
                "you have and report to the user",
                details={"limit": "agent_messages", "budget": self.budget},
            )

    def refund(self, chain: Chain) -> None:
        """The message was not delivered after all."""
        chain.sent = max(0, chain.sent - 1)
