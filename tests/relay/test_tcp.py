"""The TCP fallback: framed datagrams both ways, junk closes only its connection."""

from __future__ import annotations

import random

from fakecloud.net.sdnk import Address, Peers, Register, RelayAck, decode
from fakecloud.relay import RelayPart
from tests.relay.peers import TcpPeer
from tests.relay.scenario import CAMERA, HOST, address_of, camera_of, media_datagram, wait_for


async def test_tcp_fallback_registers_and_receives_media(relay: RelayPart) -> None:
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    tcp = await TcpPeer.connect(relay.port)
    ids = (allocation.viewer_media_id, allocation.camera_media_id)
    await tcp.send(Register(0, "V", Address("127.0.0.1", 1), ids).encode())
    assert isinstance(decode(await tcp.receive()), RelayAck)
    assert isinstance(decode(await tcp.receive()), Peers)
    camera = await camera_of(allocation)
    for index in range(10):
        camera[0].send(media_datagram(index, 1200), address_of(allocation))
    assert [await tcp.receive() for _ in range(10)] == [media_datagram(i, 1200) for i in range(10)]
    await tcp.send(b"\x81\xc9\x00\x01rtcp")
    assert await camera[0].media_count(1) == [b"\x81\xc9\x00\x01rtcp"]
    await tcp.close()
    await wait_for(lambda: relay.status()["tcp_connections"] == 0)


async def test_tcp_junk_closes_only_that_connection(relay: RelayPart) -> None:
    rng = random.Random(4)
    for _ in range(5):
        junk = await TcpPeer.connect(relay.port)
        junk.writer.write(rng.randbytes(rng.randrange(1, 400)))
        await junk.send(b"x" * 3000)  # over the datagram cap: the relay hangs up
        assert await junk.reader.read() == b""
    allocation = relay.allocate(CAMERA, "video", "alice", viewer_host=HOST)
    tcp = await TcpPeer.connect(relay.port)
    ids = (allocation.viewer_media_id, allocation.camera_media_id)
    await tcp.send(Register(0, "V", Address("127.0.0.1", 1), ids).encode())
    assert isinstance(decode(await tcp.receive()), RelayAck)
    await tcp.close()
