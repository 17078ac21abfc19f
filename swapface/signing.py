"""C2PA signing: the local certificate and key, and a signed manifest added to a file.

`provenance` decides what the manifest says; this module only signs it (`c2pa-python`),
with the certificate chain and key in $SWAPFACE_C2PA_DIR (default
~/.config/swapface/c2pa). Where the user has none, a local pair is made on first use. A
local key proves nothing about who made the file (readers report it as untrusted), but
the claim and the content hash verify. Signing never stops a conversion: where it cannot
be done, `sign` says why and the file keeps its other labels.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import os
from pathlib import Path
from typing import BinaryIO

from swapface import files

log = logging.getLogger(__name__)

C2PA_DIR = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "swapface" / "c2pa"
CERT_FILE, KEY_FILE = "signer_chain.pem", "signer_key.pem"
YEARS_VALID = 10  # of the local certificates: a key made once serves for as long as the package does


def key_folder() -> Path:
    """Where the signing certificate chain and key live: $SWAPFACE_C2PA_DIR, else C2PA_DIR."""
    return Path(os.environ.get("SWAPFACE_C2PA_DIR") or C2PA_DIR)


def make_local_key(folder: str | Path) -> tuple[Path, Path]:
    """Write a local CA and an ES256 signing certificate it issued, plus the key, to `folder`.

    C2PA refuses a self-signed signing certificate, so a small two-level chain is made; the
    key file is readable by its owner only, from its first byte. A folder made here is too;
    an existing one (a shared folder) keeps its mode. Returns (chain .pem, key .pem).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder = Path(folder)
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(mode=0o700)
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "swapface (local key)")])

    def certificate(subject: str, issuer: x509.Name, public_key, is_ca: bool) -> x509.CertificateBuilder:
        usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                              data_encipherment=False, key_agreement=False, key_cert_sign=is_ca,
                              crl_sign=is_ca, encipher_only=False, decipher_only=False)
        return (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(issuer)
                .public_key(public_key).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=365 * YEARS_VALID))
                .add_extension(x509.BasicConstraints(ca=is_ca, path_length=0 if is_ca else None), critical=True)
                .add_extension(usage, critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("swapface local CA", name("swapface local CA"), ca_key.public_key(), True)
    ca = ca.sign(ca_key, hashes.SHA256())
    signer = (certificate("swapface signer", ca.subject, key.public_key(), False)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    chain = files.write_bytes_atomic(folder / CERT_FILE, signer.public_bytes(pem) + ca.public_bytes(pem))
    secret = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    key_path = files.write_bytes_atomic(folder / KEY_FILE, secret, mode=0o600)
    log.info("made a local C2PA signing key in %s", folder)
    return chain, key_path


@functools.lru_cache(maxsize=4)
def _signer_files(folder: Path) -> tuple[bytes, bytes] | None:
    """(certificate chain, private key) PEM bytes from `folder`; a local pair is made there only
    where it holds neither. None (with one warning) where they cannot be made or read.

    A key without its chain (or a chain without its key: misnamed, half copied) is the
    user's own: it is never replaced, only reported. A key others can read is reported too.
    """
    chain, key = folder / CERT_FILE, folder / KEY_FILE
    try:
        if not chain.exists() and not key.exists():
            make_local_key(folder)
        elif not chain.is_file() or not key.is_file():
            found, missing = (key, chain) if key.is_file() else (chain, key)
            log.warning("no C2PA manifest: %s is there but %s is not; both are left as they are (a local "
                        "key is made only in a folder holding neither)", found, missing)
            return None
        if key.stat().st_mode & 0o077:
            log.warning("%s: the C2PA private key is readable by other users; chmod 600 it", key)
        return chain.read_bytes(), key.read_bytes()
    except (OSError, ImportError, ValueError) as err:
        log.warning("no C2PA manifest: cannot make or read a signing key in %s (%s)", folder, err)
        return None


def sign(source: BinaryIO, destination: BinaryIO, mime: str, manifest: dict) -> str | None:
    """Copy binary stream `source` (an encoded image or mp4) to `destination` with `manifest`
    (a C2PA manifest definition) signed in; None when done, else why not (logged too).

    Where c2pa-python is missing or fails, the caller keeps its other labels: a label must
    never stop a conversion.
    """
    try:
        import c2pa
    except ImportError:
        log.debug("c2pa-python not installed: no C2PA manifest")
        return "c2pa-python is not installed"
    keys = _signer_files(key_folder())
    if keys is None:
        return f"no usable signing key in {key_folder()}"
    try:
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, keys[0], keys[1], None))
        with signer, c2pa.Builder(json.dumps(manifest)) as builder:
            builder.sign(signer, mime, source, destination)
        return None
    except Exception as err:  # noqa: BLE001 - a native library's errors vary; the other labels remain
        log.warning("no C2PA manifest (%s): %s", mime, err)
        return " ".join(str(err).split()) or type(err).__name__


def read_manifest(path: str | Path, mime: str) -> dict | None:
    """The C2PA manifest store of a file as a dict (c2pa-python's Reader), or None without one."""
    try:
        import c2pa
    except ImportError:
        return None
    try:
        with open(path, "rb") as file, c2pa.Reader(mime, file) as reader:
            return json.loads(reader.json())
    except Exception:  # noqa: BLE001 - no manifest, or one that does not parse: none to report
        return None
