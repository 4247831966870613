"""The report: exit code only on failures, JSON and text forms."""

from __future__ import annotations

import json

from fakecloud.doctor.report import Check, Report, ok


def test_warnings_do_not_fail_and_failures_do() -> None:
    advice = Report((ok("a", "fine"), Check("b", "warn", "hm", "why", "fix")))
    assert advice.exit_code == 0 and advice.as_json()["healthy"]
    broken = Report((*advice.checks, Check("c", "fail", "broken", "why", "do this")))
    assert broken.exit_code == 1
    assert json.loads(json.dumps(broken.as_json()))["counts"] == {
        "ok": 1,
        "warn": 1,
        "fail": 1,
        "skip": 0,
    }
    text = broken.as_text()
    assert "[FAIL] c: broken" in text and "fix: do this" in text
    assert text.endswith("(1 failed, 1 warnings, 1 ok, 0 skipped)")
