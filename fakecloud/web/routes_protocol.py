"""JSON for the setup and protocol pages: recent captures (redacted), the redacted export,
and router recipes (docs/web.md, "Setup, status and protocol pages").

Security consideration: captures name peers, cameras and keys, so like the full status these
routes are for trusted networks and signed-in accounts only (ViewerDep), and every record
they give out goes through the export's redaction (passwords and tokens were already blanked
when recorded; MACs and p2p keys become pseudonyms here).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from fakecloud.capture.records import capture_files, read_records
from fakecloud.capture.redact import Pseudonyms, learn_secrets, redact_record, redact_records
from fakecloud.dns.recipes import RECIPE_FORMATS, render_recipe
from fakecloud.web.deps import RuntimeDep, ViewerDep, error_responses

router = APIRouter(tags=["setup"])

MAX_RECENT = 200
EXPORT_NAME = "fakecloud-capture-redacted.jsonl"
RecipeFormat = Literal["dnsmasq", "pihole", "unbound", "adguard", "openwrt", "hosts"]


def _records(files: list[Path]) -> Iterator[dict[str, Any]]:
    for path in files:
        yield from read_records(path)


def _latest(files: list[Path], limit: int, kind: str | None) -> list[dict[str, Any]]:
    # Reads every file (the rotation bounds them: capture_max_bytes each), keeps `limit`; in a
    # worker thread, so the server's loop never waits on the disk.
    chosen = (record for record in _records(files) if kind is None or record["kind"] == kind)
    # The pseudonyms are learned from these records alone: the page needs no stable names
    # across the whole log, only that nothing secret shows.
    return redact_records(deque(chosen, maxlen=limit))


@router.get("/api/captures", responses=error_responses(401))
async def recent_captures(
    runtime: RuntimeDep,
    _viewer: ViewerDep,
    limit: int = Query(50, ge=1, le=MAX_RECENT),
    kind: str | None = Query(None, max_length=32, description="only records of this kind"),
) -> dict[str, Any]:
    """The latest capture records, oldest first, redacted as the export is; `decoded` holds
    what fakecloud understood of a record, `hex` its raw bytes."""
    files = capture_files(runtime.settings.captures_dir)
    records = await run_in_threadpool(_latest, files, limit, kind)
    return {"files": [path.name for path in files], "records": records}


def _export_lines(files: list[Path], pseudonyms: Pseudonyms) -> Iterator[str]:
    for record in _records(files):
        yield json.dumps(redact_record(record, pseudonyms), ensure_ascii=False) + "\n"


@router.get(
    "/api/captures/export",
    responses={**error_responses(401, 404), 200: {"content": {"application/x-ndjson": {}}}},
    response_class=StreamingResponse,
)
async def export_captures(runtime: RuntimeDep, _viewer: ViewerDep) -> StreamingResponse:
    """Every capture as JSON lines, redacted like `fakecloud captures export`, as a download."""
    files = capture_files(runtime.settings.captures_dir)
    if not files:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "nothing has been captured yet")
    # Two passes, as the command does: a secret first seen late is hidden in earlier records.
    pseudonyms = await run_in_threadpool(learn_secrets, _records(files))
    return StreamingResponse(
        _export_lines(files, pseudonyms),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{EXPORT_NAME}"'},
    )


@router.get("/api/dns/recipe", responses=error_responses(401, 409))
async def dns_recipe(
    runtime: RuntimeDep,
    _viewer: ViewerDep,
    router_kind: Annotated[RecipeFormat, Query(alias="router")] = "dnsmasq",
) -> dict[str, Any]:
    """The router recipe (`fakecloud dns-config`) for one kind of router, pointing the vendor
    names at the announce address."""
    address = runtime.settings.effective_announce_address
    try:
        text = render_recipe(router_kind, runtime.catalogue, address)
    except ValueError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None
    return {
        "router": router_kind,
        "routers": list(RECIPE_FORMATS),
        "address": address,
        "text": text,
    }
