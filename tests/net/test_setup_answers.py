"""The camera's setup answers: the layouts we know, and any text parsed without an error."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fakecloud.net.setup_answers import (
    ACCOUNT_ERRORS,
    Site,
    format_sites,
    leaves_setup_mode,
    parse_account_answer,
    parse_settings,
    parse_sites,
    parse_verify,
)

HOME = Site("6", "Home net", "aa:bb:cc:dd:ee:01", "WPA2PSK/AES", "80", "NO")
OPEN = Site("11", "Cafe", "aa:bb:cc:dd:ee:02", "NONE", "20", "YES")


def test_sites_round_trip_with_spaces_and_colons() -> None:
    assert parse_sites(format_sites([HOME, OPEN])) == [HOME, OPEN]
    assert (HOME.auth_mode, HOME.encryption) == ("WPA2PSK", "AES")
    assert (OPEN.auth_mode, OPEN.encryption) == ("OPEN", "NONE")
    assert Site("1", "x", "", "WPAPSK", "", "").encryption == "AES"


def test_site_labels_in_any_case_and_spacing() -> None:
    [site] = parse_sites("channel: 3  ssid: Attic  mac: 00:11:22:33:44:55 security: WEP\n")
    assert (site.channel, site.ssid, site.bssid, site.security) == (
        "3",
        "Attic",
        "00:11:22:33:44:55",
        "WEP",
    )
    assert parse_sites("CHANNEL: SSID: MAC: SECURITY: SIGNAL: WPS:\r\n") == []  # a header only


def test_verify_words() -> None:
    assert parse_verify("success\n") == "success"
    assert parse_verify("  Fail  to   DNS ") == "fail to dns"
    assert parse_verify("") == "pending" and parse_verify("connecting") == "pending"


def test_account_answers() -> None:
    assert parse_account_answer("success").success
    refused = parse_account_answer("5\r\n")
    assert refused.error == 5 and refused.meaning == "account already exists"
    assert parse_account_answer("error: 3").error == 3
    odd = parse_account_answer("<html>busy</html>")
    assert odd.error is None and "not known yet" in odd.meaning


def test_settings_in_several_layouts() -> None:
    text = 'MacAddress=94:10:3e:00:00:01\r\nvar FirmwareVersion = "2.4.8.5";\nModel: F7D7601&x=1'
    found = parse_settings(text)
    assert found["MacAddress"] == "94:10:3e:00:00:01"
    assert found["FirmwareVersion"] == "2.4.8.5" and found["Model"] == "F7D7601"


def test_unsetup() -> None:
    assert leaves_setup_mode("\r\nUnsetupMode\r\nsecret=1")
    assert not leaves_setup_mode("error")


@given(st.text(max_size=3000))
def test_any_answer_parses(text: str) -> None:
    assert len(parse_sites(text)) <= 256
    assert parse_verify(text) in (
        "success",
        "fail to get ip",
        "fail to dns",
        "fail to ping",
        "pending",
    )
    answer = parse_account_answer(text)
    assert answer.error is None or 0 <= answer.error < len(ACCOUNT_ERRORS)
    assert isinstance(answer.meaning, str)
    assert len(parse_settings(text)) <= 256
    leaves_setup_mode(text)


@given(
    st.lists(
        st.tuples(st.sampled_from(["CHANNEL", "SSID", "MAC", "wps", "x"]), st.text(max_size=20)),
        max_size=30,
    )
)
def test_label_soup_parses(pairs: list[tuple[str, str]]) -> None:
    line = " ".join(f"{label}:{value}" for label, value in pairs)
    for site in parse_sites(line):
        assert site.ssid and site.auth_mode and site.encryption
