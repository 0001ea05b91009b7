"""Logs are one JSON object per line: what someone types can never start a new line,
and sign-in logs carry neither usernames typed nor session ids."""

from __future__ import annotations

import io
import json
import logging

import pytest

from boundaries.log_format import JsonFormatter

FORGED = '{"level": "INFO", "logger": "boundaries", "message": "FORGED admin signed in"}'


@pytest.fixture
def log_lines():
    """Everything logged during the test, formatted as production formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lambda: stream.getvalue().splitlines()
    root.removeHandler(handler)
    root.setLevel(previous_level)


def test_a_message_with_newlines_and_control_characters_stays_on_one_line(log_lines):
    logging.getLogger("boundaries.test").warning(
        "typed: %s", f"nurse\n{FORGED}\r\x1b[2J\x00", extra={"field": f"x\n{FORGED}"}
    )
    lines = log_lines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["message"].endswith("\r\x1b[2J\x00")
    assert entry["field"] == f"x\n{FORGED}"


def test_a_username_with_a_newline_cannot_forge_a_log_line(client, nurse, log_lines):
    session_key_seen = []
    for username in (f"nurse\n{FORGED}", f"nobody\r\n{FORGED}"):
        response = client.post(
            "/accounts/login/", {"username": username, "password": "not-the-password"}
        )
        assert response.status_code == 200
        session_key_seen.append(client.cookies.get("sessionid"))
    lines = log_lines()
    assert lines, "sign-in failures are logged"
    for line in lines:
        entry = json.loads(line)  # every line is a whole record of its own
        assert "FORGED" not in entry["message"]
    output = "\n".join(lines)
    assert "FORGED" not in output
    assert "nobody" not in output
    for cookie in session_key_seen:
        if cookie is not None:
            assert cookie.value not in output


def test_a_successful_sign_in_logs_no_session_id(client, nurse, log_lines):
    from tests.factories import TEST_PASSWORD

    client.post("/accounts/login/", {"username": "nurse", "password": TEST_PASSWORD})
    session_key = client.session.session_key
    output = "\n".join(log_lines())
    assert session_key not in output
    assert TEST_PASSWORD not in output
