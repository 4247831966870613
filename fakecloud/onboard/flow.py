"""The setup sequence of docs/protocol.md section 5, step by step, each failure explained."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from fakecloud.net.setup_answers import (
    NO_SUCH_ACCOUNT,
    Site,
    leaves_setup_mode,
    parse_account_answer,
    parse_settings,
    parse_sites,
    parse_verify,
)
from fakecloud.onboard.camera_api import CameraApi

PREVIEW_PATH = "/apcam/for-android/CamPreview.asp"
PAIRING_MINUTES = 10.0  # the camera's first login within this joins the account
STEPS = ("preview", "settings", "scan", "join", "verify", "account", "register", "finish")
_DNS_FIX = (
    "make the Wi-Fi network's DNS answer server.seedonk.com with fakecloud's address: set the "
    "router's DNS server to the fakecloud host, or add the overrides `fakecloud dns-config` "
    "prints; check with `fakecloud doctor --resolver ROUTER_IP:53`"
)
VERIFY_FAILURES = {
    "fail to get ip": (
        "the camera could not join the network or got no address from it",
        "check the Wi-Fi password and the network name; the camera joins 2.4 GHz networks only "
        "[I]; make sure the router hands out addresses (DHCP)",
    ),
    "fail to dns": (
        "the camera joined the network but could not look up server.seedonk.com",
        _DNS_FIX,
    ),
    "fail to ping": (
        "the camera found server.seedonk.com but that host did not answer ping",
        "allow ICMP echo on the fakecloud host's firewall, and check that the name resolves "
        "to the fakecloud host (`fakecloud doctor`)",
    ),
}
ACCOUNT_FIX = {
    0: "check the account's password (`fakecloud account passwd LOGIN` sets it)",
    3: "create it: `fakecloud account add LOGIN`",
    7: "the camera could not reach the cloud: " + _DNS_FIX,
    8: "the camera timed out reaching the cloud: is `fakecloud serve` running?",
}
Progress = Callable[[str, str], None]


@dataclass(frozen=True)
class SetupPlan:
    ssid: str
    wifi_password: str
    login: str
    password: str
    email: str
    name: str
    server_host: str
    time_zone: str = "UTC"
    description: str = ""
    partner: str = "Belkin"
    poll_interval: float = 2.0
    poll_timeout: float = 120.0


class SetupFailed(Exception):
    def __init__(self, step: str, what: str, fix: str) -> None:
        super().__init__(f"{step}: {what}")
        self.step, self.what, self.fix = step, what, fix


def choose_site(sites: list[Site], ssid: str) -> Site:
    exact = [site for site in sites if site.ssid == ssid]
    loose = [site for site in sites if site.ssid.casefold() == ssid.casefold()]
    found = exact or loose
    if not found:
        seen = ", ".join(sorted({site.ssid for site in sites})) or "no network at all"
        raise SetupFailed(
            "scan",
            f"the camera does not see a network called {ssid!r} (it sees: {seen})",
            "check the name; bring the camera closer to the router; it joins 2.4 GHz only [I]",
        )
    return max(found, key=lambda site: int(site.signal) if site.signal.isdigit() else 0)


def join_form(site: Site, password: str) -> dict[str, str]:
    return {
        "apcli_ssid": site.ssid,
        "apcli_bssid": site.bssid,
        "apcli_channel": site.channel,
        "apcli_enc": site.encryption,
        "apcli_mode": site.auth_mode,
        "apcli_wpapsk": password,
    }


async def wait_for_network(api: CameraApi, plan: SetupPlan, progress: Progress) -> None:
    deadline = time.monotonic() + plan.poll_timeout
    for _ in range(math.ceil(plan.poll_timeout / plan.poll_interval) + 1):
        outcome = parse_verify(await api.call("verify", "/goform/verifyApcliMode"))
        if outcome == "success":
            return
        if outcome != "pending":
            what, fix = VERIFY_FAILURES[outcome]
            raise SetupFailed("verify", f"the camera says '{outcome}': {what}", fix)
        if time.monotonic() >= deadline:
            break
        progress("verify", "still connecting...")
        await asyncio.sleep(plan.poll_interval)  # the camera's own pace: it is polled, not told
    raise SetupFailed(
        "verify",
        f"the camera did not finish joining {plan.ssid!r} within {plan.poll_timeout:g} s",
        "check the Wi-Fi password and that the router is in reach, then run setup again",
    )


async def sign_in(api: CameraApi, plan: SetupPlan) -> str:
    """The camera logs in to the cloud with the account, or creates it there when it is unknown."""
    form = {"owner_name": plan.login, "owner_password": plan.password}
    answer = parse_account_answer(await api.call("account", "/goform/login", form))
    how = "logged in"
    if answer.error == NO_SUCH_ACCOUNT:
        form = {
            "seedonk_login": plan.login,
            "seedonk_passwd": plan.password,
            "seedonk_email": plan.email,
        }
        answer = parse_account_answer(await api.call("account", "/goform/createAccount", form))
        how = "created the account and logged in"
    if not answer.success:
        fix = ACCOUNT_FIX.get(answer.error if answer.error is not None else -1, "")
        raise SetupFailed(
            "account", f"the camera's account call failed: {answer.meaning}", fix or _DNS_FIX
        )
    return how


async def set_up_camera(api: CameraApi, plan: SetupPlan, progress: Progress) -> dict[str, str]:
    """Run every step; returns what the camera said about itself. SetupFailed says which step
    failed, what the camera said in plain words, and the fix."""
    params = {
        "SeedonkServerIp": plan.server_host,
        "PartnerId": plan.partner,
        "TZ": plan.time_zone,
        "LanguageId": "0",
    }
    await api.call("preview", PREVIEW_PATH, method="GET", params=params)
    progress("preview", f"told the camera its cloud is {plan.server_host}")
    facts = parse_settings(await api.call("settings", "/goform/getSystemSettings"))
    shown = ", ".join(f"{key} {value}" for key, value in list(facts.items())[:4])
    progress("settings", f"camera: {shown or 'no settings it could read'}")
    site = choose_site(parse_sites(await api.call("scan", "/goform/getApSitesInfo")), plan.ssid)
    progress("scan", f"found {site.ssid} (channel {site.channel}, {site.security or 'open'})")
    await api.call("join", "/goform/wirelessAplist", join_form(site, plan.wifi_password))
    progress("join", f"asked the camera to join {site.ssid}")
    await wait_for_network(api, plan, progress)
    progress("verify", "the camera is on the network, found server.seedonk.com and pinged it")
    progress("account", f"the camera {await sign_in(api, plan)} as {plan.login}")
    form = {"cameraname": plan.name, "cameradesc": plan.description or plan.name}
    answer = parse_account_answer(await api.call("register", "/goform/camRegister", form))
    if not answer.success:
        raise SetupFailed(
            "register", f"registering the camera failed: {answer.meaning}", ACCOUNT_FIX[8]
        )
    progress("register", f"registered as {plan.name!r}")
    finished = await api.call("finish", "/goform/apcamMode")
    progress(
        "finish",
        "the camera left setup mode and restarts on your Wi-Fi"
        if leaves_setup_mode(finished)
        else "the camera's last answer was not UnsetupMode (recorded in the capture log)",
    )
    return facts
