"""UDP media relay: SDNK rendezvous, forwarding and bounded fan-out to viewers and taps."""

from fakecloud.relay.part import RelayPart
from fakecloud.relay.sessions import Allocation, RelayError
from fakecloud.relay.sinks import Tap

__all__ = ["Allocation", "RelayError", "RelayPart", "Tap"]
