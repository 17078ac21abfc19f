"""Labelling what swapface makes as synthetic: in the file's metadata and, by default, visibly.

Every image and video swapface writes with a generated face goes through here (converted
photos and videos, the training preview, the evaluation report). Three labels, for three
kinds of reader:

* a plain one: a PNG text chunk, a JPEG comment, an mp4 `comment` tag;
* the standard one that platforms read: XMP with the IPTC digital source type
  `trainedAlgorithmicMedia` (a PNG iTXt chunk, a JPEG APP1 segment, an mp4 `uuid` box);
* a signed C2PA manifest (`c2pa-python`) saying the same, signed with the key in
  $SWAPFACE_C2PA_DIR (default ~/.config/swapface/c2pa), which is made on first use when
  the user has none. A local key proves nothing about who made the file (readers report it
  as untrusted), but the claim and the content hash verify.

The metadata survives renaming; the visible mark survives screenshots. `--no-mark` drops
only the visible mark.

Example:
    >>> from swapface import media, provenance
    >>> image = media.read_image("data/obama/c000_f00000.jpg")
    >>> path = provenance.write_image("out.png", provenance.add_mark(image))
    >>> provenance.read_label("out.png")
    'synthetic: face swapped by swapface'
"""

from __future__ import annotations

import datetime
import functools
import io
import json
import logging
import os
import re
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, PngImagePlugin

from swapface import media

log = logging.getLogger(__name__)

LABEL = "synthetic: face swapped by swapface"
MARK_TEXT = "synthetic"
# IPTC's term for media made by a model trained on sampled content: what platforms look for.
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
XMP_KEYWORD = "XML:com.adobe.xmp"  # the PNG iTXt keyword for XMP
XMP_JPEG_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"  # how a JPEG APP1 segment says it holds XMP
XMP_MP4_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")  # the XMP box of ISO base media files
MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".mp4": "video/mp4"}


def add_mark(image: np.ndarray) -> np.ndarray:
    """A copy of uint8 BGR `image` with a small "synthetic" label in its bottom-right corner.

    The text scales with the image height, on a dark box so it reads on any background.
    """
    out = image.copy()
    height, width = out.shape[:2]
    scale = max(0.3, height / 900)
    thickness = max(1, int(round(scale * 1.5)))
    (text_w, text_h), base = cv2.getTextSize(MARK_TEXT, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = max(2, int(4 * scale))
    x0, y0 = width - text_w - 3 * pad, height - text_h - base - 3 * pad
    box = out[max(y0, 0):height - pad, max(x0, 0):width - pad]
    box[:] = (box * 0.4).astype(np.uint8)
    cv2.putText(out, MARK_TEXT, (x0 + pad, height - base - 2 * pad), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), thickness, cv2.LINE_AA)
    return out


def xmp_packet() -> bytes:
    """The XMP packet (UTF-8) labelling a file as made by a trained model, with our label as
    its description and swapface as the creator tool."""
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
            ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
            '  <rdf:Description rdf:about=""\n'
            '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
            '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
            '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
            f'    Iptc4xmpExt:DigitalSourceType="{DIGITAL_SOURCE_TYPE}"\n'
            '    xmp:CreatorTool="swapface">\n'
            f'   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{LABEL}</rdf:li></rdf:Alt></dc:description>\n'
            '  </rdf:Description>\n'
            ' </rdf:RDF>\n'
            '</x:xmpmeta>\n'
            '<?xpacket end="r"?>').encode()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _with_xmp(data: bytes, suffix: str) -> bytes:
    """Encoded PNG or JPEG `data` with the XMP packet inserted near the start, pixels untouched.

    PNG: an uncompressed iTXt chunk right after IHDR. JPEG: an APP1 segment after SOI and
    any APP0 (JFIF wants APP0 first).
    """
    packet = xmp_packet()
    if suffix == ".png":
        itxt = XMP_KEYWORD.encode() + b"\x00\x00\x00" + b"\x00" + b"\x00" + packet  # flag, method, language, keyword
        end_of_ihdr = 8 + 8 + struct.unpack(">I", data[8:12])[0] + 4
        return data[:end_of_ihdr] + _png_chunk(b"iTXt", itxt) + data[end_of_ihdr:]
    segment = XMP_JPEG_HEADER + packet
    at = 2
    if data[2:4] == b"\xff\xe0":
        at += 2 + struct.unpack(">H", data[4:6])[0]
    return data[:at] + b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment + data[at:]


def encode_image(image: np.ndarray, suffix: str, quality: int = 95) -> bytes:
    """uint8 BGR `image` encoded as `suffix` (.png or .jpg) with the synthetic labels inside."""
    rgb = Image.fromarray(np.ascontiguousarray(image[..., ::-1]))
    buffer = io.BytesIO()
    suffix = suffix.lower()
    if suffix == ".png":
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", LABEL)
        info.add_text("Software", "swapface")
        rgb.save(buffer, format="PNG", pnginfo=info)
    elif suffix in (".jpg", ".jpeg"):
        rgb.save(buffer, format="JPEG", quality=quality, comment=LABEL.encode())
    else:
        raise ValueError(f"cannot label a {suffix} image: write .png or .jpg")
    return label_bytes(buffer.getvalue(), suffix)


def label_bytes(data: bytes, suffix: str) -> bytes:
    """Encoded PNG or JPEG `data` with the XMP label and, where c2pa-python works, a signed
    C2PA manifest; the pixels are not re-encoded."""
    suffix = suffix.lower()
    labelled = _with_xmp(data, ".png" if suffix == ".png" else ".jpg")
    signed = io.BytesIO()
    return signed.getvalue() if sign_c2pa(io.BytesIO(labelled), signed, MIME[suffix]) else labelled


def png_with_label(data: bytes) -> bytes:
    """A PNG (e.g. a rendered figure showing generated faces) with every synthetic label."""
    end_of_ihdr = 8 + 8 + struct.unpack(">I", data[8:12])[0] + 4
    comment = _png_chunk(b"tEXt", b"Comment\x00" + LABEL.encode("latin-1"))
    return label_bytes(data[:end_of_ihdr] + comment + data[end_of_ihdr:], ".png")


def write_image(path: str | Path, image: np.ndarray, quality: int = 95) -> Path:
    """Write a labelled .png or .jpg atomically."""
    path = Path(path)
    media.write_bytes_atomic(path, encode_image(image, path.suffix, quality))
    return path


def read_label(path: str | Path) -> str | None:
    """The synthetic label stored in an image file, or None."""
    with Image.open(path) as image:
        label = image.info.get("Comment") or image.info.get("comment")
    if isinstance(label, bytes):
        label = label.decode(errors="replace")
    return label


def read_xmp(path: str | Path) -> str | None:
    """The XMP packet of a PNG, JPEG or mp4 written by swapface (as text), or None.

    Found where the standard puts it (iTXt, APP1, the XMP `uuid` box); read independently of
    how we wrote it, so tests check what other readers see.
    """
    data = Path(path).read_bytes()
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        position = 8
        while position + 12 <= len(data):
            length, kind = struct.unpack(">I4s", data[position:position + 8])
            body = data[position + 8:position + 8 + length]
            if kind == b"iTXt" and body.startswith(XMP_KEYWORD.encode() + b"\x00"):
                rest = body[len(XMP_KEYWORD) + 1:]
                flag, text = rest[0], rest[2:].split(b"\x00", 2)[-1]
                return (zlib.decompress(text) if flag else text).decode()
            position += 12 + length
        return None
    if data[:2] == b"\xff\xd8":
        position = 2
        while position + 4 <= len(data) and data[position] == 0xFF and data[position + 1] != 0xDA:
            length = struct.unpack(">H", data[position + 2:position + 4])[0]
            body = data[position + 4:position + 2 + length]
            if data[position + 1] == 0xE1 and body.startswith(XMP_JPEG_HEADER):
                return body[len(XMP_JPEG_HEADER):].decode()
            position += 2 + length
        return None
    position = 0  # ISO base media (mp4): top-level boxes
    while position + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[position:position + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[position + 8:position + 16])[0], 16
        elif size == 0:
            size = len(data) - position
        if size < header:
            return None
        if kind == b"uuid" and data[position + header:position + header + 16] == XMP_MP4_UUID:
            return data[position + header + 16:position + size].decode()
        position += size
    return None


def digital_source_type(path: str | Path) -> str | None:
    """The IPTC digital source type in a file's XMP, or None."""
    packet = read_xmp(path)
    match = re.search(r'DigitalSourceType="([^"]+)"', packet or "")
    return match.group(1) if match else None


def video_tags() -> dict[str, str]:
    """Container metadata that tags an mp4 as synthetic (read back by `videoio.read_tag`)."""
    return {"comment": LABEL, "description": "synthetic media"}


def label_video(path: str | Path) -> str | None:
    """Add the XMP label (a top-level `uuid` box) and a C2PA manifest to an mp4 written by `videoio.VideoWriter`.

    Done in place on a file that is not yet at its final name (see `video.convert_video`):
    the box is appended, which ISO base media readers allow anywhere at the top level.
    Returns why no C2PA manifest could be added (a nearly full disk), None when it was.
    """
    path = Path(path)
    packet = xmp_packet()
    with open(path, "ab") as file:
        file.write(struct.pack(">I", 8 + 16 + len(packet)) + b"uuid" + XMP_MP4_UUID + packet)
    signed = path.with_name(f"{path.name}.c2pa")
    try:  # file to file: a long video is not held in memory
        with open(signed, "wb") as destination:
            with open(path, "rb") as source:
                failure = _c2pa_failure(source, destination, MIME[".mp4"])
            if failure is None:
                destination.flush()
                os.fsync(destination.fileno())  # a full disk fails here, not after the rename
        if failure is None:
            os.replace(signed, path)
    except OSError as err:
        failure = f"cannot write the signed copy: {err.strerror or err}"
        log.warning("no C2PA manifest (%s): %s", path, failure)
    finally:
        signed.unlink(missing_ok=True)
    return failure


# --- C2PA -----------------------------------------------------------------------------------------

C2PA_DIR = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "swapface" / "c2pa"
CERT_FILE, KEY_FILE = "signer_chain.pem", "signer_key.pem"


def c2pa_folder() -> Path:
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

    def usage(signs_certificates: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=signs_certificates,
                             crl_sign=signs_certificates, encipher_only=False, decipher_only=False)

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("swapface local CA")).issuer_name(name("swapface local CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(usage(True), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    signer = (x509.CertificateBuilder().subject_name(name("swapface signer")).issuer_name(ca.subject)
              .public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=3650))
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(usage(False), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    chain = media.write_bytes_atomic(folder / CERT_FILE, signer.public_bytes(pem) + ca.public_bytes(pem))
    secret = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    key_path = media.write_bytes_atomic(folder / KEY_FILE, secret, mode=0o600)
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


def sign_c2pa(source, destination, mime: str) -> bool:
    """Copy binary stream `source` (an encoded image or mp4) to `destination` with a signed C2PA
    manifest: action c2pa.created, source type trainedAlgorithmicMedia.

    False, logged, where c2pa-python is missing or fails: the XMP and plain labels are there
    anyway, and a label must never stop a conversion.
    """
    return _c2pa_failure(source, destination, mime) is None


def _c2pa_failure(source, destination, mime: str) -> str | None:
    """`sign_c2pa`, returning why it could not sign (logged too), or None when it did."""
    try:
        import c2pa
    except ImportError:
        log.debug("c2pa-python not installed: no C2PA manifest")
        return "c2pa-python is not installed"
    files = _signer_files(c2pa_folder())
    if files is None:
        return f"no usable signing key in {c2pa_folder()}"
    manifest = {"claim_generator_info": [{"name": "swapface"}], "title": LABEL,
                "assertions": [{"label": "c2pa.actions", "data": {"actions": [
                    {"action": "c2pa.created", "digitalSourceType": DIGITAL_SOURCE_TYPE,
                     "softwareAgent": {"name": "swapface"}}]}}]}
    try:
        signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, files[0], files[1], None))
        with signer, c2pa.Builder(json.dumps(manifest)) as builder:
            builder.sign(signer, mime, source, destination)
        return None
    except Exception as err:  # noqa: BLE001 - a native library's errors vary; the other labels remain
        log.warning("no C2PA manifest (%s): %s", mime, err)
        return " ".join(str(err).split()) or type(err).__name__


def read_c2pa(path: str | Path) -> dict | None:
    """The C2PA manifest store of a file as a dict (c2pa-python's Reader), or None without one."""
    try:
        import c2pa
    except ImportError:
        return None
    path = Path(path)
    mime = MIME.get(path.suffix.lower(), "application/octet-stream")
    try:
        with open(path, "rb") as file, c2pa.Reader(mime, file) as reader:
            return json.loads(reader.json())
    except Exception:  # noqa: BLE001 - no manifest, or one that does not parse: none to report
        return None
