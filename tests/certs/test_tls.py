"""Real TLS on loopback: openssl and Python clients against the device and app contexts."""

from __future__ import annotations

import asyncio
import ssl
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st

from fakecloud.certs import DEFAULT_APP_NAMES, CertificateAuthority, CertsError, Profile
from fakecloud.certs.issuing import LeafRole
from fakecloud.certs.tls import AppNameMatcher
from tests.certs.conftest import ANNOUNCE, concrete, redirected_names

HANDSHAKE_TIMEOUT = 10.0


@asynccontextmanager
async def tls_server(context: ssl.SSLContext) -> AsyncIterator[int]:
    """A TLS echo-nothing server on 127.0.0.1 that holds each connection until the client quits."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(reader.read(1), HANDSHAKE_TIMEOUT)
        except (OSError, TimeoutError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(
        hold, "127.0.0.1", 0, ssl=context, ssl_handshake_timeout=HANDSHAKE_TIMEOUT
    )
    async with server:
        yield server.sockets[0].getsockname()[1]


async def s_client(port: int, *options: str) -> str:
    """Run `openssl s_client` against the port; its combined output."""
    process = await asyncio.create_subprocess_exec(
        "openssl",
        "s_client",
        "-connect",
        f"127.0.0.1:{port}",
        *options,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return output.decode(errors="replace")


@dataclass(frozen=True)
class Handshake:
    version: str
    cipher: str
    certificate: bytes


async def handshake(port: int, client: ssl.SSLContext, server_name: str | None) -> Handshake:
    """Connect with a Python client; what was negotiated and the DER certificate presented."""
    _reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=client, server_hostname=server_name or ""),
        HANDSHAKE_TIMEOUT,
    )
    try:
        connection = writer.get_extra_info("ssl_object")
        der = connection.getpeercert(binary_form=True)
        assert der is not None
        return Handshake(connection.version(), connection.cipher()[0], der)
    finally:
        writer.close()
        await writer.wait_closed()


async def peer_certificate(port: int, client: ssl.SSLContext, server_name: str | None) -> bytes:
    return (await handshake(port, client, server_name)).certificate


def verifying_client(authority: CertificateAuthority) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(authority.ca_pem_path))


def legacy_client(authority: CertificateAuthority) -> ssl.SSLContext:
    """What a 2012 camera offers: TLS 1.0 only, RSA key exchange only."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0 is the point here
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1
    context.set_ciphers("AES128-SHA:@SECLEVEL=0")
    context.load_verify_locations(cafile=str(authority.ca_pem_path))
    return context


def der_of(authority: CertificateAuthority, role: LeafRole) -> bytes:
    return authority.leaf_certificate(role).public_bytes(serialization.Encoding.DER)


async def test_openssl_verifies_every_redirected_name(
    shared_authority: CertificateAuthority,
) -> None:
    names = [concrete(name) for name in redirected_names()] + [ANNOUNCE]
    async with tls_server(shared_authority.server_context("device")) as port:
        outputs = await asyncio.gather(
            *(
                s_client(
                    port,
                    "-CAfile",
                    str(shared_authority.ca_pem_path),
                    "-servername",
                    name,
                    "-verify_hostname" if name != ANNOUNCE else "-verify_ip",
                    name,
                    "-verify_return_error",
                )
                for name in names
            )
        )
    for name, output in zip(names, outputs, strict=True):
        assert "Verify return code: 0 (ok)" in output, f"{name}:\n{output}"


async def test_openssl_rejects_a_name_outside_the_catalogue(
    shared_authority: CertificateAuthority,
) -> None:
    async with tls_server(shared_authority.server_context("device")) as port:
        output = await s_client(
            port,
            "-CAfile",
            str(shared_authority.ca_pem_path),
            "-verify_hostname",
            "example.org",
            "-verify_return_error",
        )
    assert "Verify return code: 0 (ok)" not in output
    assert "hostname mismatch" in output


@pytest.mark.parametrize("profile", ["device", "app"])
async def test_sni_picks_the_leaf(shared_authority: CertificateAuthority, profile: Profile) -> None:
    client = verifying_client(shared_authority)
    async with tls_server(shared_authority.server_context(profile)) as port:
        for name in DEFAULT_APP_NAMES:
            assert await peer_certificate(port, client, name) == der_of(shared_authority, "app")
        for name in ("server.seedonk.com", "anything.seedonk.com"):
            assert await peer_certificate(port, client, name) == der_of(shared_authority, "device")
        no_sni = ssl.create_default_context(cafile=str(shared_authority.ca_pem_path))
        no_sni.check_hostname = False
        assert await peer_certificate(port, no_sni, None) == der_of(shared_authority, "device")


async def test_legacy_tls10_client_gets_through_the_device_context(
    shared_authority: CertificateAuthority,
) -> None:
    async with tls_server(shared_authority.server_context("device")) as port:
        legacy = await handshake(port, legacy_client(shared_authority), "server.seedonk.com")
        assert (legacy.version, legacy.cipher) == ("TLSv1", "AES128-SHA")
        output = await s_client(
            port,
            "-tls1",
            "-cipher",
            "AES256-SHA:@SECLEVEL=0",
            "-CAfile",
            str(shared_authority.ca_pem_path),
            "-verify_return_error",
        )
    assert "Verify return code: 0 (ok)" in output, output
    assert "Protocol  : TLSv1\n" in output and "AES256-SHA" in output


async def test_modern_client_still_gets_forward_secrecy_on_the_device_context(
    shared_authority: CertificateAuthority,
) -> None:
    async with tls_server(shared_authority.server_context("device")) as port:
        modern = await handshake(port, verifying_client(shared_authority), "server.seedonk.com")
        tls12_client = verifying_client(shared_authority)
        tls12_client.maximum_version = ssl.TLSVersion.TLSv1_2
        tls12 = await handshake(port, tls12_client, "server.seedonk.com")
    assert modern.version == "TLSv1.3"
    # the server's preference order puts ECDHE first whenever the client offers it
    assert tls12.version == "TLSv1.2" and tls12.cipher.startswith("ECDHE-")


async def test_app_context_refuses_tls10(shared_authority: CertificateAuthority) -> None:
    async with tls_server(shared_authority.server_context("app")) as port:
        # OpenSSL answers with an alert, or resets, depending on how far the hello got
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            await peer_certificate(port, legacy_client(shared_authority), "netcam.belkin.com")
        output = await s_client(port, "-tls1", "-cipher", "AES128-SHA:@SECLEVEL=0")
        assert "Cipher is (NONE)" in output or "no protocols available" in output, output
        # the listener survives the refused client
        client = verifying_client(shared_authority)
        assert await peer_certificate(port, client, "netcam.belkin.com") == der_of(
            shared_authority, "app"
        )


async def test_renewed_app_leaf_is_served_without_restart(tmp_path: Path) -> None:
    authority = CertificateAuthority.ensure(tmp_path / "certs", redirected_names(), ANNOUNCE)
    client = verifying_client(authority)
    async with tls_server(authority.server_context("device")) as port:
        before = await peer_certificate(port, client, "netcam.belkin.com")
        authority.renew_app_leaf()
        after = await peer_certificate(port, client, "netcam.belkin.com")
    assert before != after == der_of(authority, "app")


async def test_app_names_are_configurable(tmp_path: Path) -> None:
    authority = CertificateAuthority.ensure(
        tmp_path / "certs", redirected_names(), ANNOUNCE, app_names=["*.seedonk.com"]
    )
    client = verifying_client(authority)
    async with tls_server(authority.server_context("app")) as port:
        assert await peer_certificate(port, client, "www.seedonk.com") == der_of(authority, "app")
        assert await peer_certificate(port, client, "netcam.belkin.com") == der_of(
            authority, "device"
        )


def test_same_context_object_per_profile(shared_authority: CertificateAuthority) -> None:
    assert shared_authority.server_context("device") is shared_authority.server_context("device")
    assert shared_authority.server_context("app") is not shared_authority.server_context("device")


def test_unusable_cipher_list_is_a_clear_error(tmp_path: Path) -> None:
    authority = CertificateAuthority.ensure(
        tmp_path / "certs", redirected_names(), ANNOUNCE, device_ciphers="NO-SUCH-CIPHER"
    )
    with pytest.raises(CertsError, match="cipher list"):
        authority.server_context("device")


@given(st.one_of(st.none(), st.text(max_size=300), st.binary(max_size=40)))
def test_app_name_matching_never_raises(server_name: object) -> None:
    matcher = AppNameMatcher([*DEFAULT_APP_NAMES, "*.example.com"])
    assert (server_name in matcher) in (True, False)


def test_app_name_matching() -> None:
    matcher = AppNameMatcher(["NetCam.Belkin.com.", "*.example.com"])
    assert "netcam.belkin.com" in matcher
    assert "a.b.example.com" in matcher
    assert "example.com" not in matcher
    assert "server.seedonk.com" not in matcher
