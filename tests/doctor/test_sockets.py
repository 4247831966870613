"""/proc/net tables: real sockets of this test found, and any table text parsed without error."""

from __future__ import annotations

import os
import socket

from hypothesis import given
from hypothesis import strategies as st

from fakecloud.doctor.sockets import listeners, parse_proc_net, socket_owners

TCP_TABLE = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  inode\n"
    "   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000  0 4242 1\n"
    "   1: 0100007F:1F41 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000  0 4243 1\n"
)


def test_a_listening_line_is_read_and_a_connected_one_is_not() -> None:
    [found] = parse_proc_net(TCP_TABLE, "tcp")
    assert (found.address, found.port, found.inode) == ("127.0.0.1", 8000, 4242)


def test_ipv6_words_are_put_back_in_order() -> None:
    loopback, nobody = "00000000000000000000000001000000", "0" * 32
    table = f"header\n 0: {loopback}:0035 {nobody}:0000 07 0 0 0 0 0 77 2\n"
    [found] = parse_proc_net(table, "udp")
    assert (found.address, found.port) == ("::1", 53)


def test_this_process_sockets_are_found_with_their_owner() -> None:
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", 0))
        tcp.listen()
        udp.bind(("127.0.0.1", 0))
        ports = {("tcp", tcp.getsockname()[1]), ("udp", udp.getsockname()[1])}
        mine = [item for item in listeners() if (item.protocol, item.port) in ports]
        assert {(item.protocol, item.port) for item in mine} == ports
        owners = socket_owners({item.inode for item in mine})
    assert {owner.pid for owner in owners.values()} == {os.getpid()}


@given(st.text(max_size=2000), st.sampled_from(["tcp", "udp"]))
def test_any_table_text_parses(text: str, protocol: str) -> None:
    for found in parse_proc_net(text, protocol):
        assert 0 <= found.port <= 0xFFFF


@given(
    st.lists(
        st.tuples(st.binary(min_size=0, max_size=17), st.integers(0, 0x1FFFF), st.text(max_size=3)),
        max_size=20,
    )
)
def test_table_shaped_lines_parse(rows: list[tuple[bytes, int, str]]) -> None:
    lines = ["header"] + [
        f"0: {raw.hex()}:{port:04X} 00000000:0000 {state or '0A'} 0 0 0 0 0 {port} 1"
        for raw, port, state in rows
    ]
    for found in parse_proc_net("\n".join(lines), "tcp"):
        assert found.inode == found.port
