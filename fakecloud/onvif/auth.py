"""Who an ONVIF request speaks for: WS-UsernameToken checked against fakecloud's accounts.

Security consideration: PasswordDigest (base64(sha1(nonce + created + password))) needs the
password in plain text on the server, and fakecloud keeps only scrypt hashes of passwords and
SHA-256 hashes of tokens. So each account has an ONVIF password of its own: HMAC-SHA256 of the
account's id, login and creation time under a random key in the data folder (onvif.key, 0600).
Nothing per account is stored; `fakecloud onvif password LOGIN` prints it; an account removed
and added again gets a new one; deleting onvif.key changes every one. PasswordText also takes
the account's password (scrypt, under the login limits) or an access token. A digest is taken
within FRESHNESS_SECONDS of our clock, and its nonce only once in that window (no replay).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path

from fakecloud.core.login_guard import LoginRefused
from fakecloud.onvif.soap import UsernameToken, not_authorized
from fakecloud.store.models import Account
from fakecloud.store.protocol import CameraStore

KEY_FILE = "onvif.key"
FRESHNESS_SECONDS = 300.0
# Nonces remembered for replay detection; the oldest go first, so memory stays bounded.
MAX_REMEMBERED_NONCES = 4096


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """WS-Security UsernameToken PasswordDigest."""
    raw = hashlib.sha1(nonce + created.encode() + password.encode(), usedforsecurity=False)
    return base64.b64encode(raw.digest()).decode("ascii")


def load_key(data_dir: Path) -> bytes:
    """The data folder's ONVIF key, made (0600) on first use."""
    path = data_dir / KEY_FILE
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    key = secrets.token_bytes(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(key)
    return key


def existing_key(data_dir: Path) -> bytes | None:
    """The data folder's ONVIF key if one was made (ONVIF enabled, or a password printed)."""
    try:
        return (data_dir / KEY_FILE).read_bytes()
    except FileNotFoundError:
        return None


def onvif_password(key: bytes, account: Account) -> str:
    """The account's ONVIF password (what PasswordDigest is computed with)."""
    # The account's creation time too: a login removed and added again gets a new password.
    made = account.created.isoformat()
    identity = f"onvif-password:{account.id}:{account.login}:{account.alias}:{made}"
    mac = hmac.new(key, identity.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:18]).decode("ascii")


def is_onvif_password(key: bytes, account: Account, secret: str) -> bool:
    """Whether `secret` is the account's ONVIF password (in constant time)."""
    return hmac.compare_digest(onvif_password(key, account).encode(), secret.encode())


class TokenChecker:
    """Checks UsernameTokens; one per ONVIF part (it holds the replay window)."""

    def __init__(self, store: CameraStore, key: bytes) -> None:
        self.store = store
        self.key = key
        self._nonces: OrderedDict[bytes, float] = OrderedDict()

    async def account_for(self, token: UsernameToken, client: str | None) -> Account:
        """The account the token proves, or the NotAuthorized fault."""
        account = await self.store.get_account(token.username) if token.username else None
        if account is None:
            raise not_authorized()
        if token.digest:
            given = password_digest(token.nonce, token.created, onvif_password(self.key, account))
            if not hmac.compare_digest(given.encode(), token.password.encode()):
                raise not_authorized()
            # Checked once the digest is right, so strangers cannot fill the nonce window.
            self._check_fresh(token)
            return account
        if is_onvif_password(self.key, account, token.password):
            return account
        # The token first: a hash lookup, where a password costs scrypt under the login limits.
        if await self.store.verify_token(account.login, token.password):
            return account
        try:
            if await self.store.verify_password(account.login, token.password, client=client):
                return account
        except LoginRefused:
            pass  # answered like a wrong password
        raise not_authorized()

    def _check_fresh(self, token: UsernameToken) -> None:
        try:
            created = datetime.fromisoformat(token.created.replace("Z", "+00:00"))
        except ValueError:
            raise not_authorized() from None
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        now = time.time()
        if abs(created.timestamp() - now) > FRESHNESS_SECONDS or not token.nonce:
            raise not_authorized()
        while self._nonces and next(iter(self._nonces.values())) < now - 2 * FRESHNESS_SECONDS:
            self._nonces.popitem(last=False)
        if token.nonce in self._nonces:
            raise not_authorized()
        self._nonces[token.nonce] = now
        if len(self._nonces) > MAX_REMEMBERED_NONCES:
            self._nonces.popitem(last=False)
