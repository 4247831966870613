"""An app session's own alias: whose it is, unguessable, and whole inside an SDNK id."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from fakecloud.broker.session import new_session_alias
from fakecloud.net.sdnk import ID_SIZE, Address, Register, decode
from fakecloud.relay.sessions import media_id
from fakecloud.store.models import new_account_alias
from tests.interop.conftest import is_session_alias

PRINTABLE_ASCII = st.text(string.ascii_letters + string.digits + string.punctuation, max_size=80)


def test_a_session_alias_is_the_account_alias_and_118_random_bits() -> None:
    account_alias = new_account_alias()
    aliases = {new_session_alias(account_alias) for _ in range(200)}
    assert len(aliases) == 200
    for alias in aliases:
        assert is_session_alias(alias, account_alias)
        # 6 + 1 + 23 characters: `V_<alias>` is exactly an SDNK id, nothing cut.
        assert len(alias) == ID_SIZE - 2 and media_id("video", alias) == f"V_{alias}"


@given(PRINTABLE_ASCII)
def test_any_account_alias_keeps_at_least_16_random_characters_inside_the_id(
    account_alias: str,
) -> None:
    alias = new_session_alias(account_alias)
    prefix, _, random_part = alias.rpartition("-")
    assert account_alias.startswith(prefix)
    assert len(random_part) >= 16 and set(random_part) <= set(string.ascii_lowercase + "0123456789")
    # The whole alias survives the 32-byte id, so two sessions never share one by cutting.
    ids = (media_id("video", alias), "V_5")
    register = Register(0, "V", Address("127.0.0.1", 40000), ids)
    assert decode(register.encode()) == register
