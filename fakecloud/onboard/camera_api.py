"""HTTP to a camera in setup mode: Basic auth, timeouts, size limits, and every answer kept in
the capture log (credentials are blanked when recorded; the request's values are not kept)."""

from __future__ import annotations

import httpx

from fakecloud.core.recording import Recorder

# Security consideration: the camera's pages are a few KiB; a bigger answer is cut off here.
MAX_ANSWER_BYTES = 256 << 10
TIMEOUT_SECONDS = 10.0
CAPTURE_KIND = "camera-setup"


NOT_REACHED_FIX = (
    "put the camera in setup mode (the switch on the back) and connect the machine that runs "
    "this to its NetCamXXXX Wi-Fi; the camera is at 10.68.68.22 there"
)


class CameraUnreachable(Exception):
    """The camera did not answer (as HTTP) or refused the credentials; the message says which,
    `fix` what to do where that is known."""

    def __init__(self, what: str, fix: str = "") -> None:
        super().__init__(what)
        self.fix = fix


class CameraApi:
    def __init__(
        self,
        base_url: str,
        user: str,
        password: str,
        recorder: Recorder | None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.recorder = recorder
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            auth=httpx.BasicAuth(user, password),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,  # a camera on its own Wi-Fi is never behind the user's proxy
        )

    async def __aenter__(self) -> CameraApi:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._client.aclose()

    async def call(
        self,
        step: str,
        path: str,
        form: dict[str, str] | None = None,
        *,
        method: str = "POST",
        params: dict[str, str] | None = None,
    ) -> str:
        """The answer's text (Latin-1: the firmware's pages are ASCII; nothing is lost)."""
        try:
            async with self._client.stream(method, path, data=form, params=params) as answer:
                body = bytearray()
                async for chunk in answer.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        break
                status = answer.status_code
        except httpx.HTTPError as error:
            reason = str(error) or type(error).__name__
            self._record(step, path, form, None, b"", reason)
            raise CameraUnreachable(
                f"the camera at {self.base_url} did not answer {path}: {reason}", NOT_REACHED_FIX
            ) from None
        data = bytes(body[:MAX_ANSWER_BYTES])
        self._record(step, path, form, status, data, None)
        if status == httpx.codes.UNAUTHORIZED:
            raise CameraUnreachable(
                "the camera refused the user name and password (setup mode uses admin/admin; "
                "give others with --camera-user and --camera-password-stdin)"
            )
        if status >= httpx.codes.BAD_REQUEST:
            raise CameraUnreachable(f"the camera answered {path} with HTTP {status}")
        return data.decode("latin-1")

    def _record(
        self,
        step: str,
        path: str,
        form: dict[str, str] | None,
        status: int | None,
        data: bytes,
        error: str | None,
    ) -> None:
        if self.recorder is None:
            return
        self.recorder.record(
            CAPTURE_KIND,
            data=data,
            peer=self.base_url,
            direction="in",
            step=step,
            path=path,
            status=status,
            error=error,
            sent_fields=sorted(form or {}),  # names only: the values hold passwords
        )
