"""What a check finds, and a report of them: JSON for programs, lines for people."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Status = Literal["ok", "warn", "fail", "skip"]
_MARKS: dict[Status, str] = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}


@dataclass(frozen=True)
class Check:
    """One finding. `what` says what was looked at and what was found, `why` why it matters,
    `fix` what to do (empty when nothing is needed). Only "fail" means cameras would be stopped."""

    name: str
    status: Status
    what: str
    why: str = ""
    fix: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def ok(name: str, what: str, **details: Any) -> Check:
    return Check(name, "ok", what, details=details)


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def failed(self) -> bool:
        return any(check.status == "fail" for check in self.checks)

    @property
    def exit_code(self) -> int:
        """1 when something would stop cameras, else 0 (warnings are advice)."""
        return 1 if self.failed else 0

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = dict.fromkeys(_MARKS, 0)
        for check in self.checks:
            found[check.status] += 1
        return found

    def as_json(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "healthy": not self.failed,
            "counts": self.counts(),
            "checks": [asdict(check) for check in self.checks],
        }

    def as_text(self) -> str:
        lines = []
        for check in self.checks:
            lines.append(f"[{_MARKS[check.status]}] {check.name}: {check.what}")
            if check.status != "ok" and check.why:
                lines.append(f"       why: {check.why}")
            if check.fix:
                lines.append(f"       fix: {check.fix}")
        counts = self.counts()
        verdict = "something would stop cameras" if self.failed else "nothing would stop cameras"
        lines.append(
            f"{verdict} ({counts['fail']} failed, {counts['warn']} warnings, "
            f"{counts['ok']} ok, {counts['skip']} skipped)"
        )
        return "\n".join(lines)
