"""GENA as the WeMo sensor speaks it: subscription answers and NOTIFY property sets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.wemo.gena import (
    GenaError,
    Subscription,
    motion_state,
    notified_properties,
    parse_subscription,
    subscribe_headers,
)


def propertyset(state: str) -> bytes:
    return (
        '<?xml version="1.0"?><e:propertyset xmlns:e="urn:schemas-upnp-org:event-1-0">'
        f"<e:property><BinaryState>{state}</BinaryState></e:property></e:propertyset>"
    ).encode()


def test_motion_state_from_a_property_set() -> None:
    assert motion_state(notified_properties(propertyset("1"))) is True
    assert motion_state(notified_properties(propertyset("0|1234|0"))) is False
    assert motion_state({"FriendlyName": "cam"}) is None
    with pytest.raises(GenaError):
        motion_state({"BinaryState": "8"})


def test_subscriptions() -> None:
    assert subscribe_headers("http://h/cb")["CALLBACK"] == "<http://h/cb>"
    assert parse_subscription("uuid:1", "Second-1800") == Subscription("uuid:1", 1800)
    assert parse_subscription("uuid:1", "Second-1").seconds == 30
    assert parse_subscription("uuid:1", "infinite").seconds == 86400
    assert parse_subscription("uuid:1", None).seconds == 600
    for sid, timeout in (("1", "Second-5"), ("uuid:1", "soon"), (None, None)):
        with pytest.raises(GenaError):
            parse_subscription(sid, timeout)


def test_hostile_documents_are_refused() -> None:
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><e:propertyset xmlns:e="e">&a;</e:propertyset>'
    for body in (bomb, b"<other/>", b"not xml", b"<x>" * 10_000):
        with pytest.raises(GenaError):
            notified_properties(body)


@given(st.binary(max_size=2000))
def test_any_notification_parses_or_raises_gena_error(body: bytes) -> None:
    try:
        motion_state(notified_properties(body))
    except GenaError:
        pass


@given(st.text(max_size=200), st.one_of(st.none(), st.text(max_size=60)))
def test_any_subscription_answer_parses_or_raises_gena_error(sid: str, timeout: str | None) -> None:
    try:
        parse_subscription(sid, timeout)
    except GenaError:
        pass
