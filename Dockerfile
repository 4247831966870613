# fakecloud container image: slim Python, non-root user, only the capability to bind ports < 1024.
# Multi-arch: python:3.12-slim exists for amd64, arm64 and armv7; PyAV ships wheels for amd64 and
# arm64 (on other architectures pip builds it and needs the FFmpeg development packages).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/fakecloud
COPY pyproject.toml README.md ./
COPY fakecloud ./fakecloud

# Security consideration: the process runs as an unprivileged user. Binding DNS (53) and the
# cloud's ports 80/443 needs CAP_NET_BIND_SERVICE, given to the interpreter as a file capability
# (Docker grants added capabilities to non-root users only that way); compose drops every other
# capability, so the file capability is the only privilege the image can ever use.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin iputils-ping \
 && pip install . \
 && setcap cap_net_bind_service=+ep "$(readlink -f /usr/local/bin/python3)" \
 && apt-get purge -y libcap2-bin \
 && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin fakecloud \
 && mkdir -p /data \
 && chown fakecloud:fakecloud /data \
 && chmod 0700 /data

USER fakecloud
ENV FAKECLOUD_DATA_DIR=/data \
    FAKECLOUD_DNS_PORT=53 \
    FAKECLOUD_HTTP_PORT=8000
VOLUME ["/data"]
EXPOSE 53/udp 53/tcp 80/tcp 443/tcp 5104/tcp 5105/tcp 6178/tcp 6178/udp 8000/tcp 8080/tcp

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('FAKECLOUD_HTTP_PORT', '8000'), timeout=4)"]

ENTRYPOINT ["fakecloud"]
CMD ["serve"]
