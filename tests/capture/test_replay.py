"""Replaying a capture fixture against real loopback servers (plain and TLS), also via the CLI."""

from __future__ import annotations

import asyncio
import ssl
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from fakecloud.capture import read_records, recorded_connections, replay_connection
from fakecloud.certs import CertificateAuthority
from fakecloud.sim import client_tls_context
from tests.conftest import cli_env

FIXTURE = Path(__file__).parent / "fixtures" / "replay.jsonl"
QUIET = 0.2  # seconds of silence that end one answer


@dataclass
class RecordingServer:
    """Answers every line with 'got <line>' and reports each finished connection's bytes."""

    tls: ssl.SSLContext | None = None
    finished: asyncio.Queue[tuple[bool, bytes]] = field(default_factory=asyncio.Queue)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received = bytearray()
        try:
            async with asyncio.timeout(10):
                while line := await reader.readline():
                    received += line
                    writer.write(b"got " + line)
                    await writer.drain()
        finally:
            used_tls = writer.get_extra_info("ssl_object") is not None
            writer.close()
            await self.finished.put((used_tls, bytes(received)))


@pytest.fixture
async def plain_server() -> AsyncIterator[RecordingServer]:
    recording = RecordingServer()
    server = await asyncio.start_server(recording.handle, "127.0.0.1", 0)
    recording.port = server.sockets[0].getsockname()[1]
    async with server:
        yield recording


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    authority = CertificateAuthority.ensure(
        tmp_path_factory.mktemp("certs"), ["server.seedonk.com"], "127.0.0.1"
    )
    return authority.server_context("app")


@pytest.fixture
async def tls_server(tls_context: ssl.SSLContext) -> AsyncIterator[RecordingServer]:
    recording = RecordingServer(tls=tls_context)
    server = await asyncio.start_server(recording.handle, "127.0.0.1", 0, ssl=tls_context)
    recording.port = server.sockets[0].getsockname()[1]
    async with server:
        yield recording


def test_inbound_bytes_are_grouped_by_connection_in_order() -> None:
    connections = recorded_connections(read_records(FIXTURE))
    assert [(c.id, c.tls, c.sni, c.chunks) for c in connections] == [
        ("c1", False, None, [b"HELLO\n", b"WORLD\n"]),
        ("c2", True, "server.seedonk.com", [b"PING over TLS\n"]),
    ]


async def test_replay_sends_each_chunk_and_collects_the_answers(
    plain_server: RecordingServer,
) -> None:
    [connection] = [c for c in recorded_connections(read_records(FIXTURE)) if c.id == "c1"]
    result = await replay_connection(
        connection, "127.0.0.1", plain_server.port, reply_timeout=QUIET
    )
    assert result.error is None and result.sent == 12
    assert result.replies == [b"got HELLO\n", b"got WORLD\n"]
    assert await asyncio.wait_for(plain_server.finished.get(), 5) == (False, b"HELLO\nWORLD\n")


async def test_replay_over_tls(tls_server: RecordingServer) -> None:
    [connection] = [c for c in recorded_connections(read_records(FIXTURE)) if c.tls]
    result = await replay_connection(
        connection,
        "127.0.0.1",
        tls_server.port,
        tls_context=client_tls_context(),
        reply_timeout=QUIET,
    )
    assert result.replies == [b"got PING over TLS\n"]
    assert await asyncio.wait_for(tls_server.finished.get(), 5) == (True, b"PING over TLS\n")


async def test_replay_reports_a_refused_connection(plain_server: RecordingServer) -> None:
    [connection, _] = recorded_connections(read_records(FIXTURE))
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    closed_port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    result = await replay_connection(connection, "127.0.0.1", closed_port, reply_timeout=QUIET)
    assert result.sent == 0 and result.error and "cannot connect" in result.error


async def run_cli_async(*args: str, data_dir: Path) -> tuple[int, str, str]:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fakecloud",
        *args,
        env=cli_env(data_dir),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await child.communicate()
    assert child.returncode is not None
    return child.returncode, out.decode(), err.decode()


async def test_cli_replay_plain_and_tls(
    tmp_path: Path, plain_server: RecordingServer, tls_server: RecordingServer
) -> None:
    code, out, err = await run_cli_async(
        "captures", "replay", str(FIXTURE), "--server", f"127.0.0.1:{plain_server.port}",
        "--connection", "c1", "--wait", str(QUIET), data_dir=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    assert "connection c1: sent 12 bytes" in out and "|got HELLO.|" in out
    code, out, err = await run_cli_async(
        "captures", "replay", str(FIXTURE), "--server", f"127.0.0.1:{tls_server.port}",
        "--connection", "c2", "--wait", str(QUIET), data_dir=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    assert "sent 14 bytes over TLS" in out and "|got PING over TLS.|" in out
    assert (await asyncio.wait_for(tls_server.finished.get(), 5))[0] is True


async def test_cli_replay_errors_are_one_line(tmp_path: Path) -> None:
    code, _, err = await run_cli_async(
        "captures", "replay", "missing.jsonl", "--server", "127.0.0.1:1", data_dir=tmp_path
    )
    assert code == 2 and "no capture file" in err and "Traceback" not in err
    code, _, err = await run_cli_async(
        "captures", "replay", str(FIXTURE), "--server", "127.0.0.1:1",
        "--connection", "nope", data_dir=tmp_path,
    )  # fmt: skip
    assert code == 2 and "nothing to replay" in err
