"""`fakecloud captures`: look at, share (redacted) and replay what fakecloud recorded."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter, deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from fakecloud.capture.records import capture_files, preview, read_records, record_data
from fakecloud.capture.redact import Pseudonyms, learn_secrets, redact_record
from fakecloud.capture.replay import (
    RecordedConnection,
    recorded_connections,
    replay_connection,
)
from fakecloud.core.config import Settings
from fakecloud.core.errors import UserError
from fakecloud.sim import client_tls_context, parse_server

MAX_SHOW = 100_000
_DETAIL_WIDTH = 100


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    captures = commands.add_parser(
        "captures",
        help="inspect, export (redacted) and replay recorded traffic",
        description="fakecloud records traffic it does not understand in "
        "<data dir>/captures/capture.jsonl; these commands read it.",
    )
    actions = captures.add_subparsers(title="actions", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="capture files, sizes and counts per kind")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=_list)

    show = actions.add_parser("show", help="the latest records, readable")
    show.add_argument("file", nargs="?", help="one capture file (default: all, oldest first)")
    show.add_argument("--kind", help="only records of this kind")
    show.add_argument("--limit", type=int, default=50, help="how many of the latest (default 50)")
    show.set_defaults(handler=_show)

    export = actions.add_parser(
        "export",
        help="every capture as one JSON-lines stream, secrets and MACs replaced by pseudonyms",
    )
    export.add_argument("--output", type=Path, help="file to write (default: standard output)")
    export.set_defaults(handler=_export)

    replay = actions.add_parser(
        "replay", help="send a capture's inbound bytes to a server and print the answers"
    )
    replay.add_argument("file", help="capture file (a name in the captures folder, or a path)")
    replay.add_argument("--server", required=True, help="HOST:PORT to send to")
    replay.add_argument("--connection", help="only this connection id")
    replay.add_argument("--tls", action="store_true", help="TLS for every connection")
    replay.add_argument(
        "--wait", type=float, default=1.0, help="seconds of silence that end an answer (default 1)"
    )
    replay.set_defaults(handler=_replay)


def _resolve(name: str, settings: Settings) -> Path:
    for candidate in (Path(name), settings.captures_dir / name):
        if candidate.is_file():
            return candidate
    raise UserError(f"no capture file {name!r} (see 'fakecloud captures list')")


def _all_records(
    files: list[Path], bad_lines: Counter[str] | None = None
) -> Iterator[dict[str, Any]]:
    for path in files:

        def count_bad(_number: int, _reason: str, name: str = path.name) -> None:
            if bad_lines is not None:
                bad_lines[name] += 1

        yield from read_records(path, count_bad)


def _list(args: argparse.Namespace, settings: Settings) -> int:
    summaries: list[dict[str, Any]] = []
    for path in capture_files(settings.captures_dir):
        bad: Counter[str] = Counter()
        kinds = Counter(record["kind"] for record in _all_records([path], bad))
        summaries.append(
            {
                "file": path.name,
                "bytes": path.stat().st_size,
                "records": sum(kinds.values()),
                "unreadable_lines": bad[path.name],
                "kinds": dict(kinds.most_common()),
            }
        )
    if args.json:
        print(json.dumps(summaries, indent=2))
    elif not summaries:
        print(f"no captures in {settings.captures_dir}")
    else:
        for summary in summaries:
            kind_counts = ", ".join(f"{kind} {count}" for kind, count in summary["kinds"].items())
            damaged = summary["unreadable_lines"]
            print(
                f"{summary['file']:<20} {summary['bytes']:>10} bytes  "
                f"{summary['records']:>6} records  {kind_counts}"
                + (f"  ({damaged} unreadable lines)" if damaged else "")
            )
    return 0


def describe(record: dict[str, Any]) -> str:
    """One line: time, kind, peer and the decoded form or a hex preview."""
    details = record.get("decoded")
    data = record_data(record)
    if details is not None:
        text = details if isinstance(details, str) else json.dumps(details, ensure_ascii=False)
        shown = text[:_DETAIL_WIDTH] + ("…" if len(text) > _DETAIL_WIDTH else "")
    elif data is not None:
        shown = preview(data)
    else:
        extras = {
            key: value
            for key, value in record.items()
            if key not in ("time", "kind", "peer", "connection")
        }
        shown = json.dumps(extras, ensure_ascii=False)[:_DETAIL_WIDTH]
    connection = f" [{record['connection']}]" if "connection" in record else ""
    return (
        f"{record.get('time', '?')}  {record['kind']:<12} {record.get('peer', '-')}"
        f"{connection}  {shown}"
    )


def _show(args: argparse.Namespace, settings: Settings) -> int:
    if not 0 < args.limit <= MAX_SHOW:
        raise UserError(f"--limit is between 1 and {MAX_SHOW}")
    files = [_resolve(args.file, settings)] if args.file else capture_files(settings.captures_dir)
    latest: deque[dict[str, Any]] = deque(maxlen=args.limit)
    latest.extend(
        record for record in _all_records(files) if args.kind is None or record["kind"] == args.kind
    )
    if not latest:
        print("no matching records")
    for record in latest:
        print(describe(record))
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    files = capture_files(settings.captures_dir)
    if not files:
        raise UserError(f"no captures in {settings.captures_dir}")
    # Two passes over the files: a secret first seen late is still hidden in earlier records.
    pseudonyms = learn_secrets(_all_records(files))
    if args.output is None:
        _write_redacted(files, pseudonyms, sys.stdout)
        return 0
    try:
        with args.output.open("w", encoding="utf-8") as output:
            count = _write_redacted(files, pseudonyms, output)
    except OSError as error:
        raise UserError(f"cannot write {args.output}: {error}") from None
    print(f"{count} redacted records written to {args.output}; review before sharing")
    return 0


def _write_redacted(files: list[Path], pseudonyms: Pseudonyms, output: TextIO) -> int:
    count = 0
    for record in _all_records(files):
        output.write(json.dumps(redact_record(record, pseudonyms), ensure_ascii=False) + "\n")
        count += 1
    return count


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    try:
        host, port = parse_server(args.server)
    except ValueError as error:
        raise UserError(str(error)) from None
    if not 0 < args.wait <= 60:
        raise UserError("--wait is between 0 and 60 seconds")
    connections = recorded_connections(_all_records([_resolve(args.file, settings)]))
    if args.connection is not None:
        connections = [c for c in connections if c.id == args.connection]
    if not connections:
        raise UserError("nothing to replay: no inbound bytes recorded for that selection")
    return asyncio.run(_replay_all(connections, host, port, args.tls, args.wait))


async def _replay_all(
    connections: list[RecordedConnection], host: str, port: int, force_tls: bool, wait: float
) -> int:
    failures = 0
    for connection in connections:
        tls = force_tls or connection.tls
        result = await replay_connection(
            connection,
            host,
            port,
            tls_context=client_tls_context() if tls else None,
            reply_timeout=wait,
        )
        print(f"connection {result.connection}: sent {result.sent} bytes{' over TLS' * tls}")
        for reply in result.replies:
            print(f"  <- {len(reply)} bytes: {preview(reply)}")
        if result.error:
            failures += 1
            print(f"  !! {result.error}")
    return 1 if failures else 0
