"""What the broker keeps in the capture log: logins and frames it does not understand."""

from __future__ import annotations

from typing import Any

from fakecloud.broker.login import LoginRequest
from fakecloud.broker.session import ConnectionInfoLike
from fakecloud.core.recording import Recorder
from fakecloud.net.cxnet import Frame, encode_frame

# A recorded frame keeps at most this many bytes.
MAX_RECORDED_BYTES = 4096


def peer_text(info: ConnectionInfoLike) -> str:
    """`host:port` (`[host]:port` for IPv6), as the store's session log shows peers."""
    host, port = info.peer[0], info.peer[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class BrokerRecording:
    """Records to the capture log (or nowhere, without a recorder)."""

    def __init__(self, recorder: Recorder | None) -> None:
        self.recorder = recorder

    def record(
        self, kind: str, info: ConnectionInfoLike, *, data: bytes | None = None, **fields: Any
    ) -> None:
        if self.recorder is not None:
            self.recorder.record(
                kind,
                data=data,
                peer=peer_text(info),
                local_port=info.local_port,
                tls=info.tls,
                sni=info.sni,
                connection=info.id,
                direction="in",
                **fields,
            )

    def login(
        self,
        info: ConnectionInfoLike,
        frame: Frame,
        request: LoginRequest,
        *,
        refused: str | None = None,
    ) -> None:
        """One `login` record. Security consideration: a login carrying a secret is kept only
        decoded, its secret removed (`request.reported` never holds it); raw bytes are kept
        only for a login without one."""
        extra: dict[str, Any] = {} if refused is None else {"refused": refused}
        if request.known_form:
            extra["credential"] = "token" if request.is_token else "password"
        self.record(
            "login",
            info,
            data=None if request.secret or request.identity_secret else frame.options + frame.body,
            decoded=request.reported,
            role=request.role,
            known_form=request.known_form,
            **extra,
        )

    def frame(self, info: ConnectionInfoLike, frame: Frame, *, note: str) -> None:
        self.record(
            "frame",
            info,
            data=encode_frame(frame)[:MAX_RECORDED_BYTES],
            action=frame.action,
            note=note,
        )
