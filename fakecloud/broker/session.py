"""One logged-in CXNet connection and what the broker needs to talk back to it."""

from __future__ import annotations

import asyncio
import logging
import secrets
import string
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from fakecloud.broker.login import Role
from fakecloud.net.cxnet import CXNetError, Frame, encode_frame
from fakecloud.net.sdnk import ID_SIZE
from fakecloud.store.models import Camera

log = logging.getLogger(__name__)

# A peer that stops reading while we keep writing is cut off rather than buffered without end.
MAX_WRITE_BUFFER = 1 << 20

# An app session's alias: `<account alias>-<random letters and digits>`, filling the bytes an
# SDNK id has after its `V_` (ids are cut to 32 bytes, so more would be lost).
SESSION_ALIAS_BYTES = ID_SIZE - len("V_")
SESSION_ALIAS_SEPARATOR = "-"
# At least 16 random characters of 36 (82 bits) even for a long account alias.
MIN_SESSION_ALIAS_RANDOM = 16
_SESSION_ALIAS_ALPHABET = string.ascii_lowercase + string.digits


def new_session_alias(account_alias: str) -> str:
    """A fresh alias for one app session (docs/relay.md, "Who may watch").

    Security consideration: the relay accepts an R-style viewer only under this alias, so it
    must be unguessable (a 6-letter account alias leaves 23 random characters, 118 bits); it
    starts with the account alias only so that logs and captures show whose it is."""
    room = SESSION_ALIAS_BYTES - len(SESSION_ALIAS_SEPARATOR)
    prefix = account_alias[: room - MIN_SESSION_ALIAS_RANDOM]
    random_part = "".join(
        secrets.choice(_SESSION_ALIAS_ALPHABET) for _ in range(room - len(prefix))
    )
    return f"{prefix}{SESSION_ALIAS_SEPARATOR}{random_part}"


class ConnectionInfoLike(Protocol):
    """The front door's ConnectionInfo(id, peer, local_port, tls, sni, local_address)."""

    @property
    def id(self) -> str: ...
    @property
    def peer(self) -> tuple[str, int]: ...
    @property
    def local_port(self) -> int: ...
    @property
    def tls(self) -> bool: ...
    @property
    def sni(self) -> str | None: ...
    @property
    def local_address(self) -> str: ...
    def mark_authenticated(self) -> None: ...


@dataclass(eq=False)
class Session:
    """A client the broker has accepted; `block` is the 16-byte session id it reuses."""

    info: ConnectionInfoLike
    writer: asyncio.StreamWriter
    block: bytes
    role: Role
    login: str | None
    camera: Camera | None = None  # when the session is bound to one
    # The account's alias (an app's own, or an owned camera's owner's), as REST shows it.
    account_alias: str | None = None
    # This app session's own alias (`new_session_alias`), when Settings.session_aliases is on.
    session_alias: str | None = None
    # Header values the client used last; our frames to it mirror them (R and K differ).
    header: Frame = field(default_factory=lambda: Frame(action=0))
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def reply_alias(self) -> str | None:
        """The `alias` of the login reply: R names itself by it in commands and SDNK ids."""
        return self.session_alias or self.account_alias or self.login

    @property
    def peer_host(self) -> str:
        return self.info.peer[0]

    @property
    def camera_id(self) -> int | None:
        return self.camera.id if self.camera is not None else None

    def describe(self) -> str:
        if self.camera is not None:
            return f"camera {self.camera.mac}"
        if self.role == "camera":
            return f"unidentified device at {self.peer_host}"
        return f"app {self.login or '?'} at {self.peer_host}"

    def frame(self, action: int, **fields: Any) -> Frame:
        """A frame to this client, shaped like the ones it sends."""
        return replace(self.header, action=action, session=self.block, **fields)

    def send(self, frame: Frame) -> bool:
        """Queue a frame without waiting; False (and the connection dropped) if it cannot go."""
        if self.writer.is_closing():
            return False
        try:
            self.writer.write(encode_frame(frame))
        except CXNetError as error:
            log.warning("cannot send a frame to %s: %s", self.describe(), error)
            return False
        if self.writer.transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            log.warning("%s is not reading; dropping its connection", self.describe())
            self.writer.transport.abort()
            return False
        return True
