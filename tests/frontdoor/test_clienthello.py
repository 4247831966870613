from __future__ import annotations

import ssl
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.frontdoor.clienthello import ClientHelloError, server_name


def real_client_hello(server_hostname: str | None) -> bytes:
    """The first record Python's own TLS client sends (OpenSSL builds it)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    return outgoing.read()


def built_client_hello(extensions: bytes, *, with_extensions: bool = True) -> bytes:
    body = b"\x03\x01" + bytes(32) + b"\x00" + b"\x00\x02\x00\x2f" + b"\x01\x00"
    if with_extensions:
        body += struct.pack(">H", len(extensions)) + extensions
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack(">H", len(handshake)) + handshake


def sni_extension(name: bytes, name_type: int = 0) -> bytes:
    entry = bytes([name_type]) + struct.pack(">H", len(name)) + name
    names = struct.pack(">H", len(entry)) + entry
    return struct.pack(">HH", 0, len(names)) + names


def test_reads_the_name_python_sends() -> None:
    assert server_name(real_client_hello("Server.Seedonk.com")) == "server.seedonk.com"


def test_no_sni_is_none() -> None:
    assert server_name(real_client_hello(None)) is None


def test_hello_without_extensions_is_none() -> None:
    assert server_name(built_client_hello(b"", with_extensions=False)) is None


def test_sni_after_other_extensions() -> None:
    other = struct.pack(">HH", 0x000B, 2) + b"\x01\x00"
    assert server_name(built_client_hello(other + sni_extension(b"a.example"))) == "a.example"


def test_non_host_name_entries_are_skipped() -> None:
    assert server_name(built_client_hello(sni_extension(b"x", name_type=7))) is None


@pytest.mark.parametrize(
    "record",
    [
        b"",
        b"\x17\x03\x01\x00\x00",
        b"\x16\x03\x01\x00\x04\x02\x00\x00\x00",
        built_client_hello(sni_extension(b"caf\xc3\xa9.example")),
        built_client_hello(sni_extension(b"")),
        built_client_hello(sni_extension(b"bad\nname")),
    ],
)
def test_malformed_hellos_raise_their_own_error(record: bytes) -> None:
    with pytest.raises(ClientHelloError):
        server_name(record)


def test_every_truncation_of_a_real_hello_raises_or_answers() -> None:
    hello = real_client_hello("server.seedonk.com")
    for end in range(len(hello)):
        try:
            name = server_name(hello[:end])
        except ClientHelloError:
            continue
        assert name in (None, "server.seedonk.com")


@given(st.binary(max_size=600))
def test_fuzz_only_client_hello_errors(data: bytes) -> None:
    try:
        name = server_name(data)
    except ClientHelloError:
        return
    assert name is None or isinstance(name, str)


@given(st.binary(max_size=300))
def test_fuzz_inside_a_valid_frame(extensions: bytes) -> None:
    try:
        server_name(built_client_hello(extensions))
    except ClientHelloError:
        pass


@given(st.from_regex(r"[a-z0-9]([a-z0-9.-]{0,60}[a-z0-9])?", fullmatch=True))
def test_round_trip(name: str) -> None:
    assert server_name(built_client_hello(sni_extension(name.encode()))) == name
