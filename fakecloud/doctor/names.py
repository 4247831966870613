"""Names: does DNS send every vendor name here, and do the certificates carry those names?"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass
from datetime import datetime

import dns.asyncquery
import dns.exception
import dns.message
import dns.rdatatype
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from fakecloud.catalogue import WILDCARD_PROBE_LABEL, load_catalogue
from fakecloud.certs.authority import LEAF_ROLES, CertificateAuthority
from fakecloud.certs.errors import CertsError
from fakecloud.certs.issuing import SubjectNames
from fakecloud.core.config import WILDCARD_ADDRESSES, Settings
from fakecloud.core.netinfo import same_address
from fakecloud.doctor.report import Check, ok

DNS_TIMEOUT_SECONDS = 1.0
DNS_PARALLEL_QUERIES = 8
_RECIPE_HINT = "see `fakecloud dns-config` for your router"


@dataclass(frozen=True)
class Resolver:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Resolver:
        """HOST:PORT, [IPv6]:PORT or HOST (port 53)."""
        host, port = text, "53"
        if text.startswith("["):
            host, _, rest = text[1:].partition("]")
            port = rest.removeprefix(":") or "53"
        elif text.count(":") == 1:
            host, port = text.split(":")
        ipaddress.ip_address(host)  # dnspython sends to addresses only
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{text!r}: the port must be 1-65535")
        return cls(host, int(port))

    @classmethod
    def of_shim(cls, settings: Settings) -> Resolver:
        host = settings.bind_address
        if host in WILDCARD_ADDRESSES:
            host = "::1" if host == "::" else "127.0.0.1"
        return cls(host, settings.dns_port)

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def expected_answers(settings: Settings) -> dict[str, str]:
    """Each name to ask (a wildcard as a name under it) and the address it must resolve to."""
    expected = {}
    for entry in load_catalogue(settings.extra_hostnames).redirected:
        name = f"{WILDCARD_PROBE_LABEL}.{entry.domain}" if entry.is_wildcard else entry.name
        expected[name] = (
            settings.effective_broker_address
            if entry.name == settings.broker_hostname
            else settings.effective_announce_address
        )
    return expected


async def resolve(resolver: Resolver, name: str, want_ipv6: bool) -> list[str] | None:
    """The addresses the resolver gives for a name; None when it does not answer in time."""
    query = dns.message.make_query(name, dns.rdatatype.AAAA if want_ipv6 else dns.rdatatype.A)
    try:
        answer = await dns.asyncquery.udp(
            query, resolver.host, timeout=DNS_TIMEOUT_SECONDS, port=resolver.port
        )
    except (dns.exception.DNSException, OSError):
        return None
    return [item.to_text() for rrset in answer.answer for item in rrset]


def judge_answers(
    resolver: Resolver, expected: dict[str, str], got: dict[str, list[str] | None]
) -> Check:
    """Pure: every name must answer its expected address."""
    name = "dns"
    why = "cameras find the cloud by name; a name that does not lead here reaches nothing"
    silent = [host for host, found in got.items() if found is None]
    if len(silent) == len(got):
        return Check(
            name,
            "fail",
            f"{resolver} does not answer DNS queries",
            why,
            f"start fakecloud (its DNS shim), or check the resolver address; {_RECIPE_HINT}",
        )
    wrong = {
        host: found
        for host, found in got.items()
        if found is not None and not any(same_address(a, expected[host]) for a in found)
    }
    if wrong or silent:
        listed = "; ".join(
            [f"{host} -> {', '.join(found) or 'no address'}" for host, found in wrong.items()]
            + [f"{host} -> no answer" for host in silent]
        )
        return Check(
            name,
            "fail",
            f"{len(wrong) + len(silent)} of {len(got)} vendor names do not resolve here via "
            f"{resolver}: {listed}",
            why,
            f"make the resolver answer them with this host's address; {_RECIPE_HINT}",
            {"wrong": wrong, "silent": silent},
        )
    return ok(name, f"{resolver} answers all {len(got)} vendor names with this host's address")


async def check_dns(settings: Settings, resolver: Resolver | None) -> Check:
    if resolver is None and not settings.dns_enabled:
        return Check(
            "dns",
            "warn",
            "the DNS shim is off and no --resolver was given, so nothing was asked",
            "cameras must still get this host's address for the vendor names, from the router",
            "run `fakecloud doctor --resolver ROUTER_IP:53` to check the router",
        )
    resolver = resolver or Resolver.of_shim(settings)
    expected = expected_answers(settings)
    want_ipv6 = ":" in settings.effective_announce_address
    names = list(expected)
    # One name first: a resolver that does not answer costs one timeout, not one per name.
    got: dict[str, list[str] | None] = {names[0]: await resolve(resolver, names[0], want_ipv6)}
    if got[names[0]] is not None:
        gate = asyncio.Semaphore(DNS_PARALLEL_QUERIES)

        async def bounded(host: str) -> list[str] | None:
            async with gate:
                return await resolve(resolver, host, want_ipv6)

        answers = await asyncio.gather(*(bounded(host) for host in names[1:]))
        got.update(zip(names[1:], answers, strict=True))
    else:
        got.update(dict.fromkeys(names[1:]))
    return judge_answers(resolver, expected, got)


def judge_leaf(
    role: str, leaf: x509.Certificate, ca: x509.Certificate, wanted: SubjectNames, now: datetime
) -> Check | None:
    """Pure: a problem with one leaf certificate, or None."""
    name = f"certificate ({role})"
    fix = "restart `fakecloud serve`: it re-issues a leaf whose names or dates are wrong"
    if now < leaf.not_valid_before_utc or now > leaf.not_valid_after_utc:
        return Check(
            name,
            "fail",
            f"the {role} leaf is valid {leaf.not_valid_before_utc:%Y-%m-%d} to "
            f"{leaf.not_valid_after_utc:%Y-%m-%d}, not now",
            "TLS clients refuse a certificate outside its dates",
            fix,
        )
    try:
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return Check(name, "fail", f"the {role} leaf is not issued by this CA", "", fix)
    have = SubjectNames.of(leaf)
    missing = sorted(wanted.dns - have.dns) + sorted(str(ip) for ip in wanted.ips - have.ips)
    if missing:
        return Check(
            name,
            "warn",
            f"the {role} leaf does not name {', '.join(missing)}",
            "clients that check the name would refuse the connection",
            fix,
        )
    return None


def load_authority(settings: Settings) -> CertificateAuthority | CertsError:
    """The CA and leaves in the data folder (read only), or why they cannot be read."""
    try:
        return CertificateAuthority.load(settings.certs_dir)
    except CertsError as error:
        return error


def check_certificates(
    settings: Settings, authority: CertificateAuthority | CertsError, now: datetime
) -> list[Check]:
    if isinstance(authority, CertsError):
        return [
            Check(
                "certificates",
                "warn",
                f"no complete certificate set yet ({authority})",
                "the TLS cloud ports need them",
                "`fakecloud serve` (or `fakecloud certs create`) creates them",
            )
        ]
    names = [entry.name for entry in load_catalogue(settings.extra_hostnames).redirected]
    wanted = SubjectNames.build(names, settings.effective_announce_address)
    ca = authority.ca_certificate
    problems = [
        problem
        for role in LEAF_ROLES
        if (problem := judge_leaf(role, authority.leaf_certificate(role), ca, wanted, now))
    ]
    return problems or [
        ok("certificates", f"the CA and leaves are valid and name all {len(wanted.dns)} names")
    ]
