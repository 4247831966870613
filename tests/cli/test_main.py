"""The command line: useful help, one-line errors, never a traceback."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from tests.conftest import REPO, run_cli

PACKAGE = REPO / "fakecloud"
# Above the CLI: `python -m fakecloud` is the command line's own entry point.
ABOVE_THE_CLI = {PACKAGE / "__main__.py"}


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = run_cli("--help", data_dir=tmp_path)
    assert result.returncode == 0
    for command in ("serve", "dns", "certs", "dns-config", "hostnames"):
        assert command in result.stdout


def test_unknown_command_is_one_line(tmp_path: Path) -> None:
    result = run_cli("no-such-command", data_dir=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


def test_bad_setting_is_one_line(tmp_path: Path) -> None:
    result = run_cli("hostnames", data_dir=tmp_path, FAKECLOUD_DNS_TTL="forever")
    assert result.returncode == 2
    assert result.stderr.startswith("fakecloud: error: invalid settings: dns_ttl")
    assert "Traceback" not in result.stderr


def test_hostnames_json_includes_user_names(tmp_path: Path) -> None:
    result = run_cli(
        "hostnames", "--json", data_dir=tmp_path, FAKECLOUD_EXTRA_HOSTNAMES="cam.example.org"
    )
    entries = {entry["name"]: entry for entry in json.loads(result.stdout)}
    assert entries["server.seedonk.com"]["redirect"] is True
    assert entries["api.xbcs.net"]["redirect"] is False
    assert entries["cam.example.org"]["confidence"] == "user"


def _imported_modules(path: Path) -> set[str]:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
    return imported


def _imports_the_cli(path: Path) -> bool:
    return any(
        name == "fakecloud.cli" or name.startswith("fakecloud.cli.")
        for name in _imported_modules(path)
    )


def test_nothing_below_the_cli_imports_it() -> None:
    """The dependency arrow runs cli -> server -> parts -> core/net, never back up."""
    below = set(PACKAGE.rglob("*.py")) - set((PACKAGE / "cli").rglob("*.py")) - ABOVE_THE_CLI
    assert PACKAGE / "server.py" in below
    upward = sorted(str(path.relative_to(REPO)) for path in below if _imports_the_cli(path))
    assert upward == []
