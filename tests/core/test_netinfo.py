from fakecloud.core.netinfo import (
    client_key,
    default_route_interface,
    detect_lan_address,
    interface_ipv4,
    same_address,
)

ROUTES = """Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask
eth1\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF
eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000
"""


def test_default_route_interface_is_read_from_the_table() -> None:
    assert default_route_interface(ROUTES) == "eth0"
    assert default_route_interface(ROUTES.splitlines()[0]) is None


def test_loopback_interface_address() -> None:
    assert interface_ipv4("lo") == "127.0.0.1"
    assert interface_ipv4("no-such-if0") is None


def test_detected_address_is_ipv4() -> None:
    assert len(detect_lan_address().split(".")) == 4


def test_same_address_compares_addresses_not_texts() -> None:
    assert same_address("127.0.0.2", "::ffff:127.0.0.2") is True
    assert same_address("fe80::1%eth0", "fe80::1") is True
    assert same_address("127.0.0.1", "127.0.0.2") is False
    assert same_address("broker.seedonk.com", "127.0.0.1") is None


def test_ipv6_clients_are_counted_per_prefix() -> None:
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:2") == "2001:db8::/64"
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert client_key("192.0.2.7") != client_key("192.0.2.8")
