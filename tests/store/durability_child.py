"""Child process for the durability test: store activity in a loop, reporting each commit.

Each line is printed (and flushed) only after the write it names has returned, so every line
the parent reads names data that must survive a SIGKILL.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from fakecloud.store import PasswordHasher, Store

MAX_ROUNDS = 100_000
MAX_SECONDS = 60.0


def main(path: Path) -> None:
    store = Store(path, hasher=PasswordHasher(n=16))
    deadline = time.monotonic() + MAX_SECONDS
    for index in range(MAX_ROUNDS):
        if time.monotonic() > deadline:
            break
        login = f"user{index}"
        store.add_account(login, "a long password")
        print(f"account {login}", flush=True)
        camera = store.upsert_camera(
            mac=f"02:00:{index >> 24 & 255:02X}:{index >> 16 & 255:02X}:"
            f"{index >> 8 & 255:02X}:{index & 255:02X}",
            owner=login,
        )
        store.set_camera_presence(camera.id, True, ip="127.0.0.1", properties={"n": index})
        print(f"camera {camera.id} {camera.mac}", flush=True)
        store.add_event(camera.id, "motion-event", {"n": index})


if __name__ == "__main__":
    main(Path(sys.argv[1]))
