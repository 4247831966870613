# fakecloud container image: slim Python, non-root user, only the capability to bind ports < 1024.
# Multi-arch: `docker buildx build --platform linux/amd64,linux/arm64 .` works as is, because
# python:3.12-slim and every dependency (PyAV, numpy, cryptography) ship wheels for both.
# armv7 (32-bit Raspberry Pi OS) is not built: PyAV and numpy publish no armv7 wheels, so pip
# compiles them, which needs build-essential, pkg-config and FFmpeg's development packages
# (libavformat-dev libavcodec-dev libavdevice-dev libavfilter-dev libswscale-dev
# libswresample-dev) kept installed, and takes hours on a Pi: run a 64-bit OS instead.
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
# capability, so the file capability is the only privilege the image can ever use. It works for
# any uid, so `user:` (PUID/PGID in compose) may pick the owner of a bind-mounted folder.
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
EXPOSE 53/udp 53/tcp 80/tcp 443/tcp 5104/tcp 5105/tcp 6178/tcp 6178/udp 8000/tcp 8080/tcp 8554/tcp

# Asks /healthz where the settings say the app listens (bind address, HTTP port, config file).
# Only the HTTP app counts: a DNS shim that cannot have port 53 is a logged warning, not a
# failure, so a host running systemd-resolved or Pi-hole never sees a restart loop.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["fakecloud", "--log-level", "error", "healthcheck"]

ENTRYPOINT ["fakecloud"]
CMD ["serve"]
