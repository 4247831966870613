"""First run: private files, one clear line for an unusable data folder, typo warnings, and the
CLI details a new user meets (password prompt, token forms, simulator progress)."""

from __future__ import annotations

import asyncio
import io
import os
import pty
import select
import stat
import sys
import time
from contextlib import redirect_stderr
from pathlib import Path

import pytest

from fakecloud.catalogue import load_catalogue
from fakecloud.cli.healthcheck import health_url
from fakecloud.cli.sim import say_while_nobody_answers
from fakecloud.core.config import Settings, unknown_variables
from fakecloud.runtime import Runtime
from fakecloud.sim.camera import SimulatedCamera
from fakecloud.store import Store
from fakecloud.web.app import create_app
from fakecloud.web.asgi import AsgiProtocolFactory
from fakecloud.web.http_part import HttpPart
from tests.conftest import cli_env, free_port, run_cli

PASSWORD = "correct horse battery"
WITHIN = 30.0


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_first_command_makes_everything_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    result = run_cli("account", "add", "alice", "--password", PASSWORD, data_dir=data)
    assert result.returncode == 0, result.stderr
    files = [path for path in data.rglob("*") if path.is_file()]
    assert any(path.name.startswith("fakecloud.sqlite3") for path in files)
    assert _mode(data) == 0o700
    for path in files:
        assert _mode(path) == 0o600, path
    for folder in (path for path in data.rglob("*") if path.is_dir()):
        assert _mode(folder) == 0o700, folder


@pytest.mark.parametrize(
    "command",
    [("account", "list"), ("camera", "list"), ("captures", "list"), ("certs", "show"), ("serve",)],
)
def test_an_unusable_data_folder_is_one_line_with_the_fix(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a folder")
    data = in_the_way / "data"
    result = run_cli(*command, data_dir=data, FAKECLOUD_HTTP_PORT="0", FAKECLOUD_DNS_PORT="0")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert str(data) in lines[0] and f"uid {os.getuid()}" in lines[0]
    assert "bind mount" in lines[0] and "PUID" in lines[0]


def test_commands_without_state_ignore_the_data_folder(tmp_path: Path) -> None:
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a folder")
    data = in_the_way / "data"
    assert run_cli("hostnames", data_dir=data).returncode == 0
    nobody = f"127.0.0.1:{free_port()}"
    app = run_cli(
        "sim", "app", "--server", nobody, "--token", "t", "--command", "c", "--camera", "1",
        data_dir=data,
    )  # fmt: skip
    assert app.returncode == 2 and "data folder" not in app.stderr
    assert f"cannot talk to {nobody}" in app.stderr and "fakecloud serve" in app.stderr


def test_a_misspelt_variable_is_a_warning_with_a_suggestion(tmp_path: Path) -> None:
    result = run_cli("account", "list", data_dir=tmp_path, FAKECLOUD_HTTP_PROT="8001")
    assert result.returncode == 0
    assert "FAKECLOUD_HTTP_PROT" in result.stderr
    assert "did you mean FAKECLOUD_HTTP_PORT?" in result.stderr


def test_unknown_variables_knows_every_setting() -> None:
    every = {f"FAKECLOUD_{name.upper()}": "x" for name in Settings.model_fields}
    assert unknown_variables({**every, "FAKECLOUD_CONFIG": "x", "OTHER": "x"}) == []
    assert unknown_variables({"FAKECLOUD_ZZZZZZZZ": "1"}) == [
        "FAKECLOUD_ZZZZZZZZ is not a fakecloud setting and is ignored: no setting has that name"
    ]


def _read_until(fd: int, wanted: bytes, seen: bytearray) -> None:
    deadline = time.monotonic() + WITHIN
    while wanted not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {wanted!r} in {bytes(seen)!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            try:
                seen += os.read(fd, 1024)
            except OSError:  # the child closed the terminal
                return


def test_password_stdin_at_a_terminal_prompts_without_echo(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the CLI with the pseudo-terminal as its terminal and stdin
        os.execve(
            sys.executable,
            [sys.executable, "-m", "fakecloud", "account", "add", "bob", "--password-stdin"],
            env,
        )
    seen = bytearray()
    try:
        _read_until(terminal, b"Password: ", seen)
        os.write(terminal, PASSWORD.encode() + b"\n")
        _read_until(terminal, b"again: ", seen)
        os.write(terminal, PASSWORD.encode() + b"\n")
        _read_until(terminal, b"added", seen)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(terminal)
    assert os.waitstatus_to_exitcode(status) == 0, bytes(seen)
    assert PASSWORD.encode() not in seen  # never echoed
    with Store(tmp_path / "data" / "fakecloud.sqlite3") as store:
        assert store.verify_password("bob", PASSWORD) is not None


def test_account_token_explains_its_prefix(tmp_path: Path) -> None:
    assert (
        run_cli("account", "add", "dave", "--password", PASSWORD, data_dir=tmp_path).returncode == 0
    )
    result = run_cli("account", "token", "dave", data_dir=tmp_path)
    assert result.returncode == 0
    token = result.stdout.strip()
    assert token.startswith("myQ.accessToken:") and "\n" not in token  # stdout: the token only
    assert "empty user name" in result.stderr and "Bearer" in result.stderr
    assert token not in result.stderr


def test_camera_list_shows_name_last_seen_and_address(tmp_path: Path) -> None:
    with Store(tmp_path / "fakecloud.sqlite3") as store:
        store.add_account("erin", PASSWORD)
        store.upsert_camera(mac="EC:1A:59:00:00:01", owner="erin", name="Porch")
        garden = store.upsert_camera(mac="EC:1A:59:00:00:02", owner="erin", name="Garden")
        store.set_camera_presence(garden.id, True, ip="192.0.2.7")
    result = run_cli("camera", "list", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = {("Garden" in line): line for line in result.stdout.splitlines()}
    assert "Porch" in lines[False] and "last seen never" in lines[False]
    assert "192.0.2.7" in lines[True] and "last seen 20" in lines[True]


class _Said(io.StringIO):
    """stderr that tells the test when something was written."""

    def __init__(self) -> None:
        super().__init__()
        self.written = asyncio.Event()

    def write(self, text: str) -> int:
        self.written.set()
        return super().write(text)


async def test_the_simulator_says_when_nobody_answers() -> None:
    server = f"127.0.0.1:{free_port()}"  # nothing listens there
    host, port = server.split(":")
    camera = SimulatedCamera(
        host, int(port), login=None, password=None, mac="EC:1A:59:00:00:09", first_backoff=0.05
    )
    said = _Said()
    running = asyncio.create_task(camera.run())
    with redirect_stderr(said):
        watcher = asyncio.create_task(say_while_nobody_answers([camera], server, 0.1))
        try:
            async with asyncio.timeout(WITHIN):
                await said.written.wait()
        finally:
            watcher.cancel()
            camera.stop()
            await asyncio.gather(running, watcher, return_exceptions=True)
    assert f"no login at {server} after 0.1 s" in said.getvalue()
    assert "fakecloud serve" in said.getvalue()


def test_the_health_check_follows_the_bind_address_and_port(settings: Settings) -> None:
    assert health_url(settings.model_copy(update={"http_port": 8123})) == (
        "http://127.0.0.1:8123/healthz"
    )
    lan = settings.model_copy(update={"bind_address": "192.168.1.10", "http_port": 80})
    assert health_url(lan) == "http://192.168.1.10:80/healthz"
    assert health_url(settings.model_copy(update={"bind_address": "0.0.0.0"})).startswith(
        "http://127.0.0.1:"
    )
    assert health_url(settings.model_copy(update={"bind_address": "::"})).startswith(
        "http://[::1]:"
    )


def test_the_health_check_fails_in_one_line_when_nothing_listens(tmp_path: Path) -> None:
    port = free_port()
    result = run_cli("healthcheck", data_dir=tmp_path, FAKECLOUD_HTTP_PORT=str(port))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and f"127.0.0.1:{port}" in result.stderr


async def test_the_health_check_passes_against_a_serving_app(
    settings: Settings, tmp_path: Path
) -> None:
    app = create_app(Runtime(settings, load_catalogue()))
    part = HttpPart(AsgiProtocolFactory(app), "127.0.0.1", 0)
    await part.start()
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fakecloud", "healthcheck",
            env=cli_env(tmp_path, FAKECLOUD_HTTP_PORT=str(part.port)),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        async with asyncio.timeout(WITHIN):
            out, err = await process.communicate()
    finally:
        await part.stop()
    assert process.returncode == 0, err
    assert f"127.0.0.1:{part.port}/healthz ok" in out.decode()
