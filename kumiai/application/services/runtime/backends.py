"""What an agent on another CLI than Claude cannot do in a team, said once: its profile
(the character views) and its system prompt both say it from here.

Such an agent works with its CLI's own tools; KumiAI's tools are served to Claude only.
A specialist's answer to another agent still reaches its PM: the runner delivers the
turn's last text through ``contact_pm``, as a message from the specialist.
"""

from __future__ import annotations

from kumiai.application.services.runtime.orchestration import (
    CONTACT_INSTANCE,
    CONTACT_PM,
    CREATE_TASK,
    LIST_TASKS,
    LIST_TEAM,
    LOAD_SKILL,
    NOTIFY_USER,
    SESSION_INFO,
    SHOW_FILE,
    SPAWN,
    UPDATE_TASK_STATUS,
)
from kumiai.domain.value_objects import CliBackend
from kumiai.domain.value_objects.questions import ASK_USER_QUESTION

KUMIAI_TOOLS = tuple(
    name.rpartition("__")[2]
    for name in (
        SPAWN,
        CONTACT_INSTANCE,
        CONTACT_PM,
        LIST_TEAM,
        CREATE_TASK,
        LIST_TASKS,
        UPDATE_TASK_STATUS,
        SESSION_INFO,
        SHOW_FILE,
        LOAD_SKILL,
        NOTIFY_USER,
        ASK_USER_QUESTION,
    )
)
"""KumiAI's own tools, which only Claude's agents can call."""
ANSWER_DELIVERY = (
    "As a specialist, its final answer to a message from another agent is delivered to "
    "its project manager as a message from it."
)


def missing_tools_line(backend: CliBackend) -> str:
    return (
        f"It works with {backend.label}'s own tools and cannot call KumiAI's: "
        + ", ".join(KUMIAI_TOOLS)
        + "."
    )


def limitations(backend: CliBackend) -> list[str]:
    """What an agent on ``backend`` cannot do that a Claude agent can; none on Claude."""
    if backend.runs_kumiai_tools:
        return []
    return [
        missing_tools_line(backend),
        "As a project manager it cannot delegate to its team or change the task board.",
        ANSWER_DELIVERY,
        "Its skills are given in full with its instructions, as it cannot load one on demand.",
    ]
