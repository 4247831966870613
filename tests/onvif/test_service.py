"""The ONVIF request policy: the clock is open, everything else needs the owner's token or a
client on the trusted networks; unknown operations and forgotten cameras are faults."""

from __future__ import annotations

import ipaddress

from lxml import etree

from fakecloud.onvif.auth import TokenChecker, load_key
from fakecloud.onvif.service import OnvifService
from fakecloud.onvif.soap import NAMESPACES
from tests.onvif.conftest import LOGIN, Onvif
from tests.onvif.devices import DEVICE
from tests.onvif.requests import request

TRUSTED = [ipaddress.ip_network("10.0.0.0/8")]
ENV = NAMESPACES["env"]


def service(onvif: Onvif) -> OnvifService:
    return OnvifService(TokenChecker(onvif.store, load_key(onvif.part.settings.data_dir)), TRUSTED)


def subcode(body: bytes) -> str | None:
    value = etree.fromstring(body).find(f".//{{{ENV}}}Subcode/{{{ENV}}}Value")
    return None if value is None else value.text


async def test_the_clock_is_open_and_the_rest_needs_a_token(onvif: Onvif) -> None:
    answers = service(onvif)
    clock = await answers.answer(
        "device_service", request("device", "GetSystemDateAndTime"), DEVICE, "192.0.2.1"
    )
    assert clock.status == 200
    refused = await answers.answer(
        "device_service", request("device", "GetScopes"), DEVICE, "192.0.2.1"
    )
    assert (refused.status, subcode(refused.body)) == (400, "ter:NotAuthorized")
    trusted = await answers.answer(
        "device_service", request("device", "GetScopes"), DEVICE, "10.1.2.3"
    )
    assert trusted.status == 200


async def test_the_owners_token_passes_anyone_elses_does_not(onvif: Onvif) -> None:
    answers = service(onvif)
    signed = request("media", "GetProfiles", login=LOGIN, password=onvif.onvif_password)
    assert (await answers.answer("media_service", signed, DEVICE, "192.0.2.1")).status == 200
    others = DEVICE.__class__(**{**DEVICE.__dict__, "owner": "bob"})
    signed_again = request("media", "GetProfiles", login=LOGIN, password=onvif.onvif_password)
    answer = await answers.answer("media_service", signed_again, others, "192.0.2.1")
    assert subcode(answer.body) == "ter:NotAuthorized"


async def test_unknown_operations_wrong_services_and_forgotten_cameras(onvif: Onvif) -> None:
    answers = service(onvif)
    media_on_device = await answers.answer(
        "device_service", request("media", "GetProfiles"), DEVICE, "10.0.0.1"
    )
    assert (media_on_device.status, subcode(media_on_device.body)) == (
        500,
        "ter:ActionNotSupported",
    )
    unsupported = await answers.answer(
        "device_service", request("device", "SystemReboot"), DEVICE, "10.0.0.1"
    )
    assert subcode(unsupported.body) == "ter:ActionNotSupported"
    forgotten = await answers.answer(
        "device_service", request("device", "GetScopes"), None, "10.0.0.1"
    )
    assert subcode(forgotten.body) == "ter:ActionNotSupported"
