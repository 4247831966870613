"""The SQLite data-access layer: accounts, tokens, cameras, the session log and events.

Every public method is one short transaction. `Store` is synchronous (the CLI uses it as is);
the servers use `AsyncStore`, which runs these same methods on one worker thread.

`Store` is one class made of mixins, one per seam (accounts.py, cameras.py, activity.py,
web_sessions.py), all on StoreCore (core.py: the connection, lock and transactions). Mixins
rather than parts held by composition: every method shares one connection and one lock, some
run inside another's transaction, and callers (AsyncStore, the CLI) call them by name on one object.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fakecloud.store.accounts import AccountRows
from fakecloud.store.activity import ActivityRows
from fakecloud.store.cameras import CameraRows
from fakecloud.store.web_sessions import WebSessionRows


class Store(AccountRows, CameraRows, ActivityRows, WebSessionRows):
    """One SQLite database in WAL mode. Thread-safe (one lock), but meant for one thread."""


if TYPE_CHECKING:
    from fakecloud.store.protocol import AdminStore

    # The command line is typed with this Protocol; the SQLite store is checked against it.
    _implements: type[AdminStore] = Store
