"""Labelling what swapface makes as synthetic: in the file's metadata and, by default, visibly.

Every image and video swapface writes with a generated face goes through here (converted
photos and videos, the training preview, the evaluation report). Three labels, for three
kinds of reader:

* a plain one: a PNG text chunk, a JPEG comment, an mp4 `comment` tag;
* the standard one that platforms read: XMP with the IPTC digital source type
  `trainedAlgorithmicMedia` (written by Pillow in PNG and JPEG; in an mp4, a `uuid` box);
* a signed C2PA manifest saying the same (`swapface.signing` signs it).

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

import io
import logging
import re
import struct
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from swapface import files, signing

log = logging.getLogger(__name__)

LABEL = "synthetic: face swapped by swapface"
MARK_TEXT = "synthetic"
# IPTC's term for media made by a model trained on sampled content: what platforms look for.
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
XMP_PNG_KEYWORD = "XML:com.adobe.xmp"  # the PNG iTXt keyword readers look for XMP under
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


def c2pa_manifest() -> dict:
    """The C2PA manifest definition `signing.sign` signs in: created by a trained model."""
    return {"claim_generator_info": [{"name": "swapface"}], "title": LABEL,
            "assertions": [{"label": "c2pa.actions", "data": {"actions": [
                {"action": "c2pa.created", "digitalSourceType": DIGITAL_SOURCE_TYPE,
                 "softwareAgent": {"name": "swapface"}}]}}]}


def _encode(picture: Image.Image, suffix: str, quality: int = 95) -> bytes:
    """`picture` encoded as `suffix` (.png or .jpg) with every label: plain, XMP, then C2PA.

    Pillow writes the plain label and the XMP packet where readers look for them (PNG tEXt
    and iTXt chunks; a JPEG COM segment and an APP1 after JFIF's APP0); the signed copy of
    those bytes gets the manifest. Without one (see `signing.sign`) the bytes are kept as they are.
    """
    suffix = suffix.lower()
    buffer = io.BytesIO()
    if suffix == ".png":
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", LABEL)
        info.add_text("Software", "swapface")
        info.add_itxt(XMP_PNG_KEYWORD, xmp_packet().decode())
        picture.save(buffer, format="PNG", pnginfo=info, dpi=picture.info.get("dpi"))
    elif suffix in (".jpg", ".jpeg"):
        picture.save(buffer, format="JPEG", quality=quality, comment=LABEL.encode(), xmp=xmp_packet())
    else:
        raise ValueError(f"cannot label a {suffix} image: write .png or .jpg")
    signed = io.BytesIO()
    unsigned = signing.sign(io.BytesIO(buffer.getvalue()), signed, MIME[suffix], c2pa_manifest())
    return buffer.getvalue() if unsigned else signed.getvalue()


def encode_image(image: np.ndarray, suffix: str, quality: int = 95) -> bytes:
    """uint8 BGR (H, W, 3) `image` encoded as `suffix` (.png or .jpg) with the synthetic labels inside."""
    return _encode(Image.fromarray(np.ascontiguousarray(image[..., ::-1])), suffix, quality)


def png_with_label(data: bytes) -> bytes:
    """A PNG (e.g. a rendered figure showing generated faces) with every synthetic label.

    Decoded and written again by Pillow: PNG is lossless, so no pixel changes.
    """
    with Image.open(io.BytesIO(data)) as picture:
        return _encode(picture, ".png")


def write_image(path: str | Path, image: np.ndarray, quality: int = 95) -> Path:
    """Write uint8 BGR `image` as a labelled .png or .jpg, atomically."""
    path = Path(path)
    files.write_bytes_atomic(path, encode_image(image, path.suffix, quality))
    return path


def read_label(path: str | Path) -> str | None:
    """The plain synthetic label stored in an image file, or None."""
    with Image.open(path) as image:
        label = image.info.get("Comment") or image.info.get("comment")
    if isinstance(label, bytes):
        label = label.decode(errors="replace")
    return label


def _mp4_xmp(data: bytes) -> str | None:
    """The XMP packet in an ISO base media file's top-level `uuid` box, or None.

    Written by hand: Pillow reads no video, and PyAV does not expose the box.
    """
    position = 0
    while position + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[position:position + 8])
        header = 8
        if size == 1:  # a 64-bit size follows the type
            size, header = struct.unpack(">Q", data[position + 8:position + 16])[0], 16
        elif size == 0:  # the box runs to the end of the file
            size = len(data) - position
        if size < header:
            return None
        if kind == b"uuid" and data[position + header:position + header + 16] == XMP_MP4_UUID:
            return data[position + header + 16:position + size].decode()
        position += size
    return None


def read_xmp(path: str | Path) -> str | None:
    """The XMP packet of a PNG, JPEG or mp4 (as text), or None.

    Images are read by Pillow, as other tools read them; anything else as ISO base media.
    """
    try:
        with Image.open(path) as image:
            packet = image.info.get("xmp")
    except UnidentifiedImageError:  # not an image: a video
        return _mp4_xmp(Path(path).read_bytes())
    return packet.decode() if isinstance(packet, bytes) else packet


def digital_source_type(path: str | Path) -> str | None:
    """The IPTC digital source type in a file's XMP, or None."""
    match = re.search(r'DigitalSourceType="([^"]+)"', read_xmp(path) or "")
    return match.group(1) if match else None


def read_c2pa(path: str | Path) -> dict | None:
    """The C2PA manifest store of a file as a dict (c2pa-python's Reader), or None without one."""
    return signing.read_manifest(path, MIME.get(Path(path).suffix.lower(), "application/octet-stream"))


def video_tags() -> dict[str, str]:
    """Container metadata that tags an mp4 as synthetic (read back by `videoio.read_tag`)."""
    return {"comment": LABEL, "description": "synthetic media"}


class _Unsigned(Exception):
    """Why a video got no C2PA manifest: its unsigned file is kept."""


def label_video(path: str | Path) -> str | None:
    """Add the XMP label (a top-level `uuid` box) and a C2PA manifest to an mp4 written by `mp4.VideoWriter`.

    Done in place on a file that is not yet at its final name (see `video.convert_video`):
    the box is appended, which ISO base media readers allow anywhere at the top level; the
    signed copy replaces the file atomically. Returns why no C2PA manifest could be added
    (a nearly full disk), None when it was.
    """
    path = Path(path)
    packet = xmp_packet()
    with open(path, "ab") as file:
        file.write(struct.pack(">I", 8 + 16 + len(packet)) + b"uuid" + XMP_MP4_UUID + packet)

    def write_signed(temporary: str) -> None:  # file to file: a long video is not held in memory
        with open(path, "rb") as source, open(temporary, "wb") as destination:
            failure = signing.sign(source, destination, MIME[".mp4"], c2pa_manifest())
        if failure is not None:
            raise _Unsigned(failure)

    try:
        files.atomic_write(path, write_signed)
    except _Unsigned as why:
        return str(why)
    except OSError as err:  # a full disk: the fsync of the signed copy fails, before any rename
        log.warning("no C2PA manifest (%s): cannot write the signed copy: %s", path, err.strerror or err)
        return f"cannot write the signed copy: {err.strerror or err}"
    return None
