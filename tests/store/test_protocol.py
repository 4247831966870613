"""The SQLite store implements the Protocol the server is typed with (mypy checks the
signatures in tests/test_types.py; this checks what mypy cannot: which members are coroutines)."""

import inspect

from fakecloud.store.async_store import AsyncStore
from fakecloud.store.protocol import CameraStore


def protocol_members() -> dict[str, object]:
    return {
        name: member
        for name, member in vars(CameraStore).items()
        if not name.startswith("_") and callable(member)
    }


def test_every_member_exists_and_is_async_where_the_protocol_says() -> None:
    members = protocol_members()
    assert {"verify_password", "camera_online", "log_session", "close"} <= set(members)
    for name, member in members.items():
        implemented = getattr(AsyncStore, name)
        assert inspect.iscoroutinefunction(implemented) == inspect.iscoroutinefunction(member), name
