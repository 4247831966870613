"""The whole fakecloud in-process on loopback, as the viewer tests run it."""

from __future__ import annotations

from tests.media.test_viewer_e2e import cloud

__all__ = ["cloud"]
