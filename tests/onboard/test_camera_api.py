"""The camera client: an oversized answer is cut off and recorded; a silent camera times out."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from fakecloud.capture.log import CaptureLog
from fakecloud.onboard.camera_api import MAX_ANSWER_BYTES, CameraApi, CameraUnreachable


async def test_an_oversized_answer_is_cut_and_a_silent_camera_times_out(tmp_path: Path) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        if b"silent" in head:
            await reader.read()  # says nothing until the client gives up
        else:
            size = 4 * MAX_ANSWER_BYTES
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size + b"a" * size)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    log = CaptureLog(tmp_path, 1 << 22)
    try:
        async with CameraApi(f"http://127.0.0.1:{port}", "admin", "admin", log, 0.5) as api:
            text = await api.call("settings", "/goform/getSystemSettings")
            assert len(text) == MAX_ANSWER_BYTES
            with pytest.raises(CameraUnreachable, match="did not answer /silent"):
                await api.call("settings", "/silent")
    finally:
        server.close()
        log.close()
    records = [json.loads(line) for line in (tmp_path / "capture.jsonl").read_text().splitlines()]
    assert [record["status"] for record in records] == [200, None]
    assert records[1]["error"]
