"""Which port each camera's ONVIF device keeps: camera ids are large random numbers, and an NVR
remembers a device by host and port, so each camera is given the lowest free port from
FAKECLOUD_ONVIF_PORT_BASE on first use and keeps it (onvif-ports.json in the data folder)."""

from __future__ import annotations

import json
import os
from pathlib import Path

PORTS_FILE = "onvif-ports.json"
MAX_DEVICES = 1024


class PortBook:
    def __init__(self, data_dir: Path, base: int) -> None:
        self.path = data_dir / PORTS_FILE
        self.base = base
        self.ports: dict[int, int] = _read(self.path)

    def port_for(self, camera_id: int) -> int | None:
        """The camera's port (given now if it has none); None when every port is taken."""
        if camera_id in self.ports:
            return self.ports[camera_id]
        taken = set(self.ports.values())
        limit = min(65536, self.base + MAX_DEVICES)
        port = next((p for p in range(self.base, limit) if p not in taken), None)
        if port is not None:
            self.ports[camera_id] = port
            self._write()
        return port

    def _write(self) -> None:
        text = json.dumps({str(camera): port for camera, port in sorted(self.ports.items())})
        partial = self.path.with_suffix(".tmp")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(text)
        partial.replace(self.path)


def _read(path: Path) -> dict[int, int]:
    """The kept ports; a missing or damaged file starts afresh (ports are then given anew)."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict):
        return {}
    ports: dict[int, int] = {}
    for camera, port in found.items():
        if isinstance(camera, str) and camera.isdigit() and isinstance(port, int):
            if 0 < port < 65536:
                ports[int(camera)] = port
    return ports
