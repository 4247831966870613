"""RTSP Digest: RFC 2617's own worked example, answers without qop (what ffmpeg and live555
send when none is offered), and the stateless nonces (forged, expired, fresh)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.media.rtsp.codec import RtspError
from fakecloud.media.rtsp.digest import NONCE_SECONDS, DigestAnswer, DigestNonces, StaleNonce

# RFC 2617 section 3.5 (qop=auth).
RFC_EXAMPLE = (
    'Digest username="Mufasa", realm="testrealm@host.com", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, '
    'nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", '
    'opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)


def test_the_rfc_example_proves_its_password() -> None:
    answer = DigestAnswer.parse(RFC_EXAMPLE)
    assert answer is not None and answer.username == "Mufasa" and answer.nc == "00000001"
    assert answer.proves("Circle Of Life", "GET")
    assert not answer.proves("Circle Of Life.", "GET")
    assert not answer.proves("Circle Of Life", "POST")


def test_an_answer_without_qop() -> None:
    # MD5(MD5("alice:fakecloud:secret"):"n1":MD5("DESCRIBE:rtsp://h/1")), as RFC 2069 has it.
    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    response = md5(f"{md5('alice:fakecloud:secret')}:n1:{md5('DESCRIBE:rtsp://h/1')}")
    header = (
        f'Digest username="alice", realm="fakecloud", nonce="n1", uri="rtsp://h/1", '
        f'response="{response.upper()}"'
    )
    answer = DigestAnswer.parse(header)
    assert answer is not None and answer.proves("secret", "DESCRIBE")
    assert not answer.proves("secret", "SETUP")


@pytest.mark.parametrize(
    "header",
    [None, "", "Basic YTpi", 'Digest username="a", realm="r"', "Digest " + "x" * 4000],
)
def test_what_is_not_a_whole_answer(header: str | None) -> None:
    assert DigestAnswer.parse(header) is None


@given(st.text(max_size=300))
def test_any_header_parses_or_is_refused(text: str) -> None:
    answer = DigestAnswer.parse("Digest " + text)
    assert answer is None or isinstance(answer.proves("x", "DESCRIBE"), bool)


def nonce_of(challenge: str) -> str:
    return challenge.partition('nonce="')[2].partition('"')[0]


def test_nonces_are_ours_and_expire() -> None:
    now = [1_800_000_000.0]
    nonces = DigestNonces(clock=lambda: now[0])
    challenge = nonces.challenge("fakecloud")
    assert challenge.startswith('Digest realm="fakecloud", nonce="') and "stale" not in challenge
    nonce = nonce_of(challenge)
    nonces.check(nonce)
    for forged in (nonce[:-1] + ("0" if nonce[-1] != "0" else "1"), "zz" + nonce[2:], "", "x"):
        with pytest.raises(RtspError) as refused:
            nonces.check(forged)
        assert refused.value.status == 401 and not isinstance(refused.value, StaleNonce)
    with pytest.raises(RtspError):  # another process's (or a restarted server's) nonce
        DigestNonces(clock=lambda: now[0]).check(nonce)
    now[0] += NONCE_SECONDS + 1
    with pytest.raises(StaleNonce):
        nonces.check(nonce)
    assert nonces.challenge("fakecloud", stale=True).endswith(", stale=TRUE")
