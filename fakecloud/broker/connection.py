"""One connection's state while the broker serves it, and the answers that end or refuse."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import NoReturn

from fakecloud.broker.session import ConnectionInfoLike, Session
from fakecloud.core.rates import TokenBucket
from fakecloud.net.cxnet import Action, CXNetError, Frame, encode_frame
from fakecloud.net.properties import encode_properties

# How long a last answer may take to leave before the connection closes anyway (seconds).
LAST_ANSWER_TIMEOUT = 5


class CloseConnection(Exception):
    """Stop serving this connection (the reason has been logged or answered)."""


@dataclass(slots=True)
class ConnectionState:
    info: ConnectionInfoLike
    writer: asyncio.StreamWriter
    login_deadline: float
    # a session's frames (refilled at session_frame_rate), and the drops tolerated beyond it
    frame_budget: TokenBucket
    flood_budget: TokenBucket
    session: Session | None = None
    frames_before_login: int = 0
    frames_dropped: int = 0
    end_reason: str = "connection closed"
    reader: asyncio.StreamReader | None = None  # to tell whether a waiting login still waits


def replace_frame(frame: Frame, action: int, body: bytes) -> Frame:
    """An answer shaped like `frame` (same version, service, crypto) before a session exists."""
    return Frame(
        action=action,
        body=body,
        version=frame.version,
        service=frame.service,
        crypto=frame.crypto,
        server_id=frame.server_id,
    )


async def reply_and_close(state: ConnectionState, frame: Frame) -> NoReturn:
    """Send a last answer, then end the connection (raises CloseConnection)."""
    with contextlib.suppress(ConnectionError, OSError, CXNetError):
        state.writer.write(encode_frame(frame))
        async with asyncio.timeout(LAST_ANSWER_TIMEOUT):
            await state.writer.drain()
    state.end_reason = "closed by broker"
    raise CloseConnection


async def refuse(state: ConnectionState, frame: Frame, code: str, reason: str) -> NoReturn:
    """Answer an error to a connection that has no session yet, and close it."""
    body = encode_properties({"error": code, "reason": reason})
    await reply_and_close(state, replace_frame(frame, Action.ERROR, body))


def send_error(session: Session, code: str, reason: str, correlation: str | None = None) -> None:
    """Answer an error to a logged-in session (which stays open)."""
    options = encode_properties({"CorrelationID": correlation}) if correlation else b""
    body = encode_properties({"error": code, "reason": reason})
    session.send(session.frame(Action.ERROR, options=options, body=body, to=0))
