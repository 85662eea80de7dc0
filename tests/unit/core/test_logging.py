"""Secrets never reach the log output."""

from __future__ import annotations

import json
import logging

import pytest

from kumiai.core.logging import configure_logging, get_logger, redact_text


def test_passwords_in_urls_and_anthropic_keys_are_redacted() -> None:
    text = redact_text("postgresql://kumi:hunter2@db/x and sk-ant-api03-abcdef")
    assert "hunter2" not in text
    assert "sk-ant-api03-abcdef" not in text


def test_json_logs_hide_secret_fields_and_carry_context(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "json")
    get_logger("test").info("connecting", api_key="sk-ant-123", url="postgresql://u:pw@h/db")
    logging.getLogger().handlers[0].flush()
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["api_key"] == "***"
    assert "pw@" not in record["url"]
    assert record["event"] == "connecting"
    configure_logging("info", "console")
