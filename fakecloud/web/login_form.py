"""The body of `POST /cxs/api/auth/login`, as the web portal and its public clients send it.

The portal sent JSON `{"username": ..., "password": ...}`. A public portal client
(yyunikov/belkin-netcam-server, LoginPage.kt) builds that body by pasting the user's input
between fixed pieces, `{"username":` + login + `, "password":` + password + `}`, without quotes
or escapes, so unless its user typed the quotes the body is not JSON. This parser reads both:
real JSON, and that exact template with raw or quoted values. Pure: bytes in, strings out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

MAX_LOGIN_CHARS = 256
MAX_PASSWORD_CHARS = 1024
# Security consideration: the two fields are bounded before anything is hashed, and the whole
# body is bounded so the template match below never scans more than this.
MAX_BODY_BYTES = 4 * (MAX_LOGIN_CHARS + MAX_PASSWORD_CHARS) + 64
# The client's template. The login ends at the first `, "password":` (the client writes the login
# first); the password runs to the last `}`, so it may hold any character, quotes and braces too.
_TEMPLATE = re.compile(
    r'\s*\{\s*"username"\s*:(?P<login>.*?),\s*"password"\s*:(?P<password>.*)\}\s*', re.DOTALL
)


class LoginFormError(ValueError):
    """A login body that holds no login and password."""


@dataclass(frozen=True, slots=True)
class LoginForm:
    username: str
    password: str


def parse_login_form(body: bytes) -> LoginForm:
    if len(body) > MAX_BODY_BYTES:
        raise LoginFormError(f"a login body has at most {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise LoginFormError("a login body is UTF-8 text") from None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = _template_fields(text)
    if not isinstance(value, dict):
        raise LoginFormError('send {"username": "...", "password": "..."}')
    username, password = value.get("username"), value.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise LoginFormError('send {"username": "...", "password": "..."}')
    if not username or len(username) > MAX_LOGIN_CHARS:
        raise LoginFormError(f"a username has 1 to {MAX_LOGIN_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise LoginFormError(f"a password has at most {MAX_PASSWORD_CHARS} characters")
    return LoginForm(username, password)


def _template_fields(text: str) -> dict[str, str] | None:
    match = _TEMPLATE.fullmatch(text)
    if match is None:
        return None
    return {"username": _value(match["login"]), "password": _value(match["password"])}


def _value(raw: str) -> str:
    """A pasted value as typed: the template adds no spaces, so spaces are the user's; a JSON
    string literal (the user typed the quotes) is decoded."""
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        try:
            decoded = json.loads(raw)
        except ValueError:
            return raw
        if isinstance(decoded, str):
            return decoded
    return raw
