"""Coalescing presence in a batch leaves a camera exactly as writing each change in turn."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fakecloud.store import Store
from fakecloud.store.batch import PresenceWrite, SessionRow, WriteBatch
from tests.store.conftest import FAST_HASHER

CHANGES = st.lists(
    st.tuples(
        st.none() | st.booleans(),
        st.none() | st.sampled_from(["192.0.2.1", "192.0.2.2"]),
        st.none() | st.sampled_from(["1.0", "2.0"]),
        st.none() | st.dictionaries(st.sampled_from("ab"), st.text(max_size=3), max_size=2),
    ),
    min_size=1,
    max_size=6,
)


def presence(camera_id: int, step: int, change: tuple[Any, ...]) -> PresenceWrite:
    seen = f"2026-01-01T00:00:{step:02d}+00:00"
    return PresenceWrite(camera_id, seen, seen, *change)


def state(store: Store, camera_id: int) -> tuple[Any, ...]:
    camera = store.get_camera(camera_id)
    assert camera is not None
    return (camera.online, camera.last_ip, camera.firmware, camera.properties, camera.last_seen)


@settings(max_examples=40, deadline=None)
@given(CHANGES)
def test_a_coalesced_batch_equals_the_changes_one_by_one(changes: list[tuple[Any, ...]]) -> None:
    with (
        tempfile.TemporaryDirectory() as folder,
        Store(Path(folder) / "db.sqlite3", hasher=FAST_HASHER) as store,
    ):
        one_by_one = store.upsert_camera(mac="00:11:22:33:44:01").id
        coalesced = store.upsert_camera(mac="00:11:22:33:44:02").id
        batch = WriteBatch()
        for step, change in enumerate(changes):
            single = WriteBatch()
            single.add_presence(presence(one_by_one, step, change))
            store.write_batch(single)
            batch.add_presence(presence(coalesced, step, change))
        batch.add_session(
            SessionRow("2026-01-01T00:01:00+00:00", coalesced, None, "camera", "x", "y")
        )
        assert batch.coalesced == len(changes) - 1 and len(batch) == 2
        store.write_batch(batch)
        assert state(store, coalesced) == state(store, one_by_one)


@settings(max_examples=40, deadline=None)
@given(CHANGES, st.booleans())
def test_applied_to_is_what_reading_back_gives(changes: list[tuple[Any, ...]], owned: bool) -> None:
    with (
        tempfile.TemporaryDirectory() as folder,
        Store(Path(folder) / "db.sqlite3", hasher=FAST_HASHER) as store,
    ):
        store.add_account("alice", "a long password")
        camera = store.upsert_camera(mac="00:11:22:33:44:03", owner="alice" if owned else None)
        for step, change in enumerate(changes):
            write = presence(camera.id, step, change)
            expected = write.applied_to(camera)
            batch = WriteBatch()
            batch.add_presence(write)
            store.write_batch(batch)
            camera = store.get_camera(camera.id)
            assert camera == expected


def test_applied_to_bounds_what_a_pending_camera_reports(store: Store) -> None:
    camera = store.upsert_camera(mac="00:11:22:33:44:04")
    write = presence(camera.id, 0, (True, None, None, {"big": "x" * 10_000, "a": "b"}))
    expected = write.applied_to(camera)
    batch = WriteBatch()
    batch.add_presence(write)
    store.write_batch(batch)
    assert store.get_camera(camera.id) == expected and expected.properties["_truncated"]
