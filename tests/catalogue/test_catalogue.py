from __future__ import annotations

import pytest

from fakecloud.catalogue import builtin_catalogue, load_catalogue

PROTOCOL_SECTION_2 = [
    "server.seedonk.com",
    "www.seedonk.com",
    "mobileserver.seedonk.com",
    "netcam.belkin.com",
    "netcam-webserver-eu.belkin.com",
    "api.xbcs.net",
    "nat.xbcs.net",
    "devices.xbcs.net",
    "fw.xbcs.net",
]


@pytest.mark.parametrize("name", PROTOCOL_SECTION_2)
def test_every_protocol_hostname_is_listed(name: str) -> None:
    assert builtin_catalogue().is_listed(name)


@pytest.mark.parametrize(
    ("name", "redirected"),
    [
        ("server.seedonk.com", True),
        ("SERVER.Seedonk.COM.", True),
        ("video7.seedonk.com", True),
        ("netcam-webserver-eu.belkin.com", True),
        ("www.belkin.com", False),
        ("api.xbcs.net", False),  # the device pins Belkin's CA: redirecting would only break it
        ("seedonk.com.example.org", False),
        ("notseedonk.com", False),
    ],
)
def test_redirect_decisions(name: str, redirected: bool) -> None:
    assert builtin_catalogue().should_redirect(name) is redirected


def test_exact_entry_beats_wildcard() -> None:
    entry = builtin_catalogue().lookup("www.seedonk.com")
    assert entry is not None and entry.name == "www.seedonk.com"


def test_vendor_names_missing_from_catalogue_are_recognised() -> None:
    catalogue = builtin_catalogue()
    assert catalogue.is_vendor_name("relay3.seedonk.com")
    assert not catalogue.is_listed("relay3.seedonk.com")
    assert not catalogue.is_vendor_name("example.org")


def test_user_names_are_redirected_including_wildcards() -> None:
    catalogue = load_catalogue(["Cam.Example.org.", "*.lan.example"])
    assert catalogue.should_redirect("cam.example.org")
    assert catalogue.should_redirect("a.b.lan.example")
    assert not catalogue.should_redirect("lan.example")


def test_tend_names_are_listed_but_left_alone_unless_opted_in() -> None:
    catalogue = builtin_catalogue()
    tend = catalogue.opt_in_names("tend")
    assert "server.tend-us.tendplatform.com" in tend
    assert "media.hubs.tend-us.tendplatform.com" in tend
    assert not any(catalogue.should_redirect(name) for name in tend)
    opted_in = load_catalogue(tend)
    assert all(opted_in.should_redirect(name) for name in tend)
    # The listed entry is redirected as it is, with its description, not added a second time.
    entries = [entry for entry in opted_in.entries if entry.name == tend[0]]
    assert len(entries) == 1 and entries[0].confidence == "confirmed"


def test_a_listed_name_the_owner_adds_is_redirected() -> None:
    assert load_catalogue(["API.xbcs.net"]).should_redirect("api.xbcs.net")
