"""Forwarding: media from the camera to every proven viewer and tap, and back to the camera.

Camera → every viewer socket on the same channel and, on channel 0, every tap; viewer → the
camera's socket for that channel (RTCP reports, talkback), except an RTCP BYE, which ends the
viewer's session. Every sink takes a datagram without waiting, so one slow receiver never delays
the others.
"""

from __future__ import annotations

import time

from fakecloud.net.rtp import is_bye
from fakecloud.relay.accounting import RelayAccounting
from fakecloud.relay.sessions import CONTROL_CHANNEL, Endpoint
from fakecloud.relay.sinks import Sink
from fakecloud.relay.table import SessionTable


class Forwarder:
    def __init__(self, table: SessionTable, accounting: RelayAccounting) -> None:
        self._table = table
        self._drops = accounting.drops
        self.datagrams = 0
        self.bytes = 0

    def forward(self, source: Endpoint, data: bytes) -> None:
        source.heard(time.monotonic())
        stream = source.stream
        if not source.proven:
            self._drops["unproven"] += 1
            return
        if source.role == "camera":
            # Security consideration: media goes only to sockets that proved their address.
            receivers: list[Sink] = [
                viewer.sink for viewer in stream.viewers.get(source.channel, ()) if viewer.proven
            ]
            if source.channel == 0:
                receivers.extend(stream.taps)
        else:
            if source.channel == CONTROL_CHANNEL and is_bye(data) and source.session is not None:
                # The viewer leaves (docs/protocol.md section 9). The camera does not hear the BYE:
                # whoever decides who watches tells it to stop once nobody does.
                self._table.expire(source.session, "bye")
                return
            camera = stream.cameras.get(source.channel)
            if camera is None:
                self._drops["no_camera"] += 1
                return
            receivers = [camera.sink]
        for receiver in receivers:
            if receiver.send(data):
                self.datagrams += 1
                self.bytes += len(data)
            else:
                self._drops["queue_full"] += 1
