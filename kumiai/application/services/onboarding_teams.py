"""The starter teams of the welcome dialog: characters, skills and a demo project.

Slugs are derived from the names, so a second setup finds what the first one made.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SkillTemplate:
    name: str
    description: str
    icon: str
    tags: tuple[str, ...]
    instructions: str


@dataclass(frozen=True)
class MemberTemplate:
    name: str
    role: str
    description: str
    tags: tuple[str, ...]
    skills: tuple[str, ...]  # names of the team's SkillTemplates
    icon_color: str
    prompt: str


@dataclass(frozen=True)
class TeamTemplate:
    title: str
    skills: tuple[SkillTemplate, ...]
    pm: MemberTemplate
    members: tuple[MemberTemplate, ...]
    project_name: str
    project_description: str


def _pm(name: str, description: str, focus: str, icon_color: str) -> MemberTemplate:
    return MemberTemplate(
        name=name,
        role="project manager",
        description=description,
        tags=("management",),
        skills=(),
        icon_color=icon_color,
        prompt=(
            f"You are the {name} of this project. {focus}\n\n"
            "Break the goal into small tasks, give each task to the team member best "
            "suited for it, follow up on their progress and keep PROJECT.md up to date "
            "with decisions and status. Ask the user when the goal is unclear."
        ),
    )


_CODE_REVIEW = SkillTemplate(
    name="Code Review",
    description="Review a change for bugs, readability and missing tests.",
    icon="code",
    tags=("engineering", "quality"),
    instructions=(
        "# Code review\n\n"
        "1. Read the change and the code around it.\n"
        "2. Look for bugs first, then unclear names, duplication and missing tests.\n"
        "3. Report each finding with the file, the line and a concrete suggestion."
    ),
)
_TEST_WRITING = SkillTemplate(
    name="Test Writing",
    description="Write focused automated tests that document behaviour.",
    icon="terminal",
    tags=("engineering", "testing"),
    instructions=(
        "# Test writing\n\n"
        "- One behaviour per test, named after what it proves.\n"
        "- Cover the happy path, the edge cases and the errors.\n"
        "- Run the tests and make sure a broken implementation makes them fail."
    ),
)
_LITERATURE_REVIEW = SkillTemplate(
    name="Literature Review",
    description="Collect, compare and summarise sources on a question.",
    icon="bookOpen",
    tags=("research",),
    instructions=(
        "# Literature review\n\n"
        "1. State the question.\n"
        "2. List the sources you use, with what each one claims.\n"
        "3. Summarise where they agree, where they differ, and what is still open."
    ),
)
_DATA_ANALYSIS = SkillTemplate(
    name="Data Analysis",
    description="Turn raw data into tables, charts and conclusions.",
    icon="database",
    tags=("research", "data"),
    instructions=(
        "# Data analysis\n\n"
        "- Describe the data set first: columns, size, gaps.\n"
        "- Keep the analysis reproducible: write scripts, not one-off edits.\n"
        "- State every conclusion together with the number that supports it."
    ),
)
_BLOG_WRITING = SkillTemplate(
    name="Blog Writing",
    description="Write clear, engaging blog posts for a target reader.",
    icon="fileText",
    tags=("content", "writing"),
    instructions=(
        "# Blog writing\n\n"
        "1. Name the reader and the one thing they should take away.\n"
        "2. Open with the problem, then the answer, then the details.\n"
        "3. Short paragraphs, concrete examples, a title that promises what the post keeps."
    ),
)
_COPY_EDITING = SkillTemplate(
    name="Copy Editing",
    description="Polish a draft for clarity, tone and correctness.",
    icon="wrench",
    tags=("content", "editing"),
    instructions=(
        "# Copy editing\n\n"
        "- Fix spelling, grammar and punctuation.\n"
        "- Cut words that add nothing; split long sentences.\n"
        "- Keep the author's voice, and explain any change of meaning."
    ),
)

TEAMS: dict[str, TeamTemplate] = {
    "dev": TeamTemplate(
        title="Development Team",
        skills=(_CODE_REVIEW, _TEST_WRITING),
        pm=_pm(
            "Product Manager",
            "Plans the work and coordinates the developers.",
            "You turn the user's wishes into a plan a small software team can deliver.",
            "#8E44AD",
        ),
        members=(
            MemberTemplate(
                name="Software Engineer",
                role="developer",
                description="Designs and writes the code.",
                tags=("engineering",),
                skills=("Code Review", "Test Writing"),
                icon_color="#2E86DE",
                prompt=(
                    "You are a software engineer. Write simple, well-named code with tests, "
                    "and explain your design choices briefly."
                ),
            ),
            MemberTemplate(
                name="QA Engineer",
                role="tester",
                description="Tests the software and reports bugs.",
                tags=("engineering", "testing"),
                skills=("Test Writing",),
                icon_color="#27AE60",
                prompt=(
                    "You are a QA engineer. Try to break what the team builds, write tests "
                    "for what you find, and report bugs with steps to reproduce them."
                ),
            ),
        ),
        project_name="Demo: Todo App",
        project_description="Build a small to-do list web app, with tests.",
    ),
    "research": TeamTemplate(
        title="Research Team",
        skills=(_LITERATURE_REVIEW, _DATA_ANALYSIS),
        pm=_pm(
            "Research Lead",
            "Frames the questions and coordinates the researchers.",
            "You turn the user's question into a research plan and a final report.",
            "#C0392B",
        ),
        members=(
            MemberTemplate(
                name="Researcher",
                role="researcher",
                description="Finds and summarises sources.",
                tags=("research",),
                skills=("Literature Review",),
                icon_color="#16A085",
                prompt=(
                    "You are a careful researcher. Cite your sources, separate facts from "
                    "opinions, and say how sure you are."
                ),
            ),
            MemberTemplate(
                name="Data Analyst",
                role="analyst",
                description="Analyses data and builds charts.",
                tags=("research", "data"),
                skills=("Data Analysis",),
                icon_color="#D35400",
                prompt=(
                    "You are a data analyst. Work from the data, keep your analysis "
                    "reproducible, and present results with tables and short summaries."
                ),
            ),
        ),
        project_name="Demo: Market Research",
        project_description=(
            "Research the market for home espresso machines and summarise it in a short report."
        ),
    ),
    "content": TeamTemplate(
        title="Content Team",
        skills=(_BLOG_WRITING, _COPY_EDITING),
        pm=_pm(
            "Content Strategist",
            "Plans the content and coordinates writers and editors.",
            "You turn the user's goals into an editorial plan and see it through.",
            "#F39C12",
        ),
        members=(
            MemberTemplate(
                name="Writer",
                role="writer",
                description="Drafts articles and posts.",
                tags=("content", "writing"),
                skills=("Blog Writing",),
                icon_color="#2980B9",
                prompt=(
                    "You are a writer. Write for the reader named in the brief, in plain "
                    "language, with concrete examples."
                ),
            ),
            MemberTemplate(
                name="Editor",
                role="editor",
                description="Edits drafts for clarity and correctness.",
                tags=("content", "editing"),
                skills=("Copy Editing",),
                icon_color="#7F8C8D",
                prompt=(
                    "You are an editor. Make drafts clearer and shorter while keeping the "
                    "author's voice, and list the changes you made."
                ),
            ),
        ),
        project_name="Demo: Blog Launch",
        project_description="Plan and write the first three posts of a new engineering blog.",
    ),
}
