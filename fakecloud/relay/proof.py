"""The punch proof: a UDP viewer socket shows it receives at its source address (pure, no I/O).

The relay sends an unproven socket random CONNECT bytes, one at a time; both public clients
answer every CONNECT with CONNECTED echoing its byte. `PROOF_ROUNDS` right echoes in a row prove
the address. Until then the socket may be sent no more bytes than it sent the relay (plus
`UNPROVEN_ALLOWANCE`), so a spoofed source cannot aim anything large at a third party.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Literal

# A UDP viewer socket proves it receives at its source address by echoing this many random
# CONNECT bytes in a row (both public clients answer every CONNECT with CONNECTED echoing its byte).
PROOF_ROUNDS = 4
# Bytes an unproven socket may be sent beyond what it sent: PEERS (130) answers REGISTER (111).
UNPROVEN_ALLOWANCE = 32
CHALLENGE_VALUES = range(256)  # a CONNECT carries one byte

# What an echo did: asked for the next round, completed the proof, was a late duplicate of an
# answered round (ignored), or was wrong (the attempt starts over).
EchoVerdict = Literal["next_round", "proven", "duplicate", "failed"]


@dataclass(slots=True)
class AddressProof:
    """One unproven socket's attempt: its byte credit and the challenges it has echoed."""

    credit: int
    challenge: int | None = None
    answered: list[int] = field(default_factory=list)

    @classmethod
    def after(cls, received: int) -> AddressProof:
        """A proof owed by a socket that has sent `received` bytes so far (its REGISTER)."""
        return cls(credit=received + UNPROVEN_ALLOWANCE)

    def received(self, size: int) -> None:
        """The socket sent `size` more bytes: it may be answered with that many more."""
        self.credit += size

    def spend(self, size: int) -> bool:
        """Take `size` bytes of credit for a datagram to the socket; False (nothing taken) when
        that would exceed the credit."""
        if size > self.credit:
            return False
        self.credit -= size
        return True

    def outstanding(self) -> int:
        """The challenge byte the socket must echo next (a new one if none is outstanding)."""
        if self.challenge is None:
            # Distinct from the bytes already echoed in this attempt, so a late duplicate
            # echo is recognised as one.
            fresh = [value for value in CHALLENGE_VALUES if value not in self.answered]
            self.challenge = fresh[secrets.randbelow(len(fresh))]
        return self.challenge

    def check(self, echo: int | None) -> EchoVerdict:
        """Judge a CONNECTED's echoed byte (None: it echoed nothing)."""
        if echo is not None and echo == self.challenge:
            self.answered.append(echo)
            self.challenge = None
            return "next_round" if len(self.answered) < PROOF_ROUNDS else "proven"
        if echo in self.answered:
            return "duplicate"
        # Security consideration: a wrong guess ends this attempt, so a blind spoofer gets one
        # try per byte.
        self.challenge = None
        self.answered.clear()
        return "failed"
