"""The portal's login body: real JSON, and the template a public portal client pastes."""

from __future__ import annotations

import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from fakecloud.web.login_form import (
    MAX_BODY_BYTES,
    MAX_LOGIN_CHARS,
    MAX_PASSWORD_CHARS,
    LoginForm,
    LoginFormError,
    parse_login_form,
)

logins = st.text(min_size=1, max_size=MAX_LOGIN_CHARS)
passwords = st.text(max_size=MAX_PASSWORD_CHARS)


def pasted(username: str, password: str) -> bytes:
    """yyunikov/belkin-netcam-server LoginPage.kt: the input between fixed pieces, no quoting."""
    return ('{"username":' + username + ', "password":' + password + "}").encode()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"username": "alice", "password": "pw"}', LoginForm("alice", "pw")),
        (pasted("alice", "correct horse"), LoginForm("alice", "correct horse")),
        (pasted('"alice"', '"pw"'), LoginForm("alice", "pw")),
        (pasted("a@b.c", 'p"w}, x'), LoginForm("a@b.c", 'p"w}, x')),
        (pasted("alice", " spaced "), LoginForm("alice", " spaced ")),
    ],
)
def test_known_bodies(body: bytes, expected: LoginForm) -> None:
    assert parse_login_form(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"username=alice&password=pw",
        b'{"username": 1, "password": "pw"}',
        b'{"username": "", "password": "pw"}',
        b'["alice", "pw"]',
        b"\xff\xfe",
        b'{"username": "' + b"a" * (MAX_LOGIN_CHARS + 1) + b'", "password": ""}',
        b" " * (MAX_BODY_BYTES + 1),
    ],
)
def test_bad_bodies_are_login_form_errors(body: bytes) -> None:
    with pytest.raises(LoginFormError):
        parse_login_form(body)


@given(logins, passwords)
def test_the_pasted_template_reads_back_what_was_typed(username: str, password: str) -> None:
    assume(', "password":' not in username)  # the client's own template cannot tell then
    assume(not (username.startswith('"') and username.endswith('"') and len(username) > 1))
    assume(not (password.startswith('"') and password.endswith('"') and len(password) > 1))
    body = pasted(username, password)
    assume(len(body) <= MAX_BODY_BYTES)
    try:
        json.loads(body)
        assume(False)  # a typed value that happens to make JSON is read as JSON
    except ValueError:
        pass
    assert parse_login_form(body) == LoginForm(username, password)


@given(logins, passwords)
def test_json_bodies_read_back(username: str, password: str) -> None:
    body = json.dumps({"username": username, "password": password}).encode()
    assert parse_login_form(body) == LoginForm(username, password)


@given(st.binary(max_size=MAX_BODY_BYTES + 16))
def test_any_bytes_are_a_form_or_a_login_form_error(body: bytes) -> None:
    try:
        form = parse_login_form(body)
    except LoginFormError:
        return
    assert 0 < len(form.username) <= MAX_LOGIN_CHARS and len(form.password) <= MAX_PASSWORD_CHARS
