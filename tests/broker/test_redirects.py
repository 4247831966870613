"""The redirect decision's parts: return signals, targets, and the bounded fallback memory."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from fakecloud.broker.redirects import (
    MAX_PER_KEY,
    MAX_REMEMBERED_KEYS,
    REDIRECT_WINDOW,
    CredentialFingerprints,
    RedirectMemory,
    ReturnPaths,
)

TOKEN = "myQ.accessToken:secret-token"
PATHS = ReturnPaths("broker.seedonk.com", 5105, "127.0.0.2", own_address=True)


@dataclass(frozen=True)
class Info:
    local_port: int = 5104
    sni: str | None = "server.tend-us.tendplatform.com"
    local_address: str = "127.0.0.1"
    tls: bool = True
    id: str = "t"
    peer: tuple[str, int] = ("127.0.0.1", 40000)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_return_signals() -> None:
    assert not PATHS.is_return(Info())
    assert PATHS.is_return(Info(local_port=5105))
    assert PATHS.is_return(Info(sni="Broker.Seedonk.com."))
    assert PATHS.is_return(Info(local_address="127.0.0.2"))
    assert PATHS.is_return(Info(local_address="::ffff:127.0.0.2"))
    one_address = ReturnPaths("broker.seedonk.com", 0, "127.0.0.1", own_address=False)
    assert not one_address.is_return(Info(local_address="127.0.0.1", local_port=5105))


def test_targets_name_a_host_unless_the_client_gave_no_name() -> None:
    assert PATHS.target(Info()) == ("broker.seedonk.com", 5105)
    assert PATHS.target(Info(sni=None)) == ("127.0.0.2", 5105)
    assert PATHS.target(Info(tls=False, sni=None)) == ("broker.seedonk.com", 5105)
    same_port = ReturnPaths("broker.seedonk.com", 0, "127.0.0.1", own_address=False)
    assert same_port.target(Info(local_port=443)) == ("broker.seedonk.com", 443)


def test_a_redirect_is_claimed_once_after_the_hold_off_and_forgotten_after_the_window() -> None:
    clock = Clock()
    memory = RedirectMemory(hold_off=0.1, clock=clock)
    key = ("127.0.0.1", b"f", "app")
    memory.remember(key)
    assert not memory.claim(key)  # "at the same moment": a second client, not the return
    clock.now += 0.3
    assert memory.claim(key) and not memory.claim(key)
    memory.remember(key)
    clock.now += REDIRECT_WINDOW + 0.01  # abandoned: forgotten
    assert not memory.claim(key) and len(memory) == 0
    memory.remember(key)
    memory.forget_one(key)  # came back by a stateless path
    clock.now += 0.3
    assert not memory.claim(key)


@given(st.lists(st.tuples(st.integers(0, 5000), st.sampled_from("rcf"), st.floats(0, 3))))
def test_the_memory_stays_bounded(operations: list[tuple[int, str, float]]) -> None:
    clock = Clock()
    memory = RedirectMemory(clock=clock)
    for number, operation, elapsed in operations:
        clock.now += elapsed
        key = (f"10.0.{number % 256}.{number // 256}", b"x", "app")
        if operation == "r":
            memory.remember(key)
        elif operation == "c":
            memory.claim(key)
        else:
            memory.forget_one(key)
        assert len(memory) <= MAX_REMEMBERED_KEYS * MAX_PER_KEY


def test_the_memory_keeps_at_most_its_capacity_of_keys() -> None:
    clock = Clock()
    memory = RedirectMemory(clock=clock)
    for number in range(MAX_REMEMBERED_KEYS + 100):
        memory.remember((str(number), b"x", "app"))
    for _ in range(MAX_PER_KEY + 5):
        memory.remember(("one", b"x", "app"))
    assert len(memory) == MAX_REMEMBERED_KEYS - 1 + MAX_PER_KEY
    clock.now += 0.5
    assert not memory.claim(("0", b"x", "app"))  # the oldest key was dropped
    assert memory.claim((str(MAX_REMEMBERED_KEYS + 99), b"x", "app"))


def test_fingerprints_hide_the_secret_and_tell_credentials_apart() -> None:
    fingerprints = CredentialFingerprints()
    key = fingerprints.key("127.0.0.1", "app", "", "myQ.accessToken:secret-token")
    assert key == fingerprints.key("127.0.0.1", "app", "", "myQ.accessToken:secret-token")
    assert b"secret" not in key[1] and len(key[1]) == 16
    assert key != fingerprints.key("127.0.0.1", "app", "", "myQ.accessToken:other-token")
    assert key != fingerprints.key("127.0.0.1", "camera", "", "myQ.accessToken:secret-token")
    assert key != CredentialFingerprints().key("127.0.0.1", "app", "", TOKEN)
