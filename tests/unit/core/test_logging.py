"""Secrets never reach the log output."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from kumiai.core.logging import NOISY_LOGGERS, configure_logging, get_logger, redact_text


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure_logging changes process-wide state: put it back even if the test fails."""
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    noisy_levels = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    try:
        yield
    finally:
        structlog.configure(**config)
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, noisy_level in noisy_levels.items():
            logging.getLogger(name).setLevel(noisy_level)


def test_passwords_in_urls_and_anthropic_keys_are_redacted() -> None:
    text = redact_text("postgresql://kumi:hunter2@db/x and sk-ant-api03-abcdef")
    assert "hunter2" not in text
    assert "sk-ant-api03-abcdef" not in text


def test_an_access_token_as_the_user_of_a_web_url_is_redacted() -> None:
    text = redact_text("cloning https://ghp_s3cret@github.com/o/r.git failed")
    assert text == "cloning https://***@github.com/o/r.git failed"


@pytest.mark.usefixtures("restored_logging")
def test_json_logs_hide_secret_fields_and_carry_context(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "json")
    get_logger("test").info("connecting", api_key="sk-ant-123", url="postgresql://u:pw@h/db")
    logging.getLogger().handlers[0].flush()
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["api_key"] == "***"
    assert "pw@" not in record["url"]
    assert record["event"] == "connecting"
