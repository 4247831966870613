"""DNS benchmark: the fakecloud shim against dnsmasq, side by side, on loopback.

Run by hand from the repository root:  python bench/dns/run.py [--seconds 5]

Both servers get the same redirections (dnsmasq through the `fakecloud dns-config --format dnsmasq`
recipe), the same upstream (a local stub that knows the forwarded names) and the same query files.
For each server and query mix it runs dnsperf twice: flat out (queries/s, lost queries, average
latency) and rate-limited to 1,000 queries/s with per-query output (p99 latency).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from dnslib import QTYPE, RR, A, DNSRecord

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from fakecloud.catalogue import load_catalogue  # noqa: E402
from fakecloud.dns.recipes import render_recipe  # noqa: E402

LOOPBACK = "127.0.0.1"
FORWARDED = [f"host{index}.bench.test" for index in range(20)]
REDIRECTED = [
    "server.seedonk.com A",
    "www.seedonk.com A",
    "netcam.belkin.com A",
    "cam1.seedonk.com A",
    "server.seedonk.com AAAA",
]
MIXES = {
    "redirected": REDIRECTED,
    "mixed": REDIRECTED + [f"{name} A" for name in FORWARDED],
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def run_stub_upstream(sock: socket.socket, stop: threading.Event) -> None:
    """Answer every name with 192.0.2.1 (TTL 300): both servers then cache it alike."""
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            data, addr = sock.recvfrom(4096)
        except TimeoutError:
            continue
        query = DNSRecord.parse(data)
        reply = query.reply()
        if query.q.qtype == QTYPE.A:
            reply.add_answer(RR(query.q.qname, QTYPE.A, ttl=300, rdata=A("192.0.2.1")))
        sock.sendto(reply.pack(), addr)


def wait_until_answering(port: int, deadline_seconds: float = 10) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        result = subprocess.run(
            ["dig", "+short", "+time=1", "+tries=1", "-p", str(port), f"@{LOOPBACK}",
             "server.seedonk.com"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.stdout.strip() == LOOPBACK:
            return
    raise SystemExit(f"server on port {port} did not answer within {deadline_seconds} s")


@dataclass
class Figures:
    qps: float
    lost: int
    sent: int
    average_ms: float
    p99_ms: float


def dnsperf(port: int, query_file: Path, seconds: float, *extra: str) -> str:
    return subprocess.run(
        ["dnsperf", "-s", LOOPBACK, "-p", str(port), "-d", str(query_file), "-l", str(seconds),
         *extra],
        capture_output=True, text=True, check=True, timeout=seconds + 30,
    ).stdout  # fmt: skip


def figure(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    if found is None:
        raise SystemExit(f"dnsperf output lacks {pattern!r}:\n{text}")
    return float(found.group(1))


def measure(port: int, query_file: Path, seconds: float) -> Figures:
    flat_out = dnsperf(port, query_file, seconds, "-c", "4", "-T", "2", "-q", "100")
    sent = int(figure(r"Queries sent:\s+(\d+)", flat_out))
    lost = int(figure(r"Queries lost:\s+(\d+)", flat_out))
    qps = figure(r"Queries per second:\s+([\d.]+)", flat_out)
    average = figure(r"Average Latency \(s\):\s+([\d.]+)", flat_out)
    paced = dnsperf(port, query_file, seconds, "-Q", "1000", "-v")
    # With -v, dnsperf prints "> RCODE name type latency" per answer ("> T ..." = timed out).
    latencies = sorted(
        float(line.split()[-1])
        for line in paced.splitlines()
        if line.startswith("> ") and not line.startswith("> T ")
    )
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] if latencies else float("nan")
    return Figures(qps, lost, sent, average * 1000, p99 * 1000)


def start_shim(port: int, upstream_port: int) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FAKECLOUD_")}
    env |= {
        "FAKECLOUD_ANNOUNCE_ADDRESS": LOOPBACK,
        "FAKECLOUD_BIND_ADDRESS": LOOPBACK,
        "FAKECLOUD_LOG_LEVEL": "warning",
        "PYTHONPATH": str(REPO),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "fakecloud", "dns", "--port", str(port),
         "--upstream", f"{LOOPBACK}:{upstream_port}"],
        env=env, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def start_dnsmasq(port: int, upstream_port: int, workdir: Path) -> subprocess.Popen[bytes]:
    conf = workdir / "dnsmasq.conf"
    recipe = render_recipe("dnsmasq", load_catalogue(), LOOPBACK)
    conf.write_text(recipe + f"server={LOOPBACK}#{upstream_port}\n")
    dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    return subprocess.Popen(
        [dnsmasq, "--keep-in-foreground", "--no-resolv", "--no-hosts", "--bind-interfaces",
         f"--listen-address={LOOPBACK}", f"--port={port}", f"--conf-file={conf}",
         "--pid-file=", "--user=root", "--cache-size=1000"],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each dnsperf run")
    args = parser.parse_args()
    stop_stub = threading.Event()
    upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    upstream.bind((LOOPBACK, 0))
    stub = threading.Thread(target=run_stub_upstream, args=(upstream, stop_stub), daemon=True)
    stub.start()
    upstream_port = upstream.getsockname()[1]
    results: dict[tuple[str, str], Figures] = {}
    with tempfile.TemporaryDirectory() as temporary:
        workdir = Path(temporary)
        query_files = {}
        for mix, lines in MIXES.items():
            query_files[mix] = workdir / f"{mix}.txt"
            query_files[mix].write_text("\n".join(lines) + "\n")
        servers = {
            "fakecloud": lambda port: start_shim(port, upstream_port),
            "dnsmasq": lambda port: start_dnsmasq(port, upstream_port, workdir),
        }
        for server, start in servers.items():
            port = free_port()
            process = start(port)
            try:
                wait_until_answering(port)
                for mix, query_file in query_files.items():
                    results[(server, mix)] = measure(port, query_file, args.seconds)
            finally:
                stop(process)
    stop_stub.set()
    stub.join(timeout=5)
    upstream.close()
    print(f"{'mix':<11} {'server':<10} {'queries/s':>10} {'lost/sent':>11} {'avg ms':>7}", end="")
    print(f" {'p99 ms @1k qps':>15}")
    for (server, mix), figures in sorted(results.items(), key=lambda item: item[0][::-1]):
        print(
            f"{mix:<11} {server:<10} {figures.qps:>10.0f} {figures.lost:>4}/{figures.sent:<6}"
            f" {figures.average_ms:>7.3f} {figures.p99_ms:>15.3f}"
        )
    for mix in MIXES:
        ratio = results[("fakecloud", mix)].qps / results[("dnsmasq", mix)].qps
        print(f"{mix}: fakecloud reaches {ratio:.2f}x dnsmasq's queries/s")
    redirected = results[("fakecloud", "redirected")]
    ok = (
        results[("fakecloud", "redirected")].qps >= 0.3 * results[("dnsmasq", "redirected")].qps
        and redirected.lost == 0
        and redirected.p99_ms < 2.0
    )
    print("targets (>= 0.3x dnsmasq, no loss, p99 < 2 ms):", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
