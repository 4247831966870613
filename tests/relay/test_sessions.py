"""SDNK ids and addresses as the relay names them (pure functions)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.net.sdnk import ID_SIZE
from fakecloud.relay.sessions import MediaKind, datagram_host, media_id, media_ids

kinds: st.SearchStrategy[MediaKind] = st.sampled_from(["video", "audio"])
ascii_names = st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=60)


@given(kinds, ascii_names)
def test_a_media_id_is_the_kind_letter_and_the_name_cut_to_an_sdnk_id(kind: str, name: str) -> None:
    value = media_id(kind, name)
    full = ("V_" if kind == "video" else "A_") + name
    assert value == full[:ID_SIZE] and len(value) <= ID_SIZE


@given(st.text(min_size=1, max_size=10).filter(lambda t: not t.isascii() or "\x00" in t))
def test_a_name_that_cannot_be_an_id_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="SDNK id"):
        media_id("video", name)


@given(st.lists(ascii_names, min_size=1, max_size=8))
def test_media_ids_are_distinct_and_keep_the_first_first(names: list[str]) -> None:
    ids = media_ids("video", names)
    assert ids[0] == media_id("video", names[0])
    assert len(set(ids)) == len(ids)
    assert set(ids) == {media_id("video", name) for name in names}


@given(st.ip_addresses(v=4))
def test_an_ipv4_mapped_peer_is_its_ipv4_address(address: ipaddress.IPv4Address) -> None:
    mapped = f"::ffff:{address}"
    assert datagram_host(mapped) == datagram_host(str(address)) == str(address)


@given(st.one_of(st.ip_addresses().map(str), st.text(max_size=30)))
def test_datagram_host_is_stable(address: str) -> None:
    once = datagram_host(address)
    assert once is not None and datagram_host(once) == once


def test_no_address_stays_none() -> None:
    assert datagram_host(None) is None
