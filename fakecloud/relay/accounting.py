"""What the relay counts (drops by reason) and records (rate-limited capture events)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from fakecloud.core.rates import TokenBucket
from fakecloud.core.recording import Recorder
from fakecloud.net.sdnk import Address

RECORDED_BYTES = 256


class RelayAccounting:
    def __init__(
        self, recorder: Recorder | None, records_per_second: float, local_port: Callable[[], int]
    ) -> None:
        self.drops: Counter[str] = Counter()
        self._recorder = recorder
        self._record_budget = TokenBucket(records_per_second, 2 * records_per_second)
        self._local_port = local_port

    def drop(self, reason: str, data: bytes, source: Address, **fields: Any) -> None:
        """Count a datagram dropped for `reason` and record it (within the record budget)."""
        self.drops[reason] += 1
        self.record(reason, data=data, peer=f"{source.host}:{source.port}", **fields)

    def record(self, event: str, *, data: bytes | None = None, **fields: Any) -> None:
        # Security consideration: a flood of junk must not flood the capture log too.
        if self._recorder is None or not self._record_budget.take():
            return
        self._recorder.record(
            "relay",
            data=None if data is None else data[:RECORDED_BYTES],
            event=event,
            local_port=self._local_port(),
            **fields,
        )
