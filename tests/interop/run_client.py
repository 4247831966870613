"""Run one public-client session as its own process (the network-namespace test runs it with
`ip netns exec`): log in through the system resolver, list cameras over CXNet and REST, stream
until enough pictures decoded, stop; print what happened as one JSON line.

    python -m tests.interop.run_client --style R --token TOKEN --ca ca.pem --port 5104 \
        --rest-port 443 --pictures 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from tests.interop.clients import (
    Dialer,
    LoginFailed,
    Signalling,
    TendApi,
    dns_resolver,
    k_login,
    k_tls_context,
    lookup_resolver,
    r_login,
    r_tls_context,
)
from tests.interop.media import KStream, RStream, Stream
from tests.interop.pictures import Pictures
from tests.interop.wire import LOGIN_HOST

WITHIN = 30.0


async def session(args: argparse.Namespace) -> dict[str, object]:
    ca = Path(args.ca)
    if args.style == "R":
        dialer = Dialer(lookup_resolver(), r_tls_context())  # getaddrinfo: the system resolver
        signalling = Signalling("R", await r_login(dialer, LOGIN_HOST, args.port, args.token))
    else:
        dialer = Dialer(dns_resolver(), k_tls_context(ca))  # /etc/resolv.conf, DNS only
        signalling = Signalling("K", await k_login(dialer, args.port, args.token))
    rest_address = (await lookup_resolver()(args.rest_host))[0]  # fetch: getaddrinfo
    rest = await TendApi(args.token, rest_address, args.rest_port, k_tls_context(ca)).list_cameras()
    cxnet = signalling.cameras()
    pictures = Pictures()
    stream: Stream = (
        RStream(signalling, rest[0], pictures)
        if args.style == "R"
        else KStream(signalling, cxnet[0], pictures)
    )
    await stream.start()
    try:
        await pictures.until(args.pictures, WITHIN)
    finally:
        await stream.stop()
        await signalling.close()
    return {
        "hops": [[host, port] for host, port, _ in signalling.login.hops],
        "alias": signalling.alias,
        "cxnet_cameras": [camera.destination for camera in cxnet],
        "rest_cameras": [camera.alias for camera in rest],
        "relay": list(stream.relay or ()),
        "pictures": len(pictures.times),
        "sizes": sorted(pictures.sizes),
        "media_sent_after_punch": stream.quiet_since_ready(),
        "decrypt_failures": stream.video.decrypt_failures,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--style", choices=["R", "K"], required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--ca", required=True, help="fakecloud's CA certificate (K verifies)")
    parser.add_argument("--port", type=int, default=5104, help="the cloud (login) port")
    parser.add_argument("--rest-host", default="media.hubs.tend-us.tendplatform.com")
    parser.add_argument("--rest-port", type=int, default=443)
    parser.add_argument("--pictures", type=int, default=30)
    args = parser.parse_args()
    try:
        result = asyncio.run(session(args))
    except (LoginFailed, OSError, TimeoutError) as error:
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}))
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
