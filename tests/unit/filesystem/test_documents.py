"""Front-matter parsing and rendering for agent.md, v1 CLAUDE.md and SKILL.md."""

from __future__ import annotations

import pytest

from kumiai.core.exceptions import ValidationError
from kumiai.domain.value_objects import CliBackend
from kumiai.infrastructure.filesystem.documents import (
    AGENT_FORMAT,
    SKILL_FORMAT,
    V1_AGENT_FORMAT,
    FrontMatter,
    read_front_matter,
    read_front_matter_lenient,
)

AGENT = "---\nname: Ada\ntags: [a, b]\n---\n\n# Ada\n\nBe precise.\n"


# ---------------------------------------------------------------- front matter


def test_front_matter_and_body_are_split() -> None:
    assert read_front_matter(AGENT) == FrontMatter(
        {"name": "Ada", "tags": ["a", "b"]}, "# Ada\n\nBe precise."
    )


def test_crlf_line_endings_parse_like_lf() -> None:
    crlf = AGENT.replace("\n", "\r\n")
    assert read_front_matter(crlf) == read_front_matter(AGENT)
    assert "\r" not in read_front_matter(crlf).body


def test_utf8_bom_is_ignored() -> None:
    assert read_front_matter("\ufeff" + AGENT) == read_front_matter(AGENT)


def test_bom_and_crlf_together() -> None:
    agent = AGENT_FORMAT.parse("\ufeff" + AGENT.replace("\n", "\r\n"))
    assert agent.fields["name"] == "Ada"
    assert agent.body == "# Ada\n\nBe precise."


def test_missing_front_matter_gives_empty_metadata_and_whole_text_as_body() -> None:
    assert read_front_matter("# Title\n\nText\n") == FrontMatter({}, "# Title\n\nText")


def test_empty_front_matter_gives_empty_metadata() -> None:
    assert read_front_matter("---\n---\nbody") == FrontMatter({}, "body")


def test_body_keeps_a_horizontal_rule_and_leading_indentation() -> None:
    text = "---\nname: x\n---\n\n    code block\n\n---\n\nafter rule\n"
    assert read_front_matter(text).body == "    code block\n\n---\n\nafter rule"


def test_malformed_yaml_names_the_file_and_the_line() -> None:
    text = "---\nname: Ada\ntags: [a, b\n---\nbody\n"
    with pytest.raises(ValidationError, match=r"agent\.md: malformed YAML front matter \(line"):
        read_front_matter(text, source="agent.md")


def test_malformed_yaml_reports_the_file_line_number() -> None:
    text = "---\nname: Ada\nbad: : :\n---\n"
    with pytest.raises(ValidationError, match="line 3"):
        read_front_matter(text)


def test_unclosed_front_matter_is_rejected() -> None:
    with pytest.raises(ValidationError, match="never closed"):
        read_front_matter("---\nname: Ada\n", source="x.md")


def test_non_mapping_front_matter_is_rejected() -> None:
    with pytest.raises(ValidationError, match="mapping"):
        read_front_matter("---\n- a\n- b\n---\nbody")


def test_lenient_reader_turns_malformed_yaml_into_a_warning() -> None:
    front_matter, warning = read_front_matter_lenient("---\nname: [x\n---\nbody\n", source="a.md")
    assert front_matter == FrontMatter({}, "body")
    assert warning is not None
    assert warning.startswith("a.md: malformed YAML")


def test_lenient_reader_keeps_the_whole_text_when_the_header_is_unclosed() -> None:
    front_matter, warning = read_front_matter_lenient("---\nname: x\n")
    assert front_matter == FrontMatter({}, "---\nname: x")
    assert warning is not None


def test_lenient_reader_has_no_warning_for_a_good_file() -> None:
    assert read_front_matter_lenient(AGENT) == (read_front_matter(AGENT), None)


# ---------------------------------------------------------------- agents


def test_agent_defaults_apply_when_keys_are_absent() -> None:
    assert AGENT_FORMAT.parse("---\nname: Ada\n---\n") == AGENT_FORMAT.new(name="Ada")
    assert AGENT_FORMAT.new(name="Ada").fields["role"] == "specialist"
    assert AGENT_FORMAT.new(name="Ada").fields["icon_color"] == "#4A90E2"
    assert AGENT_FORMAT.new(name="Ada").fields["default_model"] is None


def test_v1_agent_defaults_model_to_sonnet() -> None:
    assert V1_AGENT_FORMAT.parse("---\nname: Ada\n---\n").fields["default_model"] == "sonnet"
    assert (
        V1_AGENT_FORMAT.parse("---\nname: Ada\ndefault_model: opus\n---\n").fields["default_model"]
        == "opus"
    )


def test_comma_separated_strings_become_lists() -> None:
    agent = AGENT_FORMAT.parse("---\nname: D\ntags: data, analytics , sql\nskills: one\n---\n")
    assert agent.fields["tags"] == ["data", "analytics", "sql"]
    assert agent.fields["skills"] == ["one"]


@pytest.mark.parametrize("value", ["''", "", "null", "[]", "' , '"])
def test_empty_list_spellings_become_empty_lists(value: str) -> None:
    assert (
        AGENT_FORMAT.parse(f"---\nname: D\nallowed_mcps: {value}\n---\n").fields["allowed_mcps"]
        == []
    )


def test_list_items_that_are_numbers_become_strings() -> None:
    assert AGENT_FORMAT.parse("---\nname: D\ntags: [1, x, null]\n---\n").fields["tags"] == [
        "1",
        "x",
    ]
    assert AGENT_FORMAT.parse("---\nname: D\ntags: 42\n---\n").fields["tags"] == ["42"]


def test_wrong_types_are_validation_errors_naming_the_key() -> None:
    with pytest.raises(ValidationError, match="'tags' must be a list"):
        AGENT_FORMAT.parse("---\nname: D\ntags: {a: 1}\n---\n")
    with pytest.raises(ValidationError, match="'tags' must hold only strings"):
        AGENT_FORMAT.parse("---\nname: D\ntags: [[a]]\n---\n")
    with pytest.raises(ValidationError, match="'name' must be a single value"):
        AGENT_FORMAT.parse("---\nname: [a, b]\n---\n")


def test_missing_name_parses_as_empty_and_is_a_lenient_warning() -> None:
    assert AGENT_FORMAT.parse("just a prompt").fields["name"] == ""
    agent, warnings = V1_AGENT_FORMAT.parse_lenient("just a prompt", source="agents/x/CLAUDE.md")
    assert agent.body == "just a prompt"
    assert warnings == ["agents/x/CLAUDE.md: no 'name' in the front matter"]


def test_lenient_v1_parse_falls_back_to_defaults_on_bad_values() -> None:
    agent, warnings = V1_AGENT_FORMAT.parse_lenient(
        "---\nname: D\ntags: {a: 1}\nskills: [ok, [bad]]\n---\nbody"
    )
    assert agent.fields["tags"] == []
    assert agent.fields["skills"] == ["ok"]
    assert agent.fields["default_model"] == "sonnet"
    assert len(warnings) == 2


def test_lenient_v1_parse_of_broken_yaml_keeps_the_body() -> None:
    agent, warnings = V1_AGENT_FORMAT.parse_lenient("---\nname: [x\n---\nPrompt\n")
    assert agent.body == "Prompt"
    assert agent.fields["default_model"] == "sonnet"
    assert len(warnings) == 2  # the YAML problem and the missing name


def test_unknown_keys_are_kept_as_extra_and_rendered_after_known_ones() -> None:
    agent = AGENT_FORMAT.parse("---\nmood: calm\nname: Ada\n---\nbody")
    assert agent.extra == {"mood": "calm"}
    assert AGENT_FORMAT.render(agent).index("mood:") > AGENT_FORMAT.render(agent).index(
        "icon_color:"
    )


def test_render_agent_uses_a_stable_key_order_and_skips_none() -> None:
    rendered = AGENT_FORMAT.render(
        AGENT_FORMAT.new(name="Ada", tags=["x"], default_model="opus", body="Hi")
    )
    assert rendered == (
        "---\n"
        "name: Ada\n"
        "role: specialist\n"
        "default_model: opus\n"
        "skills: []\n"
        "allowed_tools: []\n"
        "allowed_mcps: []\n"
        "tags: [x]\n"
        "icon_color: '#4A90E2'\n"
        "---\n"
        "\n"
        "Hi\n"
    )


def test_render_agent_without_body_ends_after_the_header() -> None:
    assert AGENT_FORMAT.render(AGENT_FORMAT.new(name="A")).endswith("icon_color: '#4A90E2'\n---\n")


def test_extra_keys_never_shadow_typed_fields() -> None:
    agent = AGENT_FORMAT.new(name="Ada", extra={"name": "Mallory", "description": "x"})
    assert AGENT_FORMAT.parse(AGENT_FORMAT.render(agent)).fields["name"] == "Ada"
    assert AGENT_FORMAT.parse(AGENT_FORMAT.render(agent)).fields["description"] is None


def test_agent_round_trips_through_render_and_parse() -> None:
    agent = AGENT_FORMAT.new(
        name="Ada Lovelace",
        role="pm",
        description="Long description with: colons, 'quotes', #hashes and\n---\nnewlines",
        skills=["backend-dev", "qa"],
        default_model="claude-sonnet-4-5",
        allowed_tools=["Read", "Bash"],
        allowed_mcps=["figma"],
        tags=["ünïcode", "yes", "123"],
        icon_color="#123ABC",
        avatar_url="data:image/png;base64,AAAA",
        body="# Prompt\n\n---\n\nBody with a rule.",
        extra={"mood": "calm", "levels": [1, 2]},
    )
    assert AGENT_FORMAT.parse(AGENT_FORMAT.render(agent)) == agent


def test_parsed_agent_is_stable_across_repeated_rendering() -> None:
    first = AGENT_FORMAT.parse("---\nname: X\ntags: a, b\n---\n\n\nBody  \n\n")
    rendered = AGENT_FORMAT.render(first)
    assert AGENT_FORMAT.render(AGENT_FORMAT.parse(rendered)) == rendered


# ---------------------------------------------------------------- skills


def test_skill_defaults_apply_when_keys_are_absent() -> None:
    assert SKILL_FORMAT.parse("---\nname: S\n---\nbody") == SKILL_FORMAT.new(name="S", body="body")
    skill = SKILL_FORMAT.new(name="S")
    assert (
        skill.fields["description"],
        skill.fields["icon"],
        skill.fields["icon_color"],
        skill.fields["license"],
    ) == (
        "",
        "zap",
        "#4A90E2",
        "MIT",
    )


def test_skill_reads_camel_case_and_snake_case_icon_colour() -> None:
    assert (
        SKILL_FORMAT.parse("---\nname: S\niconColor: '#111111'\n---\n").fields["icon_color"]
        == "#111111"
    )
    snake_wins = "---\nname: S\niconColor: '#111111'\nicon_color: '#222222'\n---\n"
    assert SKILL_FORMAT.parse(snake_wins).fields["icon_color"] == "#222222"
    assert SKILL_FORMAT.parse(snake_wins).extra == {}


def test_render_skill_writes_name_and_description_first() -> None:
    rendered = SKILL_FORMAT.render(SKILL_FORMAT.new(name="S", description="Does S", tags=["t"]))
    assert rendered.splitlines()[:7] == [
        "---",
        "name: S",
        "description: Does S",
        "tags: [t]",
        "icon: zap",
        "icon_color: '#4A90E2'",
        "license: MIT",
    ]


def test_skill_round_trips_through_render_and_parse() -> None:
    skill = SKILL_FORMAT.new(
        name="Tech: Writing",
        description="Write clear docs: guides, references",
        tags=["docs"],
        icon="fileText",
        icon_color="#E24AA8",
        license="Apache-2.0",
        body="# Steps\n\n1. Write.",
        extra={"allowed-tools": ["Read"]},
    )
    assert SKILL_FORMAT.parse(SKILL_FORMAT.render(skill)) == skill


def test_lenient_skill_parse_reports_bad_values() -> None:
    skill, warnings = SKILL_FORMAT.parse_lenient("---\nname: S\ndescription: [a]\n---\n")
    assert skill.fields["description"] == ""
    assert warnings == ["SKILL.md: 'description' must be a single value, not a list"]


def test_strict_skill_parse_rejects_bad_yaml() -> None:
    with pytest.raises(ValidationError, match=r"SKILL\.md: malformed YAML"):
        SKILL_FORMAT.parse("---\nname: 'S\n---\n")


def test_yaml_errors_without_a_position_are_still_described() -> None:
    with pytest.raises(ValidationError, match="malformed YAML front matter"):
        read_front_matter("---\nname: a\x07b\n---\n")


def test_skill_without_name_is_a_lenient_warning() -> None:
    skill, warnings = SKILL_FORMAT.parse_lenient("# Only a body\n", source="skills/x/SKILL.md")
    assert (skill.fields["name"], skill.body) == ("", "# Only a body")
    assert warnings == ["skills/x/SKILL.md: no 'name' in the front matter"]


def test_the_cli_backend_is_written_only_when_it_is_not_claude() -> None:
    claude = AGENT_FORMAT.render(AGENT_FORMAT.new(name="Ada", cli_backend=CliBackend.CLAUDE))
    codex = AGENT_FORMAT.render(AGENT_FORMAT.new(name="Ada", cli_backend=CliBackend.CODEX))

    assert "cli_backend" not in claude
    assert codex.splitlines()[:4] == ["---", "name: Ada", "role: specialist", "cli_backend: codex"]
    assert AGENT_FORMAT.parse(codex).fields["cli_backend"] == "codex"
    assert AGENT_FORMAT.parse(claude).fields["cli_backend"] == "claude"


def test_a_v1_agent_reads_its_cli_backend_where_present() -> None:
    with_backend = V1_AGENT_FORMAT.parse("---\nname: A\ncli_backend: gemini\n---\n")
    without = V1_AGENT_FORMAT.parse("---\nname: A\n---\n")

    assert (with_backend.fields["cli_backend"], without.fields["cli_backend"]) == (
        "gemini",
        "claude",
    )
