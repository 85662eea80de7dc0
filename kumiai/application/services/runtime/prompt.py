"""The system prompt of a turn, assembled from the character, role, team, skills and user.

An agent on another CLI than Claude has none of KumiAI's tools (:mod:`.backends`): its
prompt says so, gives its role without them, and holds its skills in full.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kumiai.application.services.runtime.backends import KUMIAI_TOOLS
from kumiai.domain.entities import Character, Project, Skill
from kumiai.domain.value_objects import CliBackend, SessionType

ROLE_SECTIONS = {
    SessionType.PM: (
        "You are the project manager of this project. Break the user's goals into tasks, "
        "delegate them to specialists on your team with mcp__pm_management__spawn_instance, "
        "follow up with mcp__pm_management__contact_instance, and report back to the user. "
        "Only delegate to members listed in your team.\n\n"
        "The project's board is a list of tasks (open, in_progress, done, archived), which "
        "the user sees and arranges too. Look at it with mcp__pm_management__list_tasks "
        "before planning. Give each goal of the user a task: reuse a matching one, or add it "
        "with mcp__pm_management__create_task. Pass its task_id to spawn_instance so the "
        "specialist's session is filed under it; an open task moves to in_progress by itself "
        "when a session starts on it. When a task's work is finished and checked, move it "
        "to done with mcp__pm_management__update_task_status. Tasks of other projects are "
        "out of your reach."
    ),
    SessionType.SPECIALIST: (
        "You are a specialist working on one task inside the project folder. Do the work "
        "with the file tools, keep changes inside the project, and when you finish or get "
        "stuck, tell the project manager with mcp__common_tools__contact_pm."
    ),
    SessionType.ASSISTANT: "You are a helpful assistant working in the folder below.",
    SessionType.AGENT_ASSISTANT: (
        "You help the user design agent characters. Each character is a folder with an "
        "agent.md file (YAML front matter, then the prompt) in the working directory."
    ),
    SessionType.SKILL_ASSISTANT: (
        "You help the user write skills. Each skill is a folder with a SKILL.md file "
        "(front matter `name` and `description`, then instructions) in the working directory."
    ),
}

CLI_ROLE_SECTIONS = {
    SessionType.PM: (
        "You are the project manager of this project. Your CLI cannot reach KumiAI's team "
        "tools, so you cannot delegate to your team or change the task board: do the work "
        "yourself, and report back to the user."
    ),
    SessionType.SPECIALIST: (
        "You are a specialist working on one task inside the project folder. Do the work "
        "with your tools and keep changes inside the project. When the project manager or "
        "another agent writes to you, end your turn with your answer: it is delivered to "
        "the project manager as a message from you."
    ),
}
"""The roles whose usual section names KumiAI's tools, for an agent on another CLI."""


@dataclass(frozen=True)
class PromptInputs:
    session_type: SessionType
    working_dir: str
    character: Character | None = None
    character_body: str = ""
    project: Project | None = None
    team: Sequence[Character] = ()
    skills: Sequence[Skill] = ()
    user_name: str | None = None
    user_description: str | None = None
    preferences: dict[str, Any] = field(default_factory=dict)
    unavailable_mcps: dict[str, str] = field(default_factory=dict)
    backend: CliBackend = CliBackend.CLAUDE
    skill_texts: dict[str, str] = field(default_factory=dict)
    """Each skill's whole SKILL.md, by slug, for an agent that cannot load it (another CLI)."""


def build_system_prompt(inputs: PromptInputs) -> str:
    sections = [
        _identity(inputs),
        "## Your role\n" + _role(inputs),
        _cli_tools(inputs),
        _workspace(inputs),
        _team(inputs),
        _skills(inputs),
        _unavailable_mcps(inputs),
        _user(inputs),
    ]
    return "\n\n".join(section for section in sections if section)


def _identity(inputs: PromptInputs) -> str:
    character = inputs.character
    if character is None:
        return "You are KumiAI's assistant."
    header = f"You are {character.name}, a {character.role}."
    if character.description:
        header += f" {character.description}"
    body = inputs.character_body.strip()
    return f"{header}\n\n{body}" if body else header


def _role(inputs: PromptInputs) -> str:
    if inputs.backend.runs_kumiai_tools:
        return ROLE_SECTIONS[inputs.session_type]
    return CLI_ROLE_SECTIONS.get(inputs.session_type, ROLE_SECTIONS[inputs.session_type])


def _cli_tools(inputs: PromptInputs) -> str:
    if inputs.backend.runs_kumiai_tools:
        return ""
    return (
        f"## Your tools\nYou run on {inputs.backend.label} and work with its own tools. "
        "KumiAI's tools are not available to you, even where your instructions name them: "
        + ", ".join(KUMIAI_TOOLS)
        + "."
    )


def _workspace(inputs: PromptInputs) -> str:
    lines = ["## Workspace", f"Working directory: {inputs.working_dir}"]
    if inputs.project is not None:
        lines.append(f"Project: {inputs.project.name}")
        if inputs.project.description:
            lines.append(f"About the project: {inputs.project.description}")
    lines.append("File tools only reach files inside the working directory.")
    return "\n".join(lines)


def _team(inputs: PromptInputs) -> str:
    if inputs.session_type != SessionType.PM or not inputs.team:
        return ""
    if not inputs.backend.runs_kumiai_tools:
        return ""  # it cannot delegate to them
    members = [
        f"- {member.slug}: {member.name} ({member.role})"
        + (f" — {member.description}" if member.description else "")
        for member in inputs.team
    ]
    return "## Your team (use these ids as agent_id)\n" + "\n".join(members)


def _skills(inputs: PromptInputs) -> str:
    if not inputs.skills:
        return ""
    if not inputs.backend.runs_kumiai_tools:
        return _skills_in_full(inputs)
    lines = [
        f"- {skill.slug}: {skill.name} — {skill.description or 'no description'}"
        for skill in inputs.skills
    ]
    return (
        "## Skills\nLoad a skill's full instructions with mcp__common_tools__load_skill "
        "before using it.\n" + "\n".join(lines)
    )


def _skills_in_full(inputs: PromptInputs) -> str:
    parts = ["## Skills\nThe full instructions of your skills:"]
    for skill in inputs.skills:
        text = inputs.skill_texts.get(skill.slug, "").strip()
        parts.append(f"### {skill.slug}: {skill.name}\n{text or skill.description or ''}".strip())
    return "\n\n".join(parts)


def _unavailable_mcps(inputs: PromptInputs) -> str:
    """Servers the agent was given but cannot use now, so it can tell the user why."""
    if not inputs.unavailable_mcps:
        return ""
    lines = [f"- {name}: {reason}" for name, reason in inputs.unavailable_mcps.items()]
    return "## MCP servers that are unavailable in this turn\n" + "\n".join(lines)


def _user(inputs: PromptInputs) -> str:
    lines = []
    if inputs.user_name:
        lines.append(f"The user's name is {inputs.user_name}.")
    if inputs.user_description and inputs.user_description.strip():
        # The profile page promises the user that this text reaches the AI verbatim.
        lines.append("In the user's own words:\n" + inputs.user_description.strip())
    if inputs.preferences:
        lines.append("User preferences: " + json.dumps(inputs.preferences, ensure_ascii=False))
    return "## About the user\n" + "\n".join(lines) if lines else ""
