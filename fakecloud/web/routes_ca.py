"""CA downloads for phones and computers: /ca.pem, /ca.der, /ca.mobileconfig."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response, status

from fakecloud.certs import CertificateAuthority, ExportFormat
from fakecloud.web.deps import get_runtime

router = APIRouter(tags=["ca"])

# The types each platform's installer recognises: iOS opens a profile from
# application/x-apple-aspen-config, Android and Windows offer to install x-x509-ca-cert.
_DOWNLOADS: dict[ExportFormat, tuple[str, str]] = {
    "pem": ("application/x-pem-file", "fakecloud-ca.pem"),
    "der": ("application/x-x509-ca-cert", "fakecloud-ca.der"),
    "mobileconfig": ("application/x-apple-aspen-config", "fakecloud-ca.mobileconfig"),
}


def _authority(request: Request) -> CertificateAuthority:
    authority = get_runtime(request).services.authority
    if authority is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            "no certificate authority is configured on this server",
        )
    return authority


def _download(request: Request, export_format: ExportFormat) -> Response:
    media_type, filename = _DOWNLOADS[export_format]
    # Security consideration: only the public CA certificate is ever served here; the keys are
    # never read by the web app.
    return Response(
        _authority(request).export(export_format),
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/ca.pem", response_class=Response)
async def ca_pem(request: Request) -> Response:
    return _download(request, "pem")


@router.get("/ca.der", response_class=Response)
async def ca_der(request: Request) -> Response:
    return _download(request, "der")


@router.get("/ca.mobileconfig", response_class=Response)
async def ca_mobileconfig(request: Request) -> Response:
    return _download(request, "mobileconfig")
