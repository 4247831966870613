"""Persistent state in SQLite: accounts, access tokens, cameras, the session log and events."""

from fakecloud.store.async_store import AsyncStore
from fakecloud.store.models import (
    Account,
    Camera,
    Event,
    SessionEntry,
    TokenInfo,
    normalise_mac,
)
from fakecloud.store.passwords import PasswordHasher, VerificationCache
from fakecloud.store.schema import MIGRATIONS, SCHEMA_VERSION
from fakecloud.store.store import Store

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Account",
    "AsyncStore",
    "Camera",
    "Event",
    "PasswordHasher",
    "SessionEntry",
    "Store",
    "TokenInfo",
    "VerificationCache",
    "normalise_mac",
]
