"""What a camera login reads, in as few store calls as possible, and the grouped writes that ride
along with those calls (docs/store.md, "Login storms")."""

from __future__ import annotations

import asyncio
import sqlite3
import string
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.store import AsyncStore, Store
from fakecloud.store.cameras import random_text, unchanged_by_upsert
from tests.store.conftest import FAST_HASHER, PASSWORD

MAC = "00:11:22:33:44:55"
OTHER_MAC = "00:11:22:33:44:66"


def test_a_camera_login_reads_account_and_camera_together_once_the_password_is_cached(
    store: Store,
) -> None:
    account = store.add_account("alice", PASSWORD)
    camera = store.upsert_camera(mac=MAC, reported_alias="oc9:001122334455", owner="alice")
    assert store.cached_camera_login("alice", PASSWORD, mac=MAC, alias=None) is None  # not yet
    assert store.verify_password("alice", PASSWORD) == account
    assert store.cached_camera_login("alice", PASSWORD, mac=MAC, alias=None) == (account, camera)
    by_alias = store.cached_camera_login("ALICE", PASSWORD, mac=None, alias="oc9:001122334455")
    assert by_alias == (account, camera)
    assert store.cached_camera_login("alice", PASSWORD, mac=OTHER_MAC, alias=None) == (
        account,
        None,
    )
    assert store.cached_camera_login("alice", PASSWORD + "x", mac=MAC, alias=None) is None


def test_the_camera_read_follows_every_change_to_the_database(store: Store, tmp_path: Path) -> None:
    """Nothing of the camera is cached: a change by another process (the CLI) shows at once."""
    store.add_account("alice", PASSWORD)
    camera = store.upsert_camera(mac=MAC, owner="alice")
    store.verify_password("alice", PASSWORD)
    with Store(store.path, hasher=FAST_HASHER) as cli:
        cli.update_camera(camera.id, name="Porch")
        _, renamed = store.cached_camera_login("alice", PASSWORD, mac=MAC, alias=None) or (0, 0)
        assert renamed is not None and renamed.name == "Porch"
        cli.forget_camera(camera.id)
    assert store.cached_camera_login("alice", PASSWORD, mac=MAC, alias=None) == (
        store.get_account("alice"),
        None,
    )


def test_a_password_change_or_removal_ends_the_cached_login(store: Store) -> None:
    store.add_account("alice", PASSWORD)
    store.upsert_camera(mac=MAC, owner="alice")
    store.verify_password("alice", PASSWORD)
    store.set_password("alice", "a brand new password")
    assert store.cached_camera_login("alice", PASSWORD, mac=MAC, alias=None) is None
    store.verify_password("alice", "a brand new password")
    store.remove_account("alice")
    assert store.cached_camera_login("alice", "a brand new password", mac=MAC, alias=None) is None


def test_find_camera_prefers_the_mac_then_the_cloud_alias_then_the_latest_seen(
    store: Store,
) -> None:
    store.add_account("alice", PASSWORD)
    first = store.upsert_camera(mac=MAC, reported_alias="shared", owner="alice")
    # Another camera that reported the first one's cloud alias as its own (an upsert would
    # find the first camera by that alias, so it is set directly).
    second = store.upsert_camera(mac=OTHER_MAC)
    with sqlite3.connect(store.path) as other_process:
        other_process.execute(
            "UPDATE cameras SET reported_alias = ? WHERE id = ?", (first.alias, second.id)
        )
    second = store.get_camera(second.id)
    assert store.find_camera(mac=OTHER_MAC, alias=first.alias) == second  # the MAC first
    assert store.find_camera(alias=first.alias) == first  # the cloud alias before a reported one
    third = store.upsert_camera(mac="00:11:22:33:44:77", reported_alias="shared")
    store.set_camera_presence(first.id, True)
    assert store.find_camera(alias="shared").id == first.id
    store.set_camera_presence(third.id, True)
    assert store.find_camera(alias="shared").id == third.id  # the one seen last
    assert store.find_camera(mac="00:00:00:00:00:01", alias="nobody") is None


def test_an_upsert_that_changes_nothing_is_recognised(store: Store) -> None:
    store.add_account("alice", PASSWORD)
    store.add_account("bob", PASSWORD)
    camera = store.upsert_camera(mac=MAC, reported_alias="oc9:cam", owner="alice")
    assert unchanged_by_upsert(camera, owner="ALICE")
    assert unchanged_by_upsert(camera, reported_alias="oc9:cam", owner="alice")
    assert not unchanged_by_upsert(camera, reported_alias="oc9:new", owner="alice")
    assert not unchanged_by_upsert(camera, owner="bob")
    assert not unchanged_by_upsert(camera, name="Porch")
    transactions = store.counters["transactions"]
    assert store.upsert_camera(mac=MAC, reported_alias="oc9:cam", owner="alice") == camera
    assert store.counters["transactions"] == transactions  # answered by the read alone


@given(st.integers(min_value=0, max_value=64), st.sampled_from([string.digits, "ab", "x" * 200]))
def test_random_text_draws_from_its_alphabet(length: int, alphabet: str) -> None:
    text = random_text(length, alphabet)
    assert len(text) == length and set(text) <= set(alphabet)


def test_random_text_uses_the_whole_alphabet_evenly() -> None:
    # 62 characters (a p2p key's) do not divide 256: a folded byte would favour the first ones.
    alphabet = string.ascii_letters + string.digits
    drawn = random_text(62 * 400, alphabet)
    counts = [drawn.count(char) for char in alphabet]
    # Each count is binomial (mean 400, sd ~20): 320 and 480 are four deviations away, while a
    # modulo fold (bytes 248-255 onto the first 8 characters) would lift those to ~450 on average.
    assert min(counts) > 320 and max(counts) < 480
    first, rest = sum(counts[:8]) / 8, sum(counts[8:]) / 54
    assert abs(first - rest) < 30


# -- grouped writes ride along with the next store call -----------------------------------------


@pytest.fixture
async def async_store(tmp_path: Path) -> AsyncIterator[AsyncStore]:
    sync = Store(tmp_path / "db.sqlite3", hasher=FAST_HASHER)
    sync.add_account("alice", PASSWORD)
    opened = AsyncStore(sync)
    yield opened
    await opened.close()


async def test_a_call_after_written_behind_changes_sees_them(async_store: AsyncStore) -> None:
    camera = await async_store.upsert_camera(mac=MAC, owner="alice")
    for index in range(20):
        async_store.camera_online(camera, ip=f"192.0.2.{index}")
        await async_store.log_session(camera.id, "alice", "camera", "192.0.2.1:1", f"login {index}")
        stored = await async_store.get_camera(camera.id)
        assert stored is not None and stored.online and stored.last_ip == f"192.0.2.{index}"
        assert (await async_store.list_sessions(camera.id, limit=1))[0].event == f"login {index}"
    # Each read took the writes before it along: no commit needed a trip of its own.
    assert async_store.write_counters["batches_committed"] == 20


async def test_written_behind_changes_are_committed_without_any_further_call(
    async_store: AsyncStore, tmp_path: Path
) -> None:
    camera = await async_store.upsert_camera(mac=MAC, owner="alice")
    async_store.camera_online(camera, ip="192.0.2.9")
    with Store(tmp_path / "db.sqlite3", hasher=FAST_HASHER) as other_process:

        async def committed() -> bool:
            stored = await asyncio.to_thread(other_process.get_camera, camera.id)
            return stored is not None and stored.online

        async with asyncio.timeout(10):
            while not await committed():  # noqa: ASYNC110 - nothing to await on another process
                await asyncio.sleep(0.01)
    assert async_store.write_counters["batches_committed"] == 1


async def test_close_commits_what_is_still_gathering(tmp_path: Path) -> None:
    sync = Store(tmp_path / "db.sqlite3", hasher=FAST_HASHER)
    sync.add_account("alice", PASSWORD)
    camera = sync.upsert_camera(mac=MAC, owner="alice")
    store = AsyncStore(sync)
    store.camera_online(camera, ip="192.0.2.7")
    await store.close()  # at once: the gathering delay has not passed
    with Store(tmp_path / "db.sqlite3", hasher=FAST_HASHER) as reopened:
        stored = reopened.get_camera(camera.id)
        assert stored is not None and stored.online and stored.last_ip == "192.0.2.7"
