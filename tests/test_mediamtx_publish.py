"""The publishing side of the optional MediaMTX service, for real: the exact runOnDemand command
of mediamtx.yml (MediaMTX's variables filled in as MediaMTX fills them) copies a simulated
camera from fakecloud's RTSP server into a real RTSP receiver, ffmpeg in listen mode on loopback
(MediaMTX itself cannot be installed here). The receiver's recording is decoded: H.264 at the
camera's size, and the test pattern's frame counter rising by one from picture to picture."""

from __future__ import annotations

import asyncio
import itertools
import shlex
import signal
from pathlib import Path

import av
import yaml

from fakecloud.core.config import Settings
from fakecloud.media.rtsp.server import RtspPart
from tests.conftest import REPO, free_port
from tests.media.rtsp.test_server import finished, recorded_counters
from tests.media.test_viewer_e2e import LOOP_FRAMES, WITHIN, Cloud, cloud, online

__all__ = ["cloud"]  # the fixture

SECONDS = 4


def listening(port: int) -> bool:
    """Whether a TCP socket listens on the port (read from the kernel: a test connection would
    be taken by ffmpeg's listen mode, which serves one client)."""
    wanted = f":{port:04X} "
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if (fields[1] + " ").endswith(wanted) and fields[3] == "0A":
                return True
    return False


def run_on_demand(fakecloud_rtsp_port: int, path: str, receiver_port: int) -> list[str]:
    """mediamtx.yml's runOnDemand as MediaMTX would run it, pointed at the test's ports."""
    command = yaml.safe_load((REPO / "mediamtx.yml").read_text())["pathDefaults"]["runOnDemand"]
    default = Settings.model_fields["rtsp_port"].default
    command = command.replace(f"127.0.0.1:{default}/", f"127.0.0.1:{fakecloud_rtsp_port}/")
    command = command.replace("$MTX_PATH", path).replace("$RTSP_PORT", str(receiver_port))
    return shlex.split(command)


async def test_run_on_demand_publishes_a_camera_into_an_rtsp_receiver(
    cloud: Cloud, tmp_path: Path
) -> None:
    part = cloud.runtime.part("rtsp")
    assert isinstance(part, RtspPart)
    port, output = free_port(), tmp_path / "received.mkv"
    async with online(cloud.camera(8)) as camera:
        path = str(camera.camera_id)
        receiver = await asyncio.create_subprocess_exec(
            "ffmpeg", "-v", "error", "-nostdin", "-rtsp_flags", "listen", "-timeout", "20",
            "-i", f"rtsp://127.0.0.1:{port}/{path}", "-t", str(SECONDS), "-c", "copy", "-y",
            str(output), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        async with asyncio.timeout(WITHIN):
            while not listening(port):  # noqa: ASYNC110 - polling the kernel's socket table
                await asyncio.sleep(0.02)
        publisher = await asyncio.create_subprocess_exec(
            *run_on_demand(part.port, path, port),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await finished(receiver, SECONDS + WITHIN)
        finally:
            if publisher.returncode is None:
                publisher.send_signal(signal.SIGINT)  # how MediaMTX stops it
            await asyncio.wait_for(publisher.communicate(), WITHIN)
    with av.open(str(output)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 1280, 720)
    pictures = recorded_counters(output)
    counters = [counter for _, counter in pictures]
    assert len(pictures) >= SECONDS * 15 * 0.8
    assert all(b == (a + 1) % LOOP_FRAMES for a, b in itertools.pairwise(counters)), counters
