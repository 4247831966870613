"""The container files cannot be built here (no Docker engine), so their structure is checked."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import yaml

from fakecloud.core.config import Settings
from tests.conftest import REPO

DOCKERFILE_INSTRUCTIONS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME",
    "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}  # fmt: skip


def compose_service() -> dict:
    document = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return document["services"]["fakecloud"]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = (REPO / "Dockerfile").read_text()
    logical = re.sub(r"\\\n", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")
    ))  # fmt: skip
    result = []
    for line in logical.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            result.append((keyword, arguments.strip()))
    return result


def test_compose_uses_host_networking_and_least_privilege() -> None:
    service = compose_service()
    assert service["network_mode"] == "host"
    assert service["cap_drop"] == ["ALL"]
    assert service["cap_add"] == ["NET_BIND_SERVICE"]
    # no_new_privs would make the image's file capability inert: low ports could not be bound.
    assert "no-new-privileges:true" not in service.get("security_opt", [])
    assert service["restart"] == "unless-stopped"
    assert service["read_only"] is True
    assert "ports" not in service  # meaningless (and rejected) with host networking


def test_compose_keeps_state_in_a_volume() -> None:
    document = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    mounts = compose_service()["volumes"]
    assert "fakecloud-data:/data" in mounts
    assert "fakecloud-data" in document["volumes"]


def test_compose_healthcheck_asks_the_configured_address() -> None:
    check = compose_service()["healthcheck"]
    assert check["test"][:2] == ["CMD", "fakecloud"] and "healthcheck" in check["test"]
    assert {"interval", "timeout", "retries", "start_period"} <= set(check)


def test_compose_passes_every_setting_through_an_optional_env_file() -> None:
    service = compose_service()
    assert service["env_file"] == [{"path": ".env", "required": False}]
    # An `environment:` entry would override the same variable from .env.
    assert "environment" not in service


def test_compose_user_follows_puid_and_pgid() -> None:
    user = compose_service()["user"]
    assert user == "${PUID:-10001}:${PGID:-10001}"
    useradd = " ".join(a for k, a in dockerfile_instructions() if k == "RUN")
    assert "--uid 10001" in useradd  # the default matches the image's own user


def test_dockerfile_is_well_formed() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0][0] == "FROM"
    assert re.fullmatch(r"python:3\.1[1-9]-slim", instructions[0][1])
    for keyword, _ in instructions:
        assert keyword in DOCKERFILE_INSTRUCTIONS, keyword
    for keyword, arguments in instructions:
        if keyword in {"ENTRYPOINT", "CMD"}:
            assert isinstance(json.loads(arguments), list)
        if keyword == "COPY":
            *sources, _destination = shlex.split(arguments)
            for source in sources:
                assert (REPO / source).exists(), source


def test_dockerfile_runs_as_non_root_with_bind_capability_only() -> None:
    instructions = dockerfile_instructions()
    users = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert users and users[-1] not in {"root", "0"}
    run_steps = " ".join(arguments for keyword, arguments in instructions if keyword == "RUN")
    assert "setcap cap_net_bind_service=+ep" in run_steps
    env = " ".join(arguments for keyword, arguments in instructions if keyword == "ENV")
    assert "FAKECLOUD_DNS_PORT=53" in env
    assert "FAKECLOUD_DATA_DIR=/data" in env


def test_dockerfile_healthcheck_matches_compose() -> None:
    healthcheck = next(a for k, a in dockerfile_instructions() if k == "HEALTHCHECK")
    command = json.loads(healthcheck.partition("CMD")[2])
    assert command == compose_service()["healthcheck"]["test"][1:]
    # Only the HTTP app is asked: a DNS shim without port 53 must not make it unhealthy.
    assert "53" not in healthcheck and "dns" not in healthcheck.lower()


def test_the_image_serves_by_default_and_names_its_architectures() -> None:
    instructions = dict(dockerfile_instructions())
    assert json.loads(instructions["ENTRYPOINT"]) == ["fakecloud"]
    assert json.loads(instructions["CMD"]) == ["serve"]
    text = (REPO / "Dockerfile").read_text()
    assert "linux/amd64,linux/arm64" in text and "armv7" in text


def test_dockerignore_keeps_secrets_and_state_out_of_the_image() -> None:
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".env", "fakecloud-data", ".venv", "certs"} <= set(ignored)


def test_pyproject_uses_an_spdx_license() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert "setuptools>=77" in project["build-system"]["requires"]


def _fake_venv(tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in virtual environment whose python and fakecloud only log how they were run."""
    venv, calls = tmp_path / "venv", tmp_path / "calls"
    (venv / "bin").mkdir(parents=True)
    for tool in ("python", "fakecloud"):
        script = venv / "bin" / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{calls}"\n')
        script.chmod(0o755)
    return venv, calls


def test_switching_from_test_to_serve_installs_nothing(tmp_path: Path) -> None:
    venv, calls = _fake_venv(tmp_path)
    env = {**os.environ, "FAKECLOUD_VENV": str(venv)}

    def run_sh(*args: str) -> list[str]:
        calls.write_text("")
        subprocess.run([str(REPO / "run.sh"), *args], env=env, check=True, timeout=60)
        return calls.read_text().splitlines()

    (venv / ".installed").write_text("[test]\n")  # as ./run.sh test leaves it
    assert run_sh("serve") == ["fakecloud serve"]
    assert run_sh("account", "list") == ["fakecloud account list"]
    (venv / ".installed").write_text("\n")  # as ./run.sh serve leaves it on a fresh clone
    installed = run_sh("serve")
    assert installed == ["fakecloud serve"]


def test_an_older_stamp_than_pyproject_reinstalls(tmp_path: Path) -> None:
    venv, calls = _fake_venv(tmp_path)
    stamp = venv / ".installed"
    stamp.write_text("[test]\n")
    os.utime(stamp, (0, 0))
    env = {**os.environ, "FAKECLOUD_VENV": str(venv)}
    subprocess.run([str(REPO / "run.sh"), "serve"], env=env, check=True, timeout=60)
    logged = calls.read_text().splitlines()
    assert "python -m pip install -q -e ." in logged and logged[-1] == "fakecloud serve"


def test_ci_script_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "./run.sh test" in readme
    assert "./run.sh test" in ci
    assert "./run.sh serve" in readme


def test_certs_folder_keeps_keys_out_of_git() -> None:
    ignore = (Path(REPO) / "certs" / ".gitignore").read_text().split()
    assert ignore[0] == "*"


def mediamtx_config() -> dict:
    return yaml.safe_load((REPO / "mediamtx.yml").read_text())


def test_mediamtx_is_an_optional_profiled_service_with_its_config() -> None:
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    mediamtx = services["mediamtx"]
    assert mediamtx["profiles"] == ["mediamtx"]  # `docker compose up` alone leaves it out
    assert "profiles" not in services["fakecloud"]
    image, _, tag = mediamtx["image"].partition(":")
    assert image == "bluenviron/mediamtx" and "ffmpeg" in tag  # runOnDemand runs ffmpeg
    assert mediamtx["network_mode"] == "host" and mediamtx["depends_on"] == ["fakecloud"]
    assert "./mediamtx.yml:/mediamtx.yml:ro" in mediamtx["volumes"]
    assert mediamtx["cap_drop"] == ["ALL"] and mediamtx["read_only"] is True


def test_mediamtx_config_fits_fakecloud_defaults() -> None:
    config = mediamtx_config()
    http_port, rtsp_port = (
        Settings.model_fields[name].default for name in ("http_port", "rtsp_port")
    )
    fakecloud_ports = {http_port, rtsp_port, 8900, 3702, 5105, 1053, 80, 443, 5104, 6178, 8080}
    addresses = ("rtspAddress", "rtpAddress", "rtcpAddress", "hlsAddress", "webrtcAddress")
    ports = {int(config[key].rpartition(":")[2]) for key in addresses}
    assert len(ports) == len(addresses) and not ports & fakecloud_ports  # host networking
    assert config["authMethod"] == "http"
    assert config["authHTTPAddress"] == f"http://127.0.0.1:{http_port}/api/mediamtx/auth"
    command = config["pathDefaults"]["runOnDemand"]
    assert f"-i rtsp://127.0.0.1:{rtsp_port}/$MTX_PATH -c copy" in command
    assert command.endswith("rtsp://127.0.0.1:$RTSP_PORT/$MTX_PATH")
    assert config["pathDefaults"]["runOnDemandRestart"] is True
