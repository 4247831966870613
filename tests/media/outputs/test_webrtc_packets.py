"""The shared RTP payloads of WebRTC viewers, and the hook into aiortc's sender they rely on.
(Viewers of one camera decoding these payloads over real peer connections: test_webrtc.py.)"""

from __future__ import annotations

import importlib.metadata
import inspect
import tomllib
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import pytest
from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.codecs.h264 import H264Encoder

from fakecloud.media.frames import MediaFrame
from fakecloud.media.outputs.webrtc_packets import (
    SENDER_ENCODER,
    CameraPayloads,
    PackedFrame,
    PackedFrameEncoder,
    SharedPayloads,
    install_packed_encoder,
)

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def access_unit(*nal_sizes: int) -> MediaFrame:
    """An Annex-B access unit of NAL units of the given sizes (IDR slices)."""
    data = b"".join(b"\x00\x00\x00\x01\x65" + bytes([n % 251 for n in range(size - 1)])
                    for size in nal_sizes)  # fmt: skip
    return MediaFrame("h264", data, 0.0, True)


def test_the_hook_into_aiortcs_sender_is_where_it_was() -> None:
    # If a new aiortc keeps its encoder elsewhere, or no longer packs what a track returns,
    # the shared payloads would not be sent: this fails first, and loudly.
    version = importlib.metadata.version("aiortc")
    pinned = [
        requirement
        for requirement in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
        if requirement.startswith("aiortc")
    ]
    assert pinned == [f"aiortc=={version}"], "aiortc must stay pinned to the version checked"
    source = inspect.getsource(RTCRtpSender._next_encoded_frame)
    assert "if self.__encoder is None:" in source
    assert "self.__encoder.pack(data)" in source
    assert "isinstance(data, Frame)" in source  # anything else a track returns is packed


async def test_the_encoder_is_installed_on_a_new_sender_and_refused_elsewhere() -> None:
    peer = RTCPeerConnection()
    try:
        sender = peer.addTransceiver("video", direction="sendonly").sender
        install_packed_encoder(sender)
        assert isinstance(getattr(sender, SENDER_ENCODER), PackedFrameEncoder)
        with pytest.raises(RuntimeError, match="pinned"):
            install_packed_encoder(sender)  # already set: not a new sender
    finally:
        await peer.close()
    with pytest.raises(RuntimeError, match=SENDER_ENCODER):
        install_packed_encoder(SimpleNamespace())  # type: ignore[arg-type]


def test_the_encoder_passes_packed_frames_on_and_encodes_nothing() -> None:
    encoder = PackedFrameEncoder()
    payloads = [b"\x65abc"]
    assert encoder.pack(PackedFrame(payloads, 1234)) == (payloads, 1234)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        encoder.encode(av.VideoFrame(16, 16))


@pytest.mark.parametrize("nal_sizes", [(200,), (40, 30, 20), (5000,), (3000, 100, 2500)])
def test_payloads_are_aiortcs_own_packetisation(nal_sizes: tuple[int, ...]) -> None:
    frame = access_unit(*nal_sizes)
    packet = av.Packet(frame.data)
    packet.pts, packet.time_base = 0, Fraction(1, 90_000)
    expected, _ = H264Encoder().pack(packet)
    assert CameraPayloads().payloads(frame) == expected
    if max(nal_sizes) > 1300:
        assert len(expected) > len(nal_sizes)  # fragmented (FU-A)


def test_a_frame_without_nal_units_has_no_payloads() -> None:
    # aiortc's sender sends nothing for a frame without payloads, and goes on with the next.
    assert CameraPayloads().payloads(MediaFrame("h264", b"\x00\x00\x01", 0.0, False)) == []


def test_each_frame_is_packetised_once_for_every_viewer() -> None:
    payloads = CameraPayloads(kept=3)
    frames = [access_unit(100 + n) for n in range(5)]
    first = payloads.payloads(frames[0])
    assert payloads.payloads(frames[0]) is first and payloads.packetised == 1
    for frame in frames[1:]:
        payloads.payloads(frame)
    assert payloads.packetised == 5
    # Only the last three are kept: an older frame is packetised again, to the same payloads.
    assert payloads.payloads(frames[4]) is payloads.payloads(frames[4])
    assert payloads.packetised == 5
    again = payloads.payloads(frames[0])
    assert again == first and again is not first and payloads.packetised == 6
    # An equal but different frame object is not taken for a cached one.
    twin = access_unit(100)
    assert payloads.payloads(twin) == first and payloads.packetised == 7


def test_cameras_nobody_watches_are_dropped_and_their_count_kept() -> None:
    shared = SharedPayloads()
    assert shared.of(1) is shared.of(1) and shared.of(1) is not shared.of(2)
    shared.of(1).payloads(access_unit(100))
    shared.of(2).payloads(access_unit(100))
    shared.keep_only([2])
    assert shared.packetised() == 2
    assert shared.of(1).packetised == 0  # a new one
