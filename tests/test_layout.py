"""Tests mirror the package: `fakecloud/a/b.py` is tested in `tests/a/test_b.py`.

A module without its own test file is listed below with the reason; the list may only shrink
when a module gets its file, and a listed module that has one (or no longer exists) fails too.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fakecloud"

# module (relative to fakecloud/) -> where it is tested instead, and why
TESTED_ELSEWHERE: dict[str, str] = {
    "__main__.py": "two lines calling cli.main; every CLI test runs `python -m fakecloud`",
    "broker/binding.py": "tests/broker/test_pairing.py: pending, paired and refused cameras",
    "broker/connection.py": "refusals: tests/broker/test_login_flow.py and test_dispatch.py",
    "broker/context.py": "a dataclass of what the broker's parts share; every Broker builds one",
    "broker/login.py": "tests/broker/test_pairing.py and test_public_logins.py: login forms",
    "broker/recording.py": "test_dispatch.py (early frames) and test_pairing.py (no secrets kept)",
    "certs/errors.py": "exception types, raised and asserted in tests/certs/test_authority.py",
    "certs/storage.py": "key and certificate files (0600): tests/certs/test_authority.py",
    "cli/account.py": "tests/store/test_cli_store.py runs `fakecloud account` for real",
    "cli/camera.py": "tests/store/test_cli_store.py and tests/broker/test_pairing.py",
    "cli/dns_config.py": "tests/dns/test_recipes.py (the recipes) and tests/cli/test_main.py",
    "cli/healthcheck.py": "tests/cli/test_first_run.py and tests/test_docker.py",
    "doctor/run.py": "tests/cli/test_doctor.py runs every check against a real server",
    "cli/hostnames.py": "tests/test_readme.py (the README's table) and tests/catalogue",
    "cli/pair.py": "tests/broker/test_pairing.py opens a pairing window with the CLI",
    "cli/serve.py": "tests/test_serve.py starts `fakecloud serve` as a child process",
    "cli/sim.py": "tests/sim/test_app.py and tests/cli/test_first_run.py",
    "core/errors.py": "UserError, asserted wherever input is refused (tests/core/test_config.py)",
    "core/parts.py": "a Protocol, no behaviour; every part's own tests start and stop it",
    "core/recording.py": "the Recorder protocol; tests/capture/test_log.py records through it",
    "media/frames.py": "the MediaFrame value object every media test builds",
    "media/outputs/muxing.py": "tests/media/outputs/test_hls.py and test_flv.py (ffprobe)",
    "media/outputs/streaming.py": "tests/media/outputs/test_mjpeg.py and test_flv.py",
    "media/rtsp/connection.py": "tests/media/rtsp/test_server.py: real ffmpeg over TCP and UDP",
    "media/outputs/packaging.py": "tests/media/outputs/test_hls.py and test_llhls.py",
    "media/watchers.py": "tests/recording/test_part.py: the recorder's task makes a camera stream",
    "runtime.py": "tests/test_serve.py (/api/status) and every test building a web app",
    "server.py": "tests/test_serve.py, tests/test_hosts.py and tests/interop run the server",
    "store/schema.py": "migrations: tests/store/test_core.py and test_durability.py",
    "web/app.py": "every test under tests/web builds the app",
    "web/asgi.py": "tests/web/test_limits.py and tests/frontdoor (HTTP on the cloud ports)",
    "web/deps.py": "tests/web/test_status_access.py, test_hosts.py and test_sessions.py",
    "web/http_part.py": "tests/web/test_limits.py on a real listener",
    "web/routes_llhls.py": "tests/media/outputs/test_llhls.py over real HTTP (ffprobe, ffmpeg)",
    "web/routes_api.py": "tests/web/test_status_access.py and tests/media/test_viewer_e2e.py",
    "web/routes_ca.py": "tests/certs/test_routes_ca.py, with the certs tests' shared authority",
    "web/routes_events.py": "tests/motion/test_part.py: /api/events with thumbnails over HTTP",
    "web/routes_health.py": "tests/test_serve.py and tests/test_docker.py (/healthz)",
    "web/routes_recordings.py": "tests/recording/test_part.py: list, Range and download over HTTP",
    "web/routes_setup.py": "tests/web/test_input_bounds.py and tests/net/test_camsetup.py",
    "web/routes_wemo.py": "tests/wemo/test_part.py: a sensor's NOTIFY over real HTTP",
}


def expected_test_file(module: Path) -> Path:
    relative = module.relative_to(PACKAGE)
    return ROOT / "tests" / relative.parent / f"test_{relative.stem}.py"


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py")


def test_every_module_has_its_test_file_or_a_reason() -> None:
    missing = [
        str(module.relative_to(PACKAGE))
        for module in modules()
        if not expected_test_file(module).exists()
        and str(module.relative_to(PACKAGE)) not in TESTED_ELSEWHERE
    ]
    assert not missing, (
        "modules without tests/<package>/test_<module>.py (add one, or a reason in "
        f"TESTED_ELSEWHERE): {missing}"
    )


def test_the_exceptions_are_still_needed() -> None:
    names = {str(module.relative_to(PACKAGE)): module for module in modules()}
    stale = [
        name
        for name in TESTED_ELSEWHERE
        if name not in names or expected_test_file(names[name]).exists()
    ]
    assert not stale, f"remove from TESTED_ELSEWHERE (gone, or has its own test file): {stale}"
