"""Port verdicts: fakecloud's own, free, taken by a named program, or missing from a running one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fakecloud.core.config import Settings
from fakecloud.doctor.activity import check_logins, check_lookups
from fakecloud.doctor.ports import (
    Need,
    check_port,
    may_bind_low_ports,
    needed_ports,
    served_ports,
    unprivileged_port_start,
)
from fakecloud.doctor.sockets import Listener, Owner

DNS = Need("udp", 53, "DNS shim", "DNS_PORT")


def test_needed_ports_follow_the_settings(settings: Settings) -> None:
    tuned = settings.model_copy(update={"http_port": 8000, "relay_port": 6178, "dns_port": 53})
    labels = [need.label for need in needed_ports(tuned)]
    assert labels[0] == "tcp/8000" and "udp/53" in labels and "udp/6178" in labels
    assert not any(label.endswith("/0") for label in labels)  # kernel-chosen ports are skipped


def test_served_ports_come_from_the_status() -> None:
    status = {
        "parts": {
            "http": {"address": "127.0.0.1:8000"},
            "dns": {"running": True, "port": 53},
            "frontdoor": {"listening": [{"port": 443}, "junk"]},
            "relay": {"address": None},
        }
    }
    assert served_ports(status) == {("tcp", 8000), ("udp", 53), ("tcp", 53), ("tcp", 443)}
    assert served_ports({"parts": "junk"}) == set()
    # RTSP names the address it could not listen on: that port is not served.
    failed = {"parts": {"rtsp": {"listening": False, "address": "127.0.0.1:8554"}}}
    assert served_ports(failed) == set()


def test_a_second_fakecloud_holding_a_port_is_not_this_ones() -> None:
    """With the full status, a port the server does not list is not its own, even when another
    `fakecloud serve` on this host holds it (two servers, the second's DNS shim not running)."""
    holder = Listener("udp", "127.0.0.1", 53, 99)
    other = {99: Owner(15, "/usr/bin/python3 -m fakecloud serve")}
    found = check_port(DNS, [holder], other, set(), True, status_is_full=True)
    assert found.status == "fail" and "fakecloud serve (pid 15)" in found.what


def test_a_port_fakecloud_serves_is_ok() -> None:
    assert check_port(DNS, [], {}, {("udp", 53)}, True).status == "ok"


def test_a_taken_port_names_its_holder() -> None:
    holder = Listener("udp", "127.0.0.53", 53, 99)
    found = check_port(DNS, [holder], {99: Owner(12, "systemd-resolved")}, set(), False)
    assert found.status == "fail"
    assert "systemd-resolved (pid 12)" in found.what and "FAKECLOUD_DNS_PORT" in found.fix
    ours = {99: Owner(13, "/usr/bin/python3 -m fakecloud serve")}
    assert check_port(DNS, [holder], ours, set(), True).status == "ok"
    tests = {99: Owner(14, "python -m pytest /src/fakecloud/tests")}
    assert check_port(DNS, [holder], tests, set(), True).status == "fail"
    unknown = check_port(DNS, [holder], {}, set(), False)
    assert "another program" in unknown.what


def test_a_missing_listener_of_a_running_server_fails_and_a_free_port_is_fine() -> None:
    assert check_port(DNS, [], {}, set(), True).status == "fail"
    assert check_port(DNS, [], {}, set(), False).status == "ok"
    assert check_port(DNS, [], {}, set(), False, 1024, may_bind_low=False).status == "warn"
    optional = Need("tcp", 8554, "RTSP", "RTSP_PORT", critical=False)
    assert check_port(optional, [], {}, set(), True).status == "warn"


def test_privilege_facts_are_read() -> None:
    assert 0 <= unprivileged_port_start() <= 65536
    assert isinstance(may_bind_low_ports(), bool)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=30,
)
PART_NAMES = st.sampled_from(["http", "dns", "relay", "rtsp", "frontdoor", "broker", "x"])


@given(st.dictionaries(PART_NAMES, JSON, max_size=6))
def test_any_status_a_server_sends_is_read_without_error(parts: dict[str, object]) -> None:
    for status in ({"parts": parts}, parts):
        for protocol, port in served_ports(status):
            assert protocol in ("tcp", "udp") and isinstance(port, int)
        assert check_lookups(status).status in ("ok", "warn", "skip")
        assert check_logins(status).status in ("ok", "warn")
