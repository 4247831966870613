"""The README tells the truth about the catalogue and the settings."""

from __future__ import annotations

from fakecloud.catalogue import load_catalogue
from fakecloud.cli.hostnames import markdown_table
from fakecloud.core.config import Settings
from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def test_hostname_table_is_the_catalogue() -> None:
    assert markdown_table(load_catalogue()) in README


def test_every_setting_is_documented() -> None:
    for name in Settings.model_fields:
        assert f"`FAKECLOUD_{name.upper()}`" in README, name
