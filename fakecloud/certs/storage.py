"""Certificate files on disk: private keys born 0600, never overwritten; PEM decoding."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from fakecloud.certs.errors import CertsError

log = logging.getLogger(__name__)

PRIVATE_FILE_MODE = 0o600
PUBLIC_FILE_MODE = 0o644
CERTS_DIR_MODE = 0o700


def secure_directory(path: Path) -> None:
    """Create the certs dir as 0700, and tighten it if it already exists looser."""
    # Security consideration: the private keys inside are unencrypted; the directory mode is the
    # first barrier, so it is enforced on every start, not only on creation.
    path.mkdir(mode=CERTS_DIR_MODE, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != CERTS_DIR_MODE:
        path.chmod(CERTS_DIR_MODE)


def restrict_private(path: Path) -> None:
    """Put a private file found looser than 0600 (copied in by hand, say) back to 0600."""
    if path.stat().st_mode & 0o777 != PRIVATE_FILE_MODE:
        log.warning("%s was readable by others; setting it to 0600", path)
        path.chmod(PRIVATE_FILE_MODE)


def _write_temporary(directory: Path, data: bytes, mode: int) -> Path:
    # mkstemp creates the file 0600 before any byte is written, so a key is never readable by
    # others, not even for an instant; fchmod then sets the final mode whatever the umask.
    handle, name = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return Path(name)


def write_new_private(path: Path, data: bytes) -> bool:
    """Create a private file that must not exist yet; False if another writer got there first.

    The hard link is atomic and refuses to replace an existing file, so a key can never be
    overwritten, and a crash leaves either no key or a complete one.
    """
    temporary = _write_temporary(path.parent, data, PRIVATE_FILE_MODE)
    try:
        os.link(temporary, path)
    except FileExistsError:
        return False
    finally:
        temporary.unlink()
    return True


def write_public(path: Path, data: bytes) -> None:
    """Atomically create or replace a public file (a certificate or an export)."""
    temporary = _write_temporary(path.parent, data, PUBLIC_FILE_MODE)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def read_file(path: Path) -> bytes | None:
    """The file's bytes, or None when it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise CertsError(f"cannot read {path}: {error.strerror or error}") from None


def decode_certificate(data: bytes, origin: str) -> x509.Certificate:
    """One PEM certificate; anything else is a CertsError naming where it came from."""
    try:
        return x509.load_pem_x509_certificate(data)
    except Exception:  # cryptography raises ValueError and others on malformed input
        raise CertsError(f"{origin} is not a valid PEM certificate") from None


def decode_private_key(data: bytes, origin: str) -> rsa.RSAPrivateKey:
    """One unencrypted PEM RSA private key; anything else is a CertsError."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except Exception:  # ValueError, TypeError (encrypted key), UnsupportedAlgorithm, ...
        raise CertsError(f"{origin} is not a valid unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CertsError(f"{origin} holds a {type(key).__name__}, fakecloud expects an RSA key")
    return key


def encode_private_key(key: rsa.RSAPrivateKey) -> bytes:
    # Security consideration: the key is stored unencrypted so that `serve` can start unattended;
    # the 0600 file in a 0700 directory is what protects it.
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def encode_certificate(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)
