"""The relay's side of the SDNK handshake: PEERS, PUNCH/CONNECT answers and the punch proof.

In "relay" peer mode the relay names itself as each end's peer and answers PUNCH/CONNECT like a
peer would, so both public clients' state machines complete; towards the camera it plays the
viewer's REQ_PUNCH. In "direct" mode PEERS names the real counterpart. Every answer goes out
through `reply`, which rate limits it and holds an unproven socket to its byte credit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from fakecloud.net.sdnk import Address, Connect, Connected, Peers, Punch, RelayAck, SdnkPacket
from fakecloud.relay.accounting import RelayAccounting
from fakecloud.relay.proof import AddressProof
from fakecloud.relay.sessions import Endpoint, Stream
from fakecloud.relay.sinks import UdpSink
from fakecloud.relay.table import SessionTable

PeerMode = Literal["relay", "direct"]

# R's viewer sends CONNECT counters 7 to 12; the camera is said to wait for those counters on
# both channels before it sends video [I, from R's comments].
CONNECT_COUNTERS = range(7, 13)
# K answers every PUNCH with three PUNCHes; capping our answers keeps that from ping-ponging.
MAX_PUNCH_REPLIES = 16
# A late PUNCH with sequence 2 follows the first CONNECT (what R's viewer does for the camera).
LATE_PUNCH_SEQUENCE = 2
# The relay plays the viewer's REQ_PUNCH towards the camera with R's two sequence numbers.
INVITE_SEQUENCES = (0, 1)


class Handshake:
    def __init__(
        self,
        table: SessionTable,
        accounting: RelayAccounting,
        peer_mode: PeerMode,
        relay_address: Callable[[], Address],
    ) -> None:
        self._table = table
        self._accounting = accounting
        self._drops = accounting.drops
        self.peer_mode = peer_mode
        self._relay_address = relay_address

    def require_proof(self, endpoint: Endpoint, received: int) -> None:
        """A UDP viewer must show it receives at its source address before it gets media; a TCP
        connection already did (its handshake), so its session has started; the camera is bound
        to its broker address. `received`: the bytes it sent so far (its REGISTER), which it may
        be answered with."""
        if isinstance(endpoint.sink, UdpSink):
            endpoint.proof = AddressProof.after(received)
        else:
            self._table.viewer_proven(endpoint)

    def challenge(self, endpoint: Endpoint) -> None:
        """Send the outstanding random CONNECT byte an unproven socket must echo."""
        if endpoint.proof is not None:
            self.reply(endpoint, Connect(endpoint.proof.outstanding()).encode())

    def _check_echo(self, endpoint: Endpoint, proof: AddressProof, echo: int | None) -> None:
        verdict = proof.check(echo)
        if verdict == "next_round":
            self.challenge(endpoint)
        elif verdict == "failed":
            self._drops["proof_failed"] += 1
        elif verdict == "proven":
            endpoint.proof = None
            endpoint.heard(time.monotonic())
            self._table.viewer_proven(endpoint)
            if self.peer_mode == "direct":
                for counterpart in self.counterparts(endpoint):
                    self.send_peers(counterpart)
            self.invite_camera(endpoint.stream, endpoint.channel)

    def invite_camera(self, stream: Stream, channel: int) -> None:
        """Punch the camera on a channel once someone watches there, as the viewer's REQ_PUNCH
        would: a camera waits for both channels before it sends video [I, R's notes]."""
        camera = stream.cameras.get(channel)
        if self.peer_mode != "relay" or camera is None:
            return
        if stream.taps or any(viewer.proven for viewer in stream.viewers.get(channel, ())):
            self.reply(camera, *(Punch(seq, camera.reply_ids).encode() for seq in INVITE_SEQUENCES))

    def counterparts(self, endpoint: Endpoint, proven_only: bool = True) -> list[Endpoint]:
        stream = endpoint.stream
        if endpoint.role == "viewer":
            camera = stream.cameras.get(endpoint.channel)
            return [camera] if camera is not None else []
        # Security consideration: the camera is told only of viewers that proved their address.
        viewers = stream.viewers.get(endpoint.channel, ())
        return [viewer for viewer in viewers if viewer.proven or not proven_only]

    def send_peers(self, endpoint: Endpoint) -> None:
        ack = RelayAck(endpoint.channel, endpoint.kind, endpoint.reply_ids)
        if self.peer_mode == "relay":
            # The relay in every slot: K punches the first slot whose host is the camera's LAN
            # address (LIP), so the receiver's own address there would make K punch itself
            # whenever it shares the camera's host (on loopback, always).
            relay = self._relay_address()
            peers = Peers((relay, relay, relay, relay))
        else:
            counterparts = self.counterparts(endpoint)
            if not counterparts:
                return  # PEERS waits until the other end has registered
            newest = max(counterparts, key=lambda e: e.last_seen)
            # Direct mode hands each end one counterpart: the public address when it differs
            # from the LAN one (different networks), else the LAN one.
            peer = newest.public if newest.public.host != newest.lan.host else newest.lan
            peers = Peers.between(endpoint.lan, endpoint.public, peer)
        if endpoint.proven:
            self.reply(endpoint, ack.encode(), peers.encode())
        else:
            # Neither public client reads the relay's RELAY_ACK; an unproven socket gets only
            # what it needs, within its byte credit.
            self.reply(endpoint, peers.encode())

    def answer(self, endpoint: Endpoint, packet: SdnkPacket, data: bytes) -> None:
        """Play the peer's part so both public clients' state machines complete."""
        proof = endpoint.proof
        match packet:
            case RelayAck():
                endpoint.acknowledged = True
                self.challenge(endpoint)
            case Connected(echo=echo):
                if proof is None:
                    endpoint.connected = True
                else:
                    self._check_echo(endpoint, proof, echo)
            case Punch(sequence=sequence):
                if endpoint.punches_answered >= MAX_PUNCH_REPLIES:
                    return
                endpoint.punches_answered += 1
                self.reply(endpoint, Punch(sequence, endpoint.reply_ids).encode())
                if proof is not None:
                    self.challenge(endpoint)
                elif endpoint.connects_sent < len(CONNECT_COUNTERS):
                    counter = CONNECT_COUNTERS[endpoint.connects_sent]
                    endpoint.connects_sent += 1
                    self.reply(endpoint, Connect(counter, header_counter=counter).encode())
            case Connect() if proof is not None:
                # CONNECTED ("I hear you") only once proven: K keeps punching until then.
                self.challenge(endpoint)
            case Connect(counter=counter):
                # K answers an empty CONNECT with 1; do the same.
                replies = [Connected(1 if counter is None else counter).encode()]
                if not endpoint.sent_late_punch:
                    endpoint.sent_late_punch = True
                    replies.append(Punch(LATE_PUNCH_SEQUENCE, endpoint.reply_ids).encode())
                self.reply(endpoint, *replies)
            case _:
                self._accounting.drop("unexpected_packet", data, endpoint.public)

    def reply(self, endpoint: Endpoint, *datagrams: bytes) -> None:
        # Security consideration: replies are rate limited per endpoint, and an unproven one is
        # sent no more bytes than it sent (plus UNPROVEN_ALLOWANCE), so a spoofed source cannot
        # turn the relay into a reflector or an amplifier.
        if not endpoint.replies.take():
            self._drops["reply_rate"] += 1
            return
        for datagram in datagrams:
            if endpoint.proof is not None and not endpoint.proof.spend(len(datagram)):
                self._drops["unproven_credit"] += 1
                return
            endpoint.sink.send(datagram)
