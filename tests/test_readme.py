"""The README tells the truth about the catalogue and the settings."""

from __future__ import annotations

import re

import pytest

from fakecloud.catalogue import load_catalogue
from fakecloud.cli.hostnames import markdown_table
from fakecloud.cli.main import build_parser
from fakecloud.core.config import Settings
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def test_hostname_table_is_the_catalogue() -> None:
    assert markdown_table(load_catalogue()) in README


def test_every_setting_is_documented() -> None:
    for name in Settings.model_fields:
        assert f"`FAKECLOUD_{name.upper()}`" in README, name


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a heading: lower case, punctuation dropped, spaces to dashes."""
    kept = "".join(c for c in heading.strip().lower() if c.isalnum() or c in " -_")
    return kept.replace(" ", "-")


def test_links_point_at_existing_headings_and_files() -> None:
    anchors = {
        github_anchor(line.lstrip("#")) for line in README.splitlines() if line.startswith("#")
    }
    for fragment in re.findall(r"\]\(#([^)]+)\)", README):
        assert fragment in anchors, fragment
    for target in re.findall(r"\]\((docs/[^)#]+)\)", README):
        assert (REPO / target).is_file(), target


def test_readme_commands_are_real_subcommands() -> None:
    parser = build_parser()
    code = "\n".join(re.findall(r"^```sh\n(.*?)^```", README, re.MULTILINE | re.DOTALL))
    commands = set(re.findall(r"^fakecloud ([a-z-]+)", code, re.MULTILINE))
    assert {"account", "camera", "captures", "certs"} <= commands
    for command in sorted(commands):
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([command, "--help"])
        assert exit_info.value.code == 0, command
