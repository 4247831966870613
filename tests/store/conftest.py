"""A real store on a temporary database, with cheap scrypt so the tests stay fast."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fakecloud.store import PasswordHasher, Store

# n=16 is useless against guessing but exercises exactly the same code as the default.
FAST_HASHER = PasswordHasher(n=16)
PASSWORD = "correct horse battery"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "data" / "fakecloud.sqlite3", hasher=FAST_HASHER) as opened:
        yield opened


MAC = "00:11:22:AA:BB:CC"
