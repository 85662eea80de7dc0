"""Attributing agent-to-agent messages to the user message that set them off."""

from __future__ import annotations

from uuid import uuid4

import pytest

from kumiai.application.services.runtime.chains import MessageChains, chain_ref
from kumiai.core.exceptions import LimitReachedError


def test_a_message_sent_within_a_chain_starts_a_turn_of_the_same_chain() -> None:
    chains = MessageChains(budget=2)
    user_message, session = uuid4(), uuid4()
    chain = chains.of(chain_ref(session, user_message, {}))
    chains.spend(chain)
    carried = chain.as_metadata()
    assert chains.of(chain_ref(uuid4(), uuid4(), carried)) is chain
    assert chain.origin_session_id == session


def test_a_chain_met_again_after_a_restart_resumes_from_the_count_its_message_carries() -> None:
    before = MessageChains(budget=2)
    chain = before.of(chain_ref(uuid4(), uuid4(), {}))
    before.spend(chain)
    before.spend(chain)
    carried = chain.as_metadata()

    after = MessageChains(budget=2)
    with pytest.raises(LimitReachedError):
        after.spend(after.of(chain_ref(uuid4(), uuid4(), carried)))


def test_spending_past_the_budget_is_refused_and_a_refund_gives_room_back() -> None:
    chains = MessageChains(budget=1)
    chain = chains.of(chain_ref(uuid4(), uuid4(), {}))
    chains.spend(chain)
    with pytest.raises(LimitReachedError) as refused:
        chains.spend(chain)
    assert refused.value.details == {"limit": "agent_messages", "budget": 1}
    chains.refund(chain)
    chains.spend(chain)


def test_malformed_chain_metadata_starts_a_fresh_chain() -> None:
    chains = MessageChains(budget=1)
    message = uuid4()
    chain = chains.of(chain_ref(uuid4(), message, {"chain": {"origin_message_id": "nope"}}))
    assert chain.origin_message_id == message


def test_only_the_most_recent_chains_are_remembered() -> None:
    chains = MessageChains(budget=5, remembered=2)
    first = chains.of(chain_ref(uuid4(), uuid4(), {}))
    chains.spend(first)
    carried = first.as_metadata()
    for _ in range(2):
        chains.of(chain_ref(uuid4(), uuid4(), {}))
    again = chains.of(chain_ref(uuid4(), uuid4(), carried))
    assert again is not first
    assert again.sent == 1
