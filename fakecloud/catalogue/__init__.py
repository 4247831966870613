"""The hostname catalogue: which vendor names fakecloud answers for, and why."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Literal

Confidence = Literal["confirmed", "inferred", "unknown", "user"]
# The first label of the name `fakecloud doctor` asks under a wildcard entry: no device uses it,
# so the DNS shim does not count it as a discovered name.
WILDCARD_PROBE_LABEL = "fakecloud-doctor-probe"


def normalise(name: str) -> str:
    """Lower case, no trailing dot: the form every comparison uses."""
    return name.strip().rstrip(".").lower()


@dataclass(frozen=True)
class HostEntry:
    name: str
    callers: str
    purpose: str
    ports: tuple[str, ...]
    confidence: Confidence
    redirect: bool
    # A group of names redirected only when the owner opts in (see Settings.tend_names).
    opt_in: str | None = None

    @property
    def is_wildcard(self) -> bool:
        return self.name.startswith("*.")

    @property
    def domain(self) -> str:
        """The name without a wildcard's leading '*.'."""
        return self.name[2:] if self.is_wildcard else self.name

    def matches(self, qname: str) -> bool:
        """True for the name itself, or for any subdomain when the entry is a wildcard."""
        qname = normalise(qname)
        if self.is_wildcard:
            return qname.endswith("." + self.domain)
        return qname == self.name


@dataclass(frozen=True)
class Catalogue:
    entries: tuple[HostEntry, ...]
    vendor_domains: tuple[str, ...]

    @property
    def redirected(self) -> tuple[HostEntry, ...]:
        return tuple(entry for entry in self.entries if entry.redirect)

    def lookup(self, qname: str) -> HostEntry | None:
        """The most specific entry for a name: an exact entry beats a wildcard."""
        qname = normalise(qname)
        exact = next((e for e in self.entries if not e.is_wildcard and e.matches(qname)), None)
        if exact:
            return exact
        wildcards = [e for e in self.entries if e.is_wildcard and e.matches(qname)]
        return max(wildcards, key=lambda e: len(e.domain), default=None)

    def should_redirect(self, qname: str) -> bool:
        entry = self.lookup(qname)
        return bool(entry and entry.redirect)

    def is_vendor_name(self, qname: str) -> bool:
        qname = normalise(qname)
        return any(qname == d or qname.endswith("." + d) for d in self.vendor_domains)

    def is_listed(self, qname: str) -> bool:
        """Listed by name (not only through a wildcard): discovery records the rest."""
        qname = normalise(qname)
        return any(not e.is_wildcard and e.name == qname for e in self.entries)

    def with_extra_names(self, names: list[str]) -> Catalogue:
        """The catalogue with these names redirected too; a name it lists but leaves alone
        keeps its description and is redirected, because the owner asked for it."""
        extra = list(dict.fromkeys(filter(None, map(normalise, names))))
        listed = {entry.name for entry in self.entries}
        entries = tuple(
            replace(entry, redirect=True) if entry.name in extra else entry
            for entry in self.entries
        )
        added = tuple(
            HostEntry(name, "user", "added in configuration", ("any",), "user", True)
            for name in extra
            if name not in listed
        )
        return Catalogue(entries + added, self.vendor_domains)

    def opt_in_names(self, group: str) -> list[str]:
        return [entry.name for entry in self.entries if entry.opt_in == group]


@cache
def builtin_catalogue() -> Catalogue:
    raw = json.loads(resources.files(__package__).joinpath("hostnames.json").read_text())
    entries = tuple(
        HostEntry(
            name=normalise(item["name"]),
            callers=item["callers"],
            purpose=item["purpose"],
            ports=tuple(item["ports"]),
            confidence=item["confidence"],
            redirect=bool(item["redirect"]),
            opt_in=item.get("opt_in"),
        )
        for item in raw["hosts"]
    )
    return Catalogue(entries, tuple(raw["vendor_domains"]))


def load_catalogue(extra_names: list[str] | None = None) -> Catalogue:
    return builtin_catalogue().with_extra_names(extra_names or [])
