"""Broker benchmark (run by hand): N simulated cameras against the broker and, in the same run,
against a minimal CXNet responder as the reference; each server in its own process pinned to
one CPU.

    python bench/broker/run.py [--cameras 2000] [--login-rate 500] [--window 30]

For each server it measures login p50/p99, the server's CPU share while only keepalives flow,
command round trips per second and RSS per session, then prints them side by side with the
ratio broker/reference. The reference (ReferenceResponder) frames with the project's codec and
does the least these clients accept: a fixed login reply, keepalive answers, commands passed
between an app and a camera; no store, session bookkeeping, capture or policy. Loopback only;
every phase has a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# Runs from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fakecloud.broker import Broker
from fakecloud.core.config import Settings
from fakecloud.frontdoor.connection import ConnectionInfo
from fakecloud.net.cxnet import Action, CXNetError, Frame, FrameDecoder, encode_frame
from fakecloud.net.properties import PropertiesError, encode_properties, parse_properties
from fakecloud.sim.app import SimulatedApp
from fakecloud.sim.demo import demo_cameras
from fakecloud.store import AsyncStore, Store

LOGIN, PASSWORD = "bench", "bench password"
SERVERS = ("broker", "reference")
HOST = "127.0.0.1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# A server process ends by itself after this long, whatever the parent does.
SERVER_LIFETIME = 180.0
LOGIN_DEADLINE = 120.0
STOP_DEADLINE = 30.0
READ_CHUNK = 64 * 1024


def raise_file_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- the reference responder --------------------------------------------------------------------

REFERENCE_SESSION = b"fakecloud-bench!"  # one fixed 16-byte session block for every client
KEEPALIVE_ANSWER = encode_frame(Frame(action=Action.KEEPALIVE, session=REFERENCE_SESSION))
UNKNOWN_TARGET = encode_frame(
    Frame(
        action=Action.ERROR,
        session=REFERENCE_SESSION,
        body=encode_properties({"error": "offline", "reason": "no such camera"}),
    )
)


@dataclass(slots=True, eq=False)
class _Peer:
    writer: asyncio.StreamWriter
    asker: asyncio.StreamWriter | None = None  # the app that last sent this camera a command


class ReferenceResponder:
    """The least a CXNet server does for the simulators: framing by fakecloud.net.cxnet, a
    fixed login reply (sid and session-id; cameras also get a numbered device-id, which is what
    commands address them by), keepalive answers, app commands forwarded to the camera named in
    CX_DSTID and that camera's commands forwarded to the app that last asked it."""

    def __init__(self) -> None:
        self.cameras: dict[int, _Peer] = {}
        self.logins = 0

    def _welcome(self, options: bytes) -> tuple[bytes, _Peer | None, int]:
        self.logins += 1
        reply = {"sid": REFERENCE_SESSION.hex(), "session-id": REFERENCE_SESSION.hex()}
        if "mac" in parse_properties(options):
            reply["device-id"] = str(self.logins)
        body = encode_properties(reply)
        frame = Frame(action=Action.LOGIN, session=REFERENCE_SESSION, body=body)
        return encode_frame(frame), None, self.logins

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder = FrameDecoder()
        me = _Peer(writer)
        camera_id: int | None = None
        try:
            while data := await reader.read(READ_CHUNK):
                for frame in decoder.feed(data):
                    if frame.action == Action.KEEPALIVE:
                        writer.write(KEEPALIVE_ANSWER)
                    elif frame.action == Action.COMMAND:
                        self._command(me, frame, camera_id is not None)
                    elif frame.action == Action.LOGIN:
                        options = parse_properties(frame.options)
                        self.logins += 1
                        reply = {"sid": REFERENCE_SESSION.hex(), "session-id": REFERENCE_SESSION.hex()}
                        if "mac" in options:
                            camera_id = self.logins
                            self.cameras[camera_id] = me
                            reply["device-id"] = str(camera_id)
                        writer.write(
                            encode_frame(
                                Frame(
                                    action=Action.LOGIN,
                                    session=REFERENCE_SESSION,
                                    body=encode_properties(reply),
                                )
                            )
                        )
        except (CXNetError, PropertiesError, ConnectionError, OSError):
            pass
        finally:
            if camera_id is not None:
                self.cameras.pop(camera_id, None)
            writer.close()

    def _command(self, sender: _Peer, frame: Frame, from_camera: bool) -> None:
        if from_camera:
            if sender.asker is not None and not sender.asker.is_closing():
                sender.asker.write(encode_frame(frame))
            return
        destination = parse_properties(frame.options).get("CX_DSTID") or ""
        head = destination.split(":", 1)[0]
        camera = self.cameras.get(int(head)) if head.isdigit() else None
        if camera is None or camera.writer.is_closing():
            sender.writer.write(UNKNOWN_TARGET)
            return
        camera.asker = sender.writer
        camera.writer.write(encode_frame(frame))
