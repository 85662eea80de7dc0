"""The agent runtime service: queues, turns, live events and delegation."""
