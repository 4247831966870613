"""The broker's budgets: one login deadline, small frames before login, frame rate per session."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.core.config import Settings
from fakecloud.net.cxnet import Action, CXNetError, Frame, FrameDecoder, encode_frame
from fakecloud.net.properties import encode_properties
from fakecloud.sim import CxnetLink
from tests.broker.conftest import OWNER, OWNER_PASSWORD, BrokerServer

IO_TIMEOUT = 5.0
LOGIN_DEADLINE = 1.0  # idle_timeout caps the login deadline
BURST = 20
FLOOD = 200


@pytest.fixture
def broker_settings(broker_settings: Settings) -> Settings:
    """The broker tests' settings (conftest's fixture), with small budgets."""
    update = {
        "idle_timeout": LOGIN_DEADLINE,
        "session_frame_rate": 1.0,
        "session_frame_burst": BURST,
        "session_flood_frames": FLOOD,
    }
    return broker_settings.model_copy(update=update)


def _camera_login(mac: str = "00:11:22:33:44:66") -> Frame:
    options = {"CX_UNAME": OWNER, "CX_PASSWD": OWNER_PASSWORD, "mac": mac}
    return Frame(action=Action.LOGIN, options=encode_properties(options))


async def _logged_in(
    served: BrokerServer, mac: str = "00:11:22:33:44:66"
) -> tuple[CxnetLink, bytes]:
    link = await CxnetLink.open("127.0.0.1", served.port)
    await link.send(_camera_login(mac))
    async with asyncio.timeout(IO_TIMEOUT):
        reply = await link.receive()
    assert reply.action == Action.LOGIN
    return link, reply.session


async def test_a_trickled_login_is_cut_off_at_the_whole_login_deadline(
    served: BrokerServer,
) -> None:
    """Each byte comes well within the deadline, but the login as a whole does not."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    frame = encode_frame(_camera_login())
    started = time.monotonic()
    closed_at = None
    for byte in frame:
        try:
            writer.write(bytes([byte]))
            await writer.drain()
            # the client's own pace: a byte every fifth of the deadline
            if await asyncio.wait_for(reader.read(1), LOGIN_DEADLINE / 5) == b"":
                closed_at = time.monotonic()
                break
        except TimeoutError:
            continue
        except ConnectionError:
            closed_at = time.monotonic()
            break
    writer.close()
    assert closed_at is not None, "the trickled login was never cut off"
    assert LOGIN_DEADLINE * 0.8 < closed_at - started < LOGIN_DEADLINE + 3.0
    assert not served.broker.status()["sessions"]


async def test_before_login_only_a_login_sized_frame_is_buffered(
    served: BrokerServer,
) -> None:
    settings = served.broker.settings
    too_big = settings.max_login_frame_bytes + 1
    assert too_big < settings.max_request_bytes
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    # the header alone says the frame is too big: closed before the body is sent
    writer.write(encode_frame(Frame(action=Action.LOGIN, body=b"x" * too_big))[:64])
    async with asyncio.timeout(IO_TIMEOUT):
        assert await reader.read() == b""
    writer.close()
    assert "limit" in served.recorder.of_kind("frame")[-1]["error"]


async def test_after_login_frames_up_to_max_request_bytes_are_served(
    served: BrokerServer,
) -> None:
    link, block = await _logged_in(served)
    big = served.broker.settings.max_login_frame_bytes * 2
    await link.send(Frame(action=Action.KEEPALIVE, session=block, body=b"x" * big))
    async with asyncio.timeout(IO_TIMEOUT):
        assert (await link.receive()).action == Action.KEEPALIVE
    await link.close()


async def _keepalive_replies(link: CxnetLink, within: float) -> int:
    replies = 0
    try:
        async with asyncio.timeout(within):
            while True:
                if (await link.receive()).action == Action.KEEPALIVE:
                    replies += 1
    except (TimeoutError, ConnectionError):
        return replies


async def test_a_burst_within_the_budget_is_answered_in_full(served: BrokerServer) -> None:
    link, block = await _logged_in(served)
    for _ in range(BURST):
        await link.send(Frame(action=Action.KEEPALIVE, session=block))
    assert await _keepalive_replies(link, 1.0) == BURST
    assert served.broker.status()["frames_dropped"] == 0
    await link.close()


async def test_excess_frames_are_dropped_and_counted(served: BrokerServer) -> None:
    link, block = await _logged_in(served)
    sent = BURST + FLOOD // 2  # over the burst, not yet a flood
    for _ in range(sent):
        await link.send(Frame(action=Action.KEEPALIVE, session=block))
    replies = await _keepalive_replies(link, 1.0)
    assert BURST <= replies < BURST + 5  # the bucket refills at 1 frame per second
    assert served.broker.status()["frames_dropped"] == sent - replies
    assert served.broker.status()["sessions"] == 1  # dropped, not closed
    await link.close()


async def test_a_flooding_session_is_closed_and_others_are_untouched(
    served: BrokerServer,
) -> None:
    quiet, quiet_block = await _logged_in(served, "00:11:22:33:44:77")
    flooder, block = await _logged_in(served)
    with contextlib.suppress(ConnectionError):
        for _ in range(BURST + FLOOD + 50):
            await flooder.send(Frame(action=Action.KEEPALIVE, session=block))
    async with asyncio.timeout(IO_TIMEOUT):
        while True:  # answers to the burst, then the close
            try:
                await flooder.receive()
            except ConnectionError:
                break
    await quiet.send(Frame(action=Action.KEEPALIVE, session=quiet_block))
    async with asyncio.timeout(IO_TIMEOUT):
        assert (await quiet.receive()).action == Action.KEEPALIVE
    assert served.broker.status()["sessions"] == 1
    await quiet.close()
    await flooder.close()


def test_decoder_frame_limit_is_enforced_from_the_header_alone() -> None:
    raw = encode_frame(Frame(action=Action.LOGIN, options=b"a=b\n", body=b"x" * 100))
    with pytest.raises(CXNetError, match="limit"):
        FrameDecoder(max_frame=len(raw) - 1).feed(raw[:27])
    assert FrameDecoder(max_frame=len(raw)).feed(raw) == [
        Frame(action=Action.LOGIN, options=b"a=b\n", body=b"x" * 100)
    ]


@given(st.binary(max_size=600), st.lists(st.integers(0, 600), max_size=6), st.integers(27, 300))
def test_a_frame_limited_decoder_buffers_at_most_one_frame(
    data: bytes, cuts: list[int], max_frame: int
) -> None:
    """Whatever arrives, the decoder raises only CXNetError and never holds more than one
    incomplete frame."""
    decoder = FrameDecoder(max_frame=max_frame)
    last = 0
    try:
        for cut in [*sorted(cuts), len(data)]:
            chunk = data[last:cut]
            last = max(last, cut)
            for frame in decoder.feed(chunk):
                assert len(encode_frame(frame)) <= max_frame
            assert decoder.buffered < max_frame
    except CXNetError:
        pass
