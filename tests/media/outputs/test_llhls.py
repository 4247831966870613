"""LL-HLS over real HTTP: ffprobe and ffmpeg read the fMP4 playlist, blocking reloads hold
until their part exists, and an LL-HLS client's delay behind the camera is measured."""

from __future__ import annotations

import asyncio
import io
import itertools
import statistics

import av
import httpx
import numpy as np
import pytest

from fakecloud.media.testpattern import TestPattern, read_counter
from tests.media.outputs.conftest import (
    H264_CAMERA,
    JPEG_CAMERA,
    SILENT_CAMERA,
    FakeCamera,
    MediaServer,
    SteppedCamera,
    ffprobe,
    run_client,
    running_media_server,
)
from tests.media.outputs.llhls_check import CheckedPlaylist, check_playlist

BASE = "/api/cameras/{}/hls/"
PLAYLIST = BASE + "ll.m3u8"
WITHIN = 20.0


async def test_ffprobe_reads_the_fmp4_playlist(media_server: MediaServer) -> None:
    stream = await ffprobe(media_server.url(PLAYLIST.format(H264_CAMERA)))
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 1280, 720)


async def test_ffmpeg_decodes_the_counter_in_order() -> None:
    frames = 45
    # ffmpeg reloads once per target duration while the camera runs three times as fast: a
    # window of 4 segments keeps every segment listed until ffmpeg has seen it.
    async with running_media_server(hls_window=4) as server:
        stdout = await _ffmpeg_gray_frames(server.url(PLAYLIST.format(H264_CAMERA)), frames)
    pictures = np.frombuffer(stdout, np.uint8).reshape(-1, 720, 1280)
    counters = [read_counter(picture) for picture in pictures]
    assert len(counters) == frames
    assert all(b - a == 1 for a, b in itertools.pairwise(counters)), str(counters)


async def _ffmpeg_gray_frames(url: str, frames: int) -> bytes:
    stdout, _ = await run_client(
        "ffmpeg",
        "-v",
        "error",
        "-i",
        url,
        "-fps_mode",
        "passthrough",  # a lost frame must show as a gap, not be filled by a repeat
        "-frames:v",
        str(frames),
        "-f",
        "rawvideo",
        "-pix_fmt",
        "gray",
        "-",
        within=60,
    )
    return stdout


async def test_playlist_passes_the_strict_checker_and_serves_its_media(
    media_server: MediaServer,
) -> None:
    base = BASE.format(H264_CAMERA)
    async with httpx.AsyncClient(base_url=media_server.base_url, timeout=WITHIN) as client:
        response = await client.get(PLAYLIST.format(H264_CAMERA))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        checked = check_playlist(response.text)
        assert checked.segments and checked.part_target == pytest.approx(0.2)
        init = await client.get(base + "ll_init.mp4")
        segment = await client.get(base + checked.segments[-1].uri)
        part = await client.get(base + checked.segments[-1].parts[-1].uri)
        missing = await client.get(base + "ll_segment_999999.m4s")
    assert init.content[4:8] == b"ftyp" and segment.content[4:8] == b"moof"
    assert part.content[4:8] == b"moof" and part.content in segment.content
    assert missing.status_code == 404


async def test_jpeg_camera_has_no_llhls(media_server: MediaServer) -> None:
    async with httpx.AsyncClient(base_url=media_server.base_url, timeout=WITHIN) as client:
        response = await client.get(PLAYLIST.format(JPEG_CAMERA))
    assert response.status_code == 409


async def _first_playlist(
    server: MediaServer, client: httpx.AsyncClient, camera: SteppedCamera, frames: int
) -> CheckedPlaylist:
    request = asyncio.create_task(client.get(PLAYLIST.format(SILENT_CAMERA)))
    await camera.allow(frames)
    response = await request
    assert response.status_code == 200, response.text
    return check_playlist(response.text)


async def test_blocking_reload_holds_until_the_part_exists_and_times_out_cleanly() -> None:
    async with (
        running_media_server(idle_timeout=10.0) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=WITHIN) as client,
    ):
        camera = server.cameras[SILENT_CAMERA] = SteppedCamera(
            SILENT_CAMERA, TestPattern("h264", 320, 240, fps=15, gop=15)
        )
        # 21 frames: segment 1 (frames 0-14; numbering starts at 1) finished, part 2.0
        # (15-17) out, 18-20 held.
        checked = await _first_playlist(server, client, camera, 21)
        assert checked.media_sequence == 1
        assert (checked.open_sequence, len(checked.open_parts)) == (2, 1)
        assert checked.hint == "ll_part_2_1.m4s"
        held = asyncio.create_task(
            client.get(PLAYLIST.format(SILENT_CAMERA) + "?_HLS_msn=2&_HLS_part=1")
        )
        done, _ = await asyncio.wait({held}, timeout=0.5)  # bounded check that it is held
        assert not done, "answered before the part existed"
        await camera.allow(1)  # frame 21 closes part 2.1
        answer = await held
        assert answer.status_code == 200
        answered = check_playlist(answer.text)
        assert [p.uri for p in answered.open_parts][-1] == "ll_part_2_1.m4s"
        assert answered.hint == "ll_part_2_2.m4s"
        hinted = asyncio.create_task(client.get(BASE.format(SILENT_CAMERA) + answered.hint))
        done, _ = await asyncio.wait({hinted}, timeout=0.5)
        assert not done, "the preload hint was answered before its part existed"
        await camera.allow(3)  # frame 24 closes part 2.2, the preload hint
        part = await hinted
        assert part.status_code == 200 and part.content[4:8] == b"moof"

        loop = asyncio.get_running_loop()
        started = loop.time()
        late = await client.get(PLAYLIST.format(SILENT_CAMERA) + "?_HLS_msn=3&_HLS_part=4")
        waited = loop.time() - started
        assert late.status_code == 503 and "did not come" in late.json()["detail"]
        assert 2.9 < waited < 6  # three target durations of 1 s
        refused = [
            await client.get(PLAYLIST.format(SILENT_CAMERA) + query)
            for query in ("?_HLS_msn=9", "?_HLS_part=1", "?_HLS_msn=x", "?_HLS_msn=1&_HLS_msn=2")
        ]
        assert [r.status_code for r in refused] == [400] * 4


async def _follow_parts(
    client: httpx.AsyncClient, seconds: float
) -> tuple[bytes, list[tuple[float, float]]]:
    """An LL-HLS client: from the open segment's first part, each next part by blocking reload.
    Returns the init segment and (duration, received at) per part; the parts' bytes follow the
    init segment in the returned data."""
    loop = asyncio.get_running_loop()
    base = BASE.format(SILENT_CAMERA)
    checked = check_playlist((await client.get(PLAYLIST.format(SILENT_CAMERA))).text)
    data = [(await client.get(base + "ll_init.mp4")).content]
    received: list[tuple[float, float]] = []
    sequence, index = checked.open_sequence, 0
    end = loop.time() + seconds
    for _ in range(1000):  # bounded; ends by time
        if loop.time() > end:
            break
        query = f"?_HLS_msn={sequence}&_HLS_part={index}"
        checked = check_playlist((await client.get(PLAYLIST.format(SILENT_CAMERA) + query)).text)
        listed = {p.uri: p for s in checked.segments for p in s.parts} | {
            p.uri: p for p in checked.open_parts
        }
        uri = f"ll_part_{sequence}_{index}.m4s"
        if uri not in listed:  # the segment ended before this part: the next one's first
            sequence, index = sequence + 1, 0
            continue
        part = await client.get(base + uri)
        received.append((listed[uri].duration, loop.time()))
        data.append(part.content)
        index += 1
    return b"".join(data), received


async def test_an_llhls_client_is_under_a_second_behind_the_camera() -> None:
    """The delay a player adds on top is its PART-HOLD-BACK (0.6 s here)."""
    async with (
        running_media_server() as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=WITHIN) as client,
    ):
        camera = server.cameras[SILENT_CAMERA] = FakeCamera(
            SILENT_CAMERA, TestPattern("h264", 640, 360, fps=15), speedup=1.0
        )
        data, received = await _follow_parts(client, 4.0)
        published_at = list(camera.published_at)
    with av.open(io.BytesIO(data)) as container:
        decoded = [(f.time, read_counter(f.to_ndarray(format="gray"))) for f in container.decode()]
    ends, total = [], 0.0
    for duration, _ in received:
        total += duration
        ends.append(total)
    first_time = decoded[0][0]
    delays = []
    for time, counter in decoded:
        part = next(i for i, end in enumerate(ends) if time - first_time < end - 1e-3)
        delays.append(received[part][1] - published_at[counter])
    counters = [counter for _, counter in decoded]
    assert counters == list(range(counters[0], counters[0] + len(counters)))
    p50, worst = statistics.median(delays), max(delays)
    print(f"LL-HLS part delay over {len(delays)} frames: p50 {p50:.3f} s, max {worst:.3f} s")
    assert len(delays) >= 40 and worst < 1.0


async def test_the_packager_stops_after_the_linger_and_the_camera_is_released() -> None:
    async with (
        running_media_server(hls_linger=0.05) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=WITHIN) as client,
    ):
        loop = asyncio.get_running_loop()
        asked = loop.time()
        assert (await client.get(PLAYLIST.format(H264_CAMERA))).status_code == 200
        assert server.outputs.status()["llhls"][str(H264_CAMERA)]["running"] is True
        # The linger is never shorter than three target durations (3 s): players reload.
        released = await asyncio.wait_for(server.released.get(), WITHIN)
        assert released == H264_CAMERA and loop.time() - asked >= 2.9
        assert server.outputs.status()["llhls"] == {}
