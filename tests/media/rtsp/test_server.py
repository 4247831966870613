"""RTSP end to end: the real server in-process, simulated cameras through the relay and viewer
into the hub, and the real ffprobe and ffmpeg reading rtsp:// over TCP and UDP."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import av
import pytest

from fakecloud.core.config import Settings
from fakecloud.media.rtsp.connection import RtspLimits
from fakecloud.media.rtsp.server import RtspPart
from fakecloud.media.testpattern import read_counter
from tests.media.outputs.conftest import ffprobe, run_client
from tests.media.test_viewer_e2e import (
    LOOP_FRAMES,
    OWNER,
    PASSWORD,
    WITHIN,
    Cloud,
    cloud,
    online,
    running_cloud,
)

__all__ = ["cloud"]  # the fixture

VIDEO = "codec_name,width,height,r_frame_rate"


def rtsp_url(cloud: Cloud, camera: int | str, credentials: str = "") -> str:
    part = cloud.runtime.part("rtsp")
    assert isinstance(part, RtspPart)
    return f"rtsp://{credentials}127.0.0.1:{part.port}/{camera}"


async def probe(url: str, transport: str) -> dict[str, Any]:
    return await ffprobe(url, "-rtsp_transport", transport, entries=VIDEO)


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_ffprobe_reads_h264_over_rtsp(cloud: Cloud, transport: str) -> None:
    async with online(cloud.camera(0)) as camera:
        stream = await probe(rtsp_url(cloud, camera.camera_id or 0), transport)
    assert stream == {"codec_name": "h264", "width": 1280, "height": 720, "r_frame_rate": "15/1"}


async def test_ffprobe_reads_a_jpeg_camera_over_rtsp(cloud: Cloud) -> None:
    async with online(cloud.camera(3, profile="F7D7601")) as camera:
        stream = await probe(rtsp_url(cloud, camera.camera_id or 0), "tcp")
    assert stream == {"codec_name": "mjpeg", "width": 640, "height": 480, "r_frame_rate": "15/1"}


async def rtsp_exchange(port: int, *requests: str) -> list[str]:
    """Send raw requests on one connection; the head (and body) of each response."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers = []
    try:
        for request in requests:
            writer.write(request.encode())
            async with asyncio.timeout(WITHIN):
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                length = next(
                    (int(line.split(":")[1]) for line in head.split("\r\n")
                     if line.lower().startswith("content-length:")),
                    0,
                )  # fmt: skip
                answers.append(head + (await reader.readexactly(length)).decode())
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return answers


@contextlib.asynccontextmanager
async def untrusted_cloud(settings: Settings) -> AsyncIterator[Cloud]:
    """A cloud for which this machine is not a trusted network: every viewer logs in."""
    async with running_cloud(settings, trusted_networks=["192.0.2.0/24"]) as started:
        yield started


async def test_untrusted_clients_need_an_account_or_token(settings: Settings) -> None:
    async with untrusted_cloud(settings) as cloud, online(cloud.camera(4)) as camera:
        camera_id = camera.camera_id
        assert camera_id is not None
        port = cloud.runtime.part("rtsp").port  # type: ignore[union-attr]
        url = rtsp_url(cloud, camera_id)
        (refused,) = await rtsp_exchange(port, f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 2\r\n\r\n")
        assert refused.startswith("RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\n")
        assert 'WWW-Authenticate: Basic realm="fakecloud"' in refused
        store = cloud.runtime.services.store
        await store.update_camera(camera_id, name="Front door")
        token = (await store.issue_token(OWNER)).partition(".accessToken:")[2]
        with_password = await probe(rtsp_url(cloud, camera_id, f"{OWNER}:{PASSWORD}@"), "tcp")
        by_name = await probe(rtsp_url(cloud, "front%20door", f"{OWNER}:{token}@"), "udp")
        assert with_password["codec_name"] == by_name["codec_name"] == "h264"
        await store.add_account("mallory", "another password")
        (hidden,) = await rtsp_exchange(
            port,
            f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 3\r\n"
            "Authorization: Basic bWFsbG9yeTphbm90aGVyIHBhc3N3b3Jk\r\n\r\n",
        )
        assert hidden.startswith("RTSP/1.0 404 Not Found")  # someone else's camera


async def test_options_and_bad_requests(cloud: Cloud) -> None:
    port = cloud.runtime.part("rtsp").port  # type: ignore[union-attr]
    options, unknown = await rtsp_exchange(
        port,
        "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n",
        "DESCRIBE rtsp://127.0.0.1/nonexistent RTSP/1.0\r\nCSeq: 2\r\n\r\n",
    )
    assert "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER" in options
    assert unknown.startswith("RTSP/1.0 404 Not Found\r\nCSeq: 2")
    (garbage,) = await rtsp_exchange(port, "HELLO\r\n\r\n")
    assert garbage.startswith("RTSP/1.0 400 Bad Request")


async def record(url: str, seconds: float, output: Path) -> asyncio.subprocess.Process:
    """The real ffmpeg recording the stream as an NVR does (copied, not transcoded)."""
    return await asyncio.create_subprocess_exec(
        "ffmpeg", "-v", "error", "-nostdin", "-rtsp_transport", "tcp", "-timeout", "10000000",
        "-i", url, "-t", f"{seconds:g}", "-c", "copy", "-y", str(output),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def finished(process: asyncio.subprocess.Process, within: float) -> None:
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), within)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    assert process.returncode == 0, stderr.decode(errors="replace")


def recorded_counters(path: Path) -> list[tuple[float, int]]:
    """(seconds, counter shown) of every decoded picture of a recording."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [
            (float(picture.pts * stream.time_base), read_counter(picture.to_ndarray(format="gray")))
            for picture in container.decode(stream)
        ]


async def test_jpeg_pictures_arrive_intact(cloud: Cloud, tmp_path: Path) -> None:
    async with online(cloud.camera(5, profile="F7D7601")) as camera:
        url = rtsp_url(cloud, camera.camera_id or 0)
        await finished(await record(url, 1, tmp_path / "j.mkv"), WITHIN)
    counters = [counter for _, counter in recorded_counters(tmp_path / "j.mkv")]
    assert len(counters) >= 5 and counters == sorted(counters)


def pictures_counters(folder: Path) -> list[int]:
    """The counter of every JPEG file in the folder, in name order; each is 640x480."""
    counters = []
    for path in sorted(folder.glob("picture_*.jpg")):
        with av.open(str(path)) as container:
            picture = next(container.decode(video=0))
        assert (picture.width, picture.height) == (640, 480)
        counters.append(read_counter(picture.to_ndarray(format="gray")))
    return counters


async def test_gstreamer_depayloads_the_rfc_2435_pictures(cloud: Cloud, tmp_path: Path) -> None:
    """A second, independent RFC 2435 depayloader (GStreamer's rtpjpegdepay): every JPEG it
    rebuilds decodes, and the frame counter rises by one from picture to picture."""
    async with online(cloud.camera(7, profile="F7D7601")) as camera:
        url = rtsp_url(cloud, camera.camera_id or 0)
        await run_client(
            "gst-launch-1.0", "-q", "rtspsrc", f"location={url}", "protocols=tcp", "!",
            "rtpjpegdepay", "!", "identity", "eos-after=20", "!",
            "multifilesink", f"location={tmp_path}/picture_%03d.jpg",
            within=WITHIN * 2,
        )  # fmt: skip
    counters = pictures_counters(tmp_path)
    assert len(counters) >= 15  # eos-after counts the EOS too
    assert all(b == (a + 1) % LOOP_FRAMES for a, b in itertools.pairwise(counters)), counters


# The issue asks for 30 s; 12 s (a reconnect after about 4) shows the same and keeps the suite
# quick. FAKECLOUD_TEST_RECORD_SECONDS=30 runs the full length.
RECORD_SECONDS = float(os.environ.get("FAKECLOUD_TEST_RECORD_SECONDS", "12"))
MAX_GAP = 1.0


async def sent_frames(part: RtspPart) -> int:
    return sum(c.session.sent_frames for c in part.connections if c.session is not None)


async def test_a_recording_survives_a_camera_reconnect(cloud: Cloud, tmp_path: Path) -> None:
    part = cloud.runtime.part("rtsp")
    assert isinstance(part, RtspPart)
    output = tmp_path / "recording.mkv"
    async with online(cloud.camera(6)) as camera:
        process = await record(rtsp_url(cloud, camera.camera_id or 0), RECORD_SECONDS, output)
        async with asyncio.timeout(WITHIN):
            while await sent_frames(part) < 45:  # noqa: ASYNC110 - polling the server's state
                await asyncio.sleep(0.05)
        logins = camera.login_count
        camera.drop_connection()
        async with asyncio.timeout(WITHIN):
            while camera.login_count == logins:  # noqa: ASYNC110 - polling the camera's state
                await asyncio.sleep(0.02)
        await finished(process, RECORD_SECONDS + WITHIN)
    pictures = recorded_counters(output)
    times = [seconds for seconds, _ in pictures]
    counters = [counter for _, counter in pictures]
    assert times[-1] - times[0] >= RECORD_SECONDS - 1
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert max(gaps) <= MAX_GAP, f"largest gap {max(gaps):.2f} s"
    # Each camera stream counts from 0 (and wraps after LOOP_FRAMES): every picture follows the
    # one before, except once, where the stream after the reconnect begins.
    jumps = [(a, b) for a, b in itertools.pairwise(counters) if b != (a + 1) % LOOP_FRAMES]
    assert len(jumps) == 1 and jumps[0][1] < jumps[0][0], jumps
    assert camera.login_count == logins + 1
    print(f"recorded {len(pictures)} pictures, largest gap {max(gaps):.3f} s")


async def stalled_player(port: int, url: str) -> socket.socket:
    """A client that sets up an interleaved session, says PLAY, and then never reads (a raw
    socket: nothing reads ahead for it, as asyncio's stream reader would)."""
    loop = asyncio.get_running_loop()
    player = socket.socket()
    player.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    player.setblocking(False)
    await loop.sock_connect(player, ("127.0.0.1", port))
    requests = [
        f"SETUP {url}/trackID=0 RTSP/1.0\r\nCSeq: 1\r\n"
        "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n",
        f"PLAY {url} RTSP/1.0\r\nCSeq: 2\r\nSession: {{session}}\r\n\r\n",
    ]
    session = ""
    for request in requests:
        await loop.sock_sendall(player, request.replace("{session}", session).encode())
        head = b""
        async with asyncio.timeout(WITHIN):
            while not head.endswith(b"\r\n\r\n"):  # byte by byte: read nothing beyond it
                head += await loop.sock_recv(player, 1)
        assert head.startswith(b"RTSP/1.0 200 OK"), head
        session = head.decode().partition("Session: ")[2].partition(";")[0]
    return player


async def test_a_stalled_client_never_slows_another(cloud: Cloud, tmp_path: Path) -> None:
    part = cloud.runtime.part("rtsp")
    assert isinstance(part, RtspPart)
    part.limits = RtspLimits(max_buffered=16 * 1024)
    async with online(cloud.camera(7)) as camera:
        url = rtsp_url(cloud, camera.camera_id or 0)
        stalled = await stalled_player(part.port, url)
        (connection,) = part.connections
        # The server's side of a stalled socket fills at once: the kernel holds little.
        server_socket = connection.writer.get_extra_info("socket")
        server_socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        process = await record(url, 4, tmp_path / "live.mkv")
        async with asyncio.timeout(WITHIN):
            while connection.session is None or connection.session.dropped < 5:  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # polling the server's counters
        await finished(process, WITHIN)
        buffered = connection.writer.transport.get_write_buffer_size()
        stalled.close()
    times = [seconds for seconds, _ in recorded_counters(tmp_path / "live.mkv")]
    assert times[-1] - times[0] >= 3
    assert max(later - earlier for earlier, later in itertools.pairwise(times)) <= MAX_GAP
    assert buffered <= part.limits.max_buffered + 64 * 1024  # the cap plus at most one frame


async def closed_by_server(reader: asyncio.StreamReader) -> int:
    """Bytes read until the server closes the connection."""
    received = 0
    async with asyncio.timeout(WITHIN):
        while chunk := await reader.read(65536):
            received += len(chunk)
    return received


async def test_silent_clients_and_sessions_time_out(cloud: Cloud) -> None:
    part = cloud.runtime.part("rtsp")
    assert isinstance(part, RtspPart)
    part.limits = RtspLimits(idle_timeout=0.3, session_timeout=1)
    reader, writer = await asyncio.open_connection("127.0.0.1", part.port)
    assert await closed_by_server(reader) == 0
    writer.close()
    async with online(cloud.camera(8)) as camera:
        player = await stalled_player(part.port, rtsp_url(cloud, camera.camera_id or 0))
        reader, writer = await asyncio.open_connection(sock=player)
        # Video flows, but a client that never keeps its session alive loses it after 1 s.
        assert await closed_by_server(reader) > 0
        writer.close()
    assert part.counters["idle_closed"] == 2


async def test_sessions_belong_to_their_connection_and_clients_are_capped(cloud: Cloud) -> None:
    part = cloud.runtime.part("rtsp")
    assert isinstance(part, RtspPart)
    wrong_session, unknown_method = await rtsp_exchange(
        part.port,
        "PLAY rtsp://127.0.0.1/1 RTSP/1.0\r\nCSeq: 1\r\nSession: 0123456789abcdef\r\n\r\n",
        "ANNOUNCE rtsp://127.0.0.1/1 RTSP/1.0\r\nCSeq: 2\r\n\r\n",
    )
    assert wrong_session.startswith("RTSP/1.0 454 Session Not Found")
    assert unknown_method.startswith("RTSP/1.0 405 Method Not Allowed")
    assert "Allow: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER" in unknown_method
    part.max_clients = 1
    reader, writer = await asyncio.open_connection("127.0.0.1", part.port)
    writer.write(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
    async with asyncio.timeout(WITHIN):
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"RTSP/1.0 200 OK")
    second, _ = await asyncio.open_connection("127.0.0.1", part.port)
    assert await closed_by_server(second) == 0  # closed at once: the one client slot is taken
    writer.close()
    assert part.counters["refused_full"] == 1
