"""Router recipes: right content for each format, and the dnsmasq ones proven with real dnsmasq."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakecloud.catalogue import load_catalogue
from fakecloud.dns.recipes import RECIPE_FORMATS, redirections, render_recipe
from tests.conftest import free_port

ADDRESS = "192.0.2.10"


def recipe(recipe_format: str) -> str:
    return render_recipe(
        recipe_format, load_catalogue(["*.extra.test", "one.example.org"]), ADDRESS
    )


def test_redirections_collapse_names_covered_by_wildcards() -> None:
    result = redirections(load_catalogue(["*.extra.test", "one.example.org"]))
    assert result.zones == ("extra.test", "seedonk.com")
    assert "server.seedonk.com" in result.zone_members
    assert "netcam.belkin.com" in result.names and "server.seedonk.com" not in result.names
    assert not any(name.endswith("xbcs.net") for name in (*result.names, *result.zone_members))


def test_dnsmasq_and_openwrt() -> None:
    assert "address=/seedonk.com/192.0.2.10" in recipe("dnsmasq").splitlines()
    assert "address=/one.example.org/192.0.2.10" in recipe("dnsmasq").splitlines()
    openwrt = recipe("openwrt").splitlines()
    assert "uci add_list dhcp.@dnsmasq[0].address='/extra.test/192.0.2.10'" in openwrt
    assert openwrt[-2:] == ["uci commit dhcp", "/etc/init.d/dnsmasq restart"]


def test_pihole_covers_v5_and_v6() -> None:
    text = recipe("pihole")
    assert "/etc/dnsmasq.d/" in text and "misc.dnsmasq_lines" in text
    assert "address=/seedonk.com/192.0.2.10" in text.splitlines()


def test_unbound() -> None:
    lines = recipe("unbound").splitlines()
    assert '    local-zone: "seedonk.com." redirect' in lines
    assert '    local-data: "seedonk.com. 60 IN A 192.0.2.10"' in lines
    assert '    local-data: "netcam.belkin.com. 60 IN A 192.0.2.10"' in lines
    aaaa = render_recipe("unbound", load_catalogue(), "fd00::1")
    assert '"seedonk.com. 60 IN AAAA fd00::1"' in aaaa


def test_adguard() -> None:
    lines = recipe("adguard").splitlines()
    assert "||seedonk.com^$dnsrewrite=192.0.2.10" in lines
    assert "|netcam.belkin.com^$dnsrewrite=192.0.2.10" in lines
    assert all(line.startswith(("!", "|")) for line in lines)


def test_hosts_lists_concrete_names_and_says_wildcards_are_missing() -> None:
    text = recipe("hosts")
    assert "192.0.2.10 server.seedonk.com" in text.splitlines()
    assert "cannot hold wildcards" in text and "*.extra.test" in text
    assert not any("*" in line for line in text.splitlines() if not line.startswith("#"))


def test_bad_format_or_address() -> None:
    with pytest.raises(ValueError, match="unknown recipe format"):
        render_recipe("bind", load_catalogue(), ADDRESS)
    with pytest.raises(ValueError):
        render_recipe("dnsmasq", load_catalogue(), "not-an-address")
    assert set(RECIPE_FORMATS) == {"dnsmasq", "pihole", "unbound", "adguard", "openwrt", "hosts"}


DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


@pytest.fixture
def run_dnsmasq(tmp_path: Path) -> Iterator[object]:
    processes: list[subprocess.Popen[str]] = []

    def start(conf_text: str, *extra: str) -> int:
        conf = tmp_path / f"recipe{len(processes)}.conf"
        conf.write_text(conf_text)
        port = free_port()
        process = subprocess.Popen(
            [DNSMASQ, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--bind-interfaces",
             "--listen-address=127.0.0.1", f"--port={port}", f"--conf-file={conf}",
             "--pid-file=", "--user=root", "--log-facility=-", *extra],
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        processes.append(process)
        # dnsmasq says "started" on stderr once it listens; waiting for that line (bounded by
        # pytest-timeout) replaces any guess at how long it takes.
        assert process.stderr is not None
        seen = []
        for line in process.stderr:
            seen.append(line)
            if "started" in line:
                return port
        pytest.fail("dnsmasq exited before it was ready:\n" + "".join(seen))

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def dig_short(port: int, *args: str) -> list[str]:
    return subprocess.run(
        ["dig", "+short", "+time=1", "+tries=5", "-p", str(port), "@127.0.0.1", *args],
        capture_output=True, text=True, timeout=20, check=True,
    ).stdout.split()  # fmt: skip


@pytest.mark.skipif(not Path(DNSMASQ).exists(), reason="dnsmasq is not installed")
def test_dnsmasq_recipe_answers_dig(run_dnsmasq) -> None:  # type: ignore[no-untyped-def]
    port = run_dnsmasq(recipe("dnsmasq"))
    assert dig_short(port, "server.seedonk.com") == [ADDRESS]
    assert dig_short(port, "a.b.seedonk.com") == [ADDRESS]
    assert dig_short(port, "x.extra.test") == [ADDRESS]
    assert dig_short(port, "netcam.belkin.com") == [ADDRESS]
    assert dig_short(port, "server.seedonk.com", "AAAA") == []


@pytest.mark.skipif(not Path(DNSMASQ).exists(), reason="dnsmasq is not installed")
def test_hosts_recipe_loaded_by_dnsmasq(run_dnsmasq, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    hosts = tmp_path / "hosts"
    hosts.write_text(recipe("hosts"))
    port = run_dnsmasq("", f"--addn-hosts={hosts}")
    assert dig_short(port, "www.seedonk.com") == [ADDRESS]
    assert dig_short(port, "one.example.org") == [ADDRESS]
