"""The two sides of the WS-Discovery test, each run as its own process inside the network
namespace the test creates (`ip netns exec NS python -m tests.onvif.discovery_peer ROLE`).

responder DATA_DIR   fakecloud's ONVIF part with two owned cameras; prints its devices as JSON,
                     runs until stdin closes.
hello                joins the group, prints "joined", then the first Hello's XAddrs as JSON.
wsdiscovery          the WSDiscovery package's client probes for NetworkVideoTransmitter and
                     prints what it found as JSON.
probe COUNT          our codec's Probe, multicast; prints the first COUNT ProbeMatches as JSON.
flood N COUNT        N unicast Probes at once; prints how many ProbeMatches came back once COUNT
                     did (the rest are rate-limited).
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import sys
import time
from pathlib import Path

from fakecloud.core.config import Settings
from fakecloud.core.events import EventBus
from fakecloud.onvif.discovery import DISCOVERY_PORT, MULTICAST_GROUP
from fakecloud.onvif.discovery_codec import DN, parse_probe_matches, probe_message
from fakecloud.onvif.part import OnvifPart
from fakecloud.store.async_store import AsyncStore
from fakecloud.store.store import Store
from tests.store.conftest import FAST_HASHER

DEADLINE = 10.0
MACS = ("94:10:3e:00:00:01", "94:10:3e:00:00:02")


async def responder(data_dir: Path) -> None:
    settings = Settings(
        data_dir=data_dir,
        announce_address="127.0.0.1",
        bind_address="127.0.0.1",
        http_port=8000,
        onvif_enabled=True,
        onvif_port_base=0,
        onvif_discovery_port=DISCOVERY_PORT,
    )
    store = AsyncStore(Store(settings.database_path, hasher=FAST_HASHER))
    await store.add_account("alice", "correct horse battery")
    for index, mac in enumerate(MACS):
        await store.upsert_camera(mac=mac, owner="alice", name=f"Camera {index}")
    part = OnvifPart(settings, store, EventBus())
    await part.start()
    devices = {str(i): d.device_xaddr for i, d in part.devices.items()}
    print(json.dumps(devices), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    print(json.dumps(part.status()["discovery"]), flush=True)
    await part.stop()
    await store.close()


def hello() -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    udp.bind(("0.0.0.0", DISCOVERY_PORT))
    group = struct.pack("4s4s", socket.inet_aton(MULTICAST_GROUP), socket.inet_aton("0.0.0.0"))
    udp.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, group)
    udp.settimeout(DEADLINE)
    print("joined", flush=True)
    while True:
        data = udp.recv(65535)
        if b"/discovery/Hello<" in data:
            xaddrs = data.split(b"XAddrs>")[1].split(b"<")[0].decode()
            print(json.dumps(xaddrs.split()), flush=True)
            return


def wsdiscovery() -> None:
    from wsdiscovery import QName
    from wsdiscovery.discovery import ThreadedWSDiscovery

    client = ThreadedWSDiscovery()
    client.start()
    try:
        found = client.searchServices(types=[QName(DN, "NetworkVideoTransmitter", "dn")], timeout=2)
        print(json.dumps(sorted(xaddr for s in found for xaddr in s.getXAddrs())), flush=True)
        scopes = sorted(str(scope.getValue()) for s in found for scope in s.getScopes())
        print(json.dumps(scopes), flush=True)
    finally:
        client.stop()


def probe(count: int, probes: int = 1, to: str = MULTICAST_GROUP) -> None:
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", 0))
    for _ in range(probes):
        udp.sendto(probe_message([(DN, "NetworkVideoTransmitter")]), (to, DISCOVERY_PORT))
    matches = []
    end = time.monotonic() + DEADLINE
    while len(matches) < count and (left := end - time.monotonic()) > 0:
        udp.settimeout(left)
        matches += parse_probe_matches(udp.recv(65535))
    print(json.dumps([[m.address, m.xaddrs, m.scopes] for m in matches]), flush=True)


if __name__ == "__main__":
    role = sys.argv[1]
    if role == "responder":
        Path(sys.argv[2]).mkdir(parents=True, exist_ok=True)
        asyncio.run(responder(Path(sys.argv[2])))
    elif role == "hello":
        hello()
    elif role == "wsdiscovery":
        wsdiscovery()
    elif role == "flood":
        probe(int(sys.argv[3]), probes=int(sys.argv[2]), to="127.0.0.1")
    else:
        probe(int(sys.argv[2]))
