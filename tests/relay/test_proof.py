"""The punch proof as a pure state machine: rounds, duplicates, wrong guesses, byte credit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fakecloud.relay.proof import PROOF_ROUNDS, UNPROVEN_ALLOWANCE, AddressProof

echoes = st.one_of(st.none(), st.integers(0, 255))


def test_right_echoes_in_a_row_prove_the_address() -> None:
    proof = AddressProof.after(111)
    assert proof.credit == 111 + UNPROVEN_ALLOWANCE
    verdicts = []
    for _ in range(PROOF_ROUNDS):
        verdicts.append(proof.check(proof.outstanding()))
    assert verdicts == ["next_round"] * (PROOF_ROUNDS - 1) + ["proven"]


def test_a_late_duplicate_is_ignored_and_a_wrong_echo_starts_over() -> None:
    proof = AddressProof.after(0)
    first = proof.outstanding()
    assert proof.check(first) == "next_round"
    assert proof.check(first) == "duplicate"
    assert proof.answered == [first]
    wrong = next(value for value in range(256) if value not in (first, proof.outstanding()))
    assert proof.check(wrong) == "failed"
    assert proof.answered == [] and proof.challenge is None
    assert proof.check(None) == "failed"  # an empty echo proves nothing


@given(st.lists(echoes, max_size=40))
def test_only_the_outstanding_challenge_counts(guesses: list[int | None]) -> None:
    """Whatever is echoed, a round is won only by the byte the relay sent, a challenge never
    repeats a byte already echoed in the attempt, and the proof needs PROOF_ROUNDS in a row."""
    proof = AddressProof.after(0)
    streak = 0
    for guess in guesses:
        challenge = proof.outstanding()
        assert challenge not in proof.answered and 0 <= challenge <= 255
        answered = list(proof.answered)
        verdict = proof.check(guess)
        if guess == challenge:
            streak += 1
            assert verdict == ("proven" if streak == PROOF_ROUNDS else "next_round")
            if verdict == "proven":
                return
        elif guess in answered:
            assert verdict == "duplicate" and proof.answered == answered
        else:
            streak = 0
            assert verdict == "failed" and proof.answered == []
        assert len(proof.answered) == streak


@given(
    st.integers(0, 2000),
    st.lists(
        st.one_of(
            st.tuples(st.just("received"), st.integers(0, 2000)),
            st.tuples(st.just("spend"), st.integers(0, 2000)),
        ),
        max_size=50,
    ),
)
def test_an_unproven_socket_is_never_sent_more_than_its_credit(
    register: int, steps: list[tuple[str, int]]
) -> None:
    proof = AddressProof.after(register)
    allowed, sent = register + UNPROVEN_ALLOWANCE, 0
    for step, size in steps:
        if step == "received":
            proof.received(size)
            allowed += size
        elif proof.spend(size):
            sent += size
        else:
            assert sent + size > allowed  # refused only when it would exceed the credit
        assert sent <= allowed and proof.credit == allowed - sent
