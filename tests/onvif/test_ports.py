"""Each camera keeps its ONVIF port across restarts; a damaged file starts afresh."""

from __future__ import annotations

import stat
from pathlib import Path

from fakecloud.onvif.ports import MAX_DEVICES, PORTS_FILE, PortBook


def test_ports_are_given_in_order_and_kept(tmp_path: Path) -> None:
    book = PortBook(tmp_path, 8900)
    assert [book.port_for(i) for i in (555, 123, 555)] == [8900, 8901, 8900]
    assert stat.S_IMODE((tmp_path / PORTS_FILE).stat().st_mode) == 0o600
    again = PortBook(tmp_path, 8900)
    assert again.port_for(123) == 8901 and again.port_for(7) == 8902


def test_a_damaged_file_starts_afresh(tmp_path: Path) -> None:
    for text in ("{not json", "[1, 2]", '{"x": 1, "5": "y", "6": 70000, "7": 8950}'):
        (tmp_path / PORTS_FILE).write_text(text)
        assert PortBook(tmp_path, 8900).ports == ({7: 8950} if "8950" in text else {})


def test_ports_run_out(tmp_path: Path) -> None:
    book = PortBook(tmp_path, 65535)
    assert book.port_for(1) == 65535 and book.port_for(2) is None
    assert MAX_DEVICES >= 100
