"""Read the server name (SNI) from the first TLS record a client sends.

The front door reads it before the handshake so that every connection, including one whose
handshake fails, is logged and captured with the name the client asked for; the shared TLS
context is never touched per connection. Pure: bytes in, a name out, ClientHelloError on bad input.
"""

from __future__ import annotations

HANDSHAKE_RECORD = 0x16
CLIENT_HELLO = 0x01
SERVER_NAME_EXTENSION = 0x0000
HOST_NAME_TYPE = 0x00
_RANDOM_BYTES = 32


class ClientHelloError(ValueError):
    """The bytes are not a well-formed ClientHello (or are cut off before its extensions end)."""


class _Cursor:
    def __init__(self, data: bytes):
        self._data = data
        self._offset = 0

    def take(self, count: int) -> bytes:
        end = self._offset + count
        if end > len(self._data):
            raise ClientHelloError(f"needs {end} bytes, has {len(self._data)}")
        chunk = self._data[self._offset : end]
        self._offset = end
        return chunk

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, length_size: int) -> _Cursor:
        return _Cursor(self.take(self.number(length_size)))

    @property
    def exhausted(self) -> bool:
        return self._offset >= len(self._data)


def server_name(record: bytes) -> str | None:
    """The host name in the SNI extension of the ClientHello in `record` (a whole TLS record,
    header included), or None when the client sent no SNI."""
    outer = _Cursor(bytes(record))
    if outer.number(1) != HANDSHAKE_RECORD:
        raise ClientHelloError("not a TLS handshake record")
    outer.take(2)  # record-layer version: clients put anything from 3.0 to 3.3 here
    handshake = outer.vector(2)
    if handshake.number(1) != CLIENT_HELLO:
        raise ClientHelloError("first handshake message is not a ClientHello")
    hello = handshake.vector(3)
    hello.take(2 + _RANDOM_BYTES)  # client_version, random
    hello.vector(1)  # session id
    hello.vector(2)  # cipher suites
    hello.vector(1)  # compression methods
    if hello.exhausted:
        return None  # a pre-extension (SSL 3.0 style) hello carries no SNI
    extensions = hello.vector(2)
    while not extensions.exhausted:
        extension_type = extensions.number(2)
        body = extensions.vector(2)
        if extension_type == SERVER_NAME_EXTENSION:
            return _host_name(body)
    return None


def _host_name(body: _Cursor) -> str | None:
    names = body.vector(2)
    while not names.exhausted:
        name_type = names.number(1)
        name = names.take(names.number(2))
        if name_type == HOST_NAME_TYPE:
            try:
                text = name.decode("ascii")
            except UnicodeDecodeError:
                raise ClientHelloError("server name is not ASCII") from None
            if not text or not text.isprintable():
                raise ClientHelloError("server name is empty or has control characters")
            return text.lower()
    return None
