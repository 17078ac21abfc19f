"""Shared fixtures: the bundled public-domain frames and, where present, ../shared/data."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SHARED = ROOT.parent / "shared" / "data" / "whitehouse"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} not present (the full White House frames live beside the project)")
    return SHARED


@pytest.fixture(scope="session")
def aligned(tmp_path_factory, data_dir) -> tuple[Path, Path]:
    """Folders of real aligned faces of Obama and Trump (8 each), as `swapface extract` writes them."""
    from swapface.extract import extract

    root = tmp_path_factory.mktemp("aligned")
    for name in ("obama", "trump"):
        assert extract([data_dir / name], root / name, progress=False).faces_kept >= 4
    return root / "obama", root / "trump"


@pytest.fixture(scope="session")
def obama_frame() -> Path:
    return DATA / "obama" / "c000_f00000.jpg"


@pytest.fixture(scope="module")
def tiny():
    """A fresh `tiny` model per test module (some modules override it, e.g. with names)."""
    from swapface import model

    return model.build("tiny")


@pytest.fixture(scope="module")
def faces():
    """float32 (4, 64, 64, 3) in [0, 1]: model inputs where shapes and values matter, not faces."""
    import numpy as np

    return np.random.default_rng(0).random((4, 64, 64, 3), dtype=np.float32)


@pytest.fixture(scope="session")
def frame(obama_frame):
    """uint8 BGR (480, 854, 3): the Obama frame (treat as read-only: the session shares it)."""
    from swapface import media

    return media.read_image(obama_frame)


@pytest.fixture(scope="session")
def face(frame):
    """The Obama frame's face (landmarks, matrix), detected once per session."""
    from swapface import faces

    return faces.largest_face(frame)


@pytest.fixture(scope="session")
def trump_frame() -> Path:
    return DATA / "trump" / "c006_f00070.jpg"


@pytest.fixture(scope="session", autouse=True)
def c2pa_key(tmp_path_factory) -> Path:
    """A throwaway C2PA signing key for the session, not the user's (~/.config/swapface/c2pa)."""
    import os

    folder = tmp_path_factory.mktemp("c2pa")
    os.environ["SWAPFACE_C2PA_DIR"] = str(folder)  # subprocesses inherit it too
    return folder


@pytest.fixture(scope="session")
def bomb_png(tmp_path_factory) -> Path:
    """A decompression bomb: a valid 14000x14000 16-bit RGBA PNG of 1.5 MB (1.6 GB decoded).

    Made row by row (zlib on zeros), so making it never holds the pixels either (~5 s).
    """
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    side = 14000
    packer = zlib.compressobj(9)
    row = bytes(1 + side * 8)  # filter byte, then 4 channels of 2 bytes per pixel
    pixels = b"".join([packer.compress(row) for _ in range(side)] + [packer.flush()])
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 16, 6, 0, 0, 0))
                     + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path


# A variable-frame-rate clip: a burst at 50 fps, then 4 fps, as a phone records. Frame i shows
# a white bar at x = 4 i, so a frame can be recognised after encoding; a 440 Hz tone plays along.
VFR_TIMES = [0.02 * i for i in range(30)] + [0.58 + 0.24 * (i - 29) for i in range(30, 40)]


@pytest.fixture(scope="session")
def vfr_clip(tmp_path_factory) -> tuple[Path, list[float]]:
    """(path of a 160x120 variable-frame-rate mp4 with sound, the timestamp of each frame)."""
    import subprocess

    import imageio_ffmpeg

    path = tmp_path_factory.mktemp("vfr") / "vfr.mp4"
    times = "+".join(f"eq(N,{i})*{t:.2f}" for i, t in enumerate(VFR_TIMES))
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "color=c=black:s=160x120:r=50:d=0.8,format=gray,geq=lum='255*between(X,4*N,4*N+3)'",
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=3.2",
                    "-vf", f"setpts='({times})/TB'", "-frames:v", str(len(VFR_TIMES)), "-fps_mode", "vfr",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "12", "-c:a", "aac", "-shortest", str(path)],
                   check=True)
    return path, VFR_TIMES


@pytest.fixture
def small_disk():
    """`with small_disk(bytes):` files written meanwhile stop growing at that size, as on a full disk.

    RLIMIT_FSIZE applies to root too; Python ignores SIGXFSZ, so the write fails with
    EFBIG ("File too large") instead of killing the process.
    """
    import contextlib
    import resource

    @contextlib.contextmanager
    def limited(size: int):
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

    return limited


def ffmpeg(*args) -> None:
    """Run the imageio-ffmpeg binary (a dev dependency) quietly; CalledProcessError if it fails."""
    import subprocess

    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *map(str, args)],
                   check=True)


CLIP = DATA / "video" / "obama_silent_b.mp4"  # 1280x720, 29.97 fps, 1 s of sound


@pytest.fixture(scope="session")
def portrait_clip(tmp_path_factory) -> Path:
    """8 frames of the bundled clip stored sideways, as a phone stores what it films: turned
    clockwise (720x1280), with a display matrix turning it back 90 degrees counter-clockwise."""
    folder = tmp_path_factory.mktemp("portrait")
    ffmpeg("-i", CLIP, "-frames:v", 8, "-vf", "transpose=clock", "-c:v", "libx264", "-crf", 12, "-c:a", "copy",
           folder / "sideways.mp4")
    ffmpeg("-display_rotation", 90, "-i", folder / "sideways.mp4", "-c", "copy", folder / "portrait.mp4")
    return folder / "portrait.mp4"


@pytest.fixture(scope="session")
def late_clip(tmp_path_factory) -> Path:
    """8 frames of the bundled clip starting 0.5 s after its sound (a 1.5 s tone) begins."""
    path = tmp_path_factory.mktemp("late") / "late.mp4"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1.5", "-itsoffset", 0.5, "-i", CLIP,
           "-map", "1:v", "-map", "0:a", "-frames:v", 8, "-c:v", "libx264", "-crf", 12, "-c:a", "aac", path)
    return path


@pytest.fixture(scope="session")
def cover_art_mkv(tmp_path_factory) -> Path:
    """A Matroska file whose first track is a still picture (cover art: a grey square), then 8
    frames of the bundled clip and its sound."""
    folder = tmp_path_factory.mktemp("cover")
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=300x300", "-frames:v", 1, folder / "cover.jpg")
    ffmpeg("-i", folder / "cover.jpg", "-i", CLIP, "-map", "0", "-map", "1:v", "-map", "1:a", "-frames:v:1", 8,
           "-c:v:0", "mjpeg", "-disposition:v:0", "attached_pic", "-c:v:1", "libx264", "-crf", 12, "-c:a", "copy",
           folder / "cover.mkv")
    return folder / "cover.mkv"
