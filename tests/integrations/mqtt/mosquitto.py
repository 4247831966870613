"""A real mosquitto on loopback, and mosquitto_sub/mosquitto_pub as the clients that check it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port

WITHIN = 15.0  # bound on every wait
TOOLS = ("mosquitto", "mosquitto_sub", "mosquitto_pub", "mosquitto_passwd", "stdbuf")
MISSING = [tool for tool in TOOLS if not shutil.which(tool)]
needs_mosquitto = pytest.mark.skipif(
    bool(MISSING),
    reason=f"needs {', '.join(MISSING)} (apt-get install mosquitto mosquitto-clients)",
)


class Mosquitto:
    """One broker process on 127.0.0.1:`port`; stop and start it again on the same port."""

    def __init__(
        self,
        directory: Path,
        *,
        credentials: tuple[str, str] | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        self.port = free_port()
        self.credentials = credentials
        self.tls = tls
        password_file = None
        if credentials is not None:
            password_file = make_password_file(directory / "passwords", *credentials)
        self.config = directory / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "log_dest stderr", "persistence false"]
        if os.geteuid() == 0:  # it would switch to user mosquitto, who cannot read tmp_path
            lines.append("user root")
        if tls is not None:
            lines += [f"certfile {tls.certificate}", f"keyfile {tls.key}"]
        if password_file is None:
            lines.append("allow_anonymous true")
        else:
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        self.config.write_text("\n".join(lines) + "\n")
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://127.0.0.1:{self.port}"

    @property
    def client_args(self) -> list[str]:
        """What mosquitto_sub and mosquitto_pub need to reach it."""
        args = ["-h", "127.0.0.1", "-p", str(self.port), "-q", "1"]
        if self.credentials is not None:
            args += ["-u", self.credentials[0], "-P", self.credentials[1]]
        if self.tls is not None:
            args += ["--cafile", str(self.tls.ca)]
        return args

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            "mosquitto", "-c", str(self.config), stderr=asyncio.subprocess.PIPE
        )
        assert self.process.stderr is not None
        async with asyncio.timeout(WITHIN):
            while b" running" not in (line := await self.process.stderr.readline()):
                assert line, "mosquitto ended before it was running"
        # Keep reading its log so the pipe never fills and stalls it.
        self._drain = asyncio.create_task(self.process.stderr.read())

    async def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)  # a crash: no clean goodbye to clients
        await self.process.wait()
        await self._drain
        self.process = None


@dataclass(frozen=True)
class TlsFiles:
    """The broker's certificate and key, and the CA that signed them (for its clients)."""

    certificate: Path
    key: Path
    ca: Path


@contextlib.asynccontextmanager
async def running_mosquitto(
    directory: Path,
    credentials: tuple[str, str] | None = None,
    tls: TlsFiles | None = None,
) -> AsyncIterator[Mosquitto]:
    broker = Mosquitto(directory, credentials=credentials, tls=tls)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retained: bool


class Subscriber:
    """mosquitto_sub for `count` messages on `topics`; `ready()` returns once it is subscribed
    (its SUBACK), so what is published after that is surely seen."""

    def __init__(self, broker: Mosquitto, *topics: str, count: int, skip_retained: bool = False):
        self.args = [*broker.client_args, "-d"]
        self.args += ["-C", str(count), "-W", str(int(WITHIN)), "-F", "MSG %r %t %x"]
        self.args += ["-R"] if skip_retained else []
        for topic in topics:
            self.args += ["-t", topic]
        self.received: list[Received] = []
        self._subscribed = asyncio.Event()
        self._process: asyncio.subprocess.Process | None = None
        self._reading: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Subscriber:
        # Line-buffered: its SUBACK debug line must arrive when it happens, not at exit.
        self._process = await asyncio.create_subprocess_exec(
            "stdbuf",
            "-oL",
            "mosquitto_sub",
            *self.args,
            stdout=asyncio.subprocess.PIPE,
            limit=8 << 20,
        )
        self._reading = asyncio.create_task(self._read())
        async with asyncio.timeout(WITHIN):
            await self._subscribed.wait()
        return self

    async def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        async for raw in self._process.stdout:
            line = raw.decode().rstrip("\n")
            if "received SUBACK" in line:
                self._subscribed.set()
            elif line.startswith("MSG "):
                retained, topic, hex_payload = [*line[4:].split(" ", 2), ""][:3]
                self.received.append(Received(topic, bytes.fromhex(hex_payload), retained == "1"))

    async def messages(self) -> list[Received]:
        """Every message, once mosquitto_sub has its count (or gave up after WITHIN)."""
        assert self._process is not None and self._reading is not None
        await asyncio.wait_for(self._process.wait(), WITHIN + 5)
        await self._reading
        return self.received

    async def __aexit__(self, *_: object) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        if self._reading is not None:
            await self._reading


async def subscribe(broker: Mosquitto, *topics: str, count: int) -> list[Received]:
    """The first `count` messages on `topics` (retained ones included)."""
    async with Subscriber(broker, *topics, count=count) as subscriber:
        return await subscriber.messages()


async def publish(broker: Mosquitto, topic: str, payload: str, *, retain: bool = False) -> None:
    args = [*broker.client_args, "-t", topic, "-m", payload]
    process = await asyncio.create_subprocess_exec(
        "mosquitto_pub", *args, *(["-r"] if retain else [])
    )
    assert await asyncio.wait_for(process.wait(), WITHIN) == 0


def make_password_file(path: Path, user: str, password: str) -> Path:
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(path), user, password], check=True)
    path.chmod(0o600)
    return path
