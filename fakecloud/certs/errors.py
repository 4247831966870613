"""The one error type of the certificate authority."""

from __future__ import annotations

from fakecloud.core.errors import UserError


class CertsError(UserError):
    """A certificate file is missing, unreadable or inconsistent; the message says which."""
