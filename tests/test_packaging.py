"""The container files cannot be built here (no Docker engine), so their structure is checked."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import yaml

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
    assert "no-new-privileges:true" in service["security_opt"]
    assert service["restart"] == "unless-stopped"
    assert service["read_only"] is True
    assert "ports" not in service  # meaningless (and rejected) with host networking


def test_compose_keeps_state_in_a_volume() -> None:
    document = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    mounts = compose_service()["volumes"]
    assert "fakecloud-data:/data" in mounts
    assert "fakecloud-data" in document["volumes"]


def test_compose_healthcheck_probes_healthz() -> None:
    check = compose_service()["healthcheck"]
    assert check["test"][0] == "CMD"
    assert "/healthz" in " ".join(check["test"])
    assert {"interval", "timeout", "retries"} <= set(check)


def test_compose_environment_uses_fixed_setting_names() -> None:
    from fakecloud.core.config import Settings

    known = {f"FAKECLOUD_{name.upper()}" for name in Settings.model_fields}
    environment = compose_service()["environment"]
    assert set(environment) <= known
    assert environment["FAKECLOUD_DNS_PORT"].endswith("53}")


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
    assert "/healthz" in healthcheck


def test_ci_script_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "./run.sh test" in readme
    assert "./run.sh test" in ci
    assert "./run.sh serve" in readme


def test_certs_folder_keeps_keys_out_of_git() -> None:
    ignore = (Path(REPO) / "certs" / ".gitignore").read_text().split()
    assert ignore[0] == "*"
