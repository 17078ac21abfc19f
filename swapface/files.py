"""Files that are never half written, folders used by one run at a time, JSON that names itself.

Every file swapface writes (crops, checkpoints, weights, reports, outputs) goes through
`atomic_write`: a crash, a full disk or a SIGKILL leaves the old file or the new one,
never half of one. A stage that fills a folder holds `lock_folder` on it, so a second run
into the same folder stops at once instead of mixing its files in. `read_json` reads the
package's JSON files (model config, training state, alignments) with one kind of error:
a ValueError whose message starts with the file's name.

Example:
    >>> from swapface import files
    >>> path = files.write_bytes_atomic("note.json", b'{"size": 256}')
    >>> files.read_json(path, "note")
    {'size': 256}
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


def atomic_write(path: str | os.PathLike, write: Callable[[str], object], mode: int | None = None) -> Path:
    """Run `write(temporary_path)`, fsync, then rename over `path`: old file or new, never half.

    The temporary file sits in the same folder (so the rename is atomic) and is named by
    `hidden_name`. The result gets the usual permissions (mkstemp's are private), or `mode`
    (0o600 for a private key: never readable by others, not even while written), and the
    folder is fsynced so the rename survives a power cut.
    """
    path = Path(path)
    prefix, suffix = hidden_name(path, "tmp")
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
    os.close(handle)
    try:
        write(temporary)
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())  # a full disk fails here, before the rename
        os.chmod(temporary, 0o666 & ~_umask() if mode is None else mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)
    return path


def write_bytes_atomic(path: str | os.PathLike, data: bytes, mode: int | None = None) -> Path:
    """Write `data` to `path` atomically (see `atomic_write`)."""
    return atomic_write(path, lambda temporary: Path(temporary).write_bytes(data), mode)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 `text` to `path` atomically (see `atomic_write`)."""
    return write_bytes_atomic(path, text.encode())


def hidden_name(path: Path, kind: str) -> tuple[str, str]:
    """('.<name's start>.', '.<kind><suffixes>'): the two ends of a hidden name for writing `path`.

    Short whatever `path`'s length: a name near the system's 255-byte limit plus a prefix
    would be too long to create. It ends as `path` does (Keras checks for ".weights.h5");
    the caller puts something unique (mkstemp's random part, a hash) between them.
    """
    tail = "".join(path.suffixes[-2:])
    return f".{path.name[:32]}.", f".{kind}{tail if len(tail) <= 16 else path.suffix[-16:]}"


def fsync_folder(folder: str | os.PathLike) -> None:
    """Make renames inside `folder` durable (survive a power cut); skipped where folders cannot be opened."""
    with contextlib.suppress(OSError):
        handle = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def lock_folder(folder: str | os.PathLike, command: str) -> Iterator[None]:
    """Hold an exclusive lock on `folder` (created if missing), or raise ValueError at once.

    Two runs writing one folder would overwrite each other's files. flock on `.lock`: the
    system drops the lock when the process ends, even by SIGKILL; the file is removed when
    the lock is let go, so a finished run leaves nothing behind. Where there is no fcntl
    (Windows), nothing is locked. `command` names the holder in the error.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder}: is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:
        yield
        return
    path = folder / ".lock"
    while True:
        with open(path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ValueError(f"{folder}: another `{command}` is using this folder") from None
            # The holder before us may have removed the file between our open and our lock:
            # then we hold a lock on a file nobody else will open. Try again on the new one.
            if not path.exists() or os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino:
                continue
            try:
                yield
            finally:
                path.unlink(missing_ok=True)  # while still locked: nobody can be waiting on this file
            return


def read_json(path: str | os.PathLike, what: str) -> dict:
    """The JSON object in `path`; ValueError '<path>: ...' where the file holds anything else.

    `what` names what the file should be ("model config", "training state") in the message.
    A hand-edited or damaged file then fails here, naming itself, not with a KeyError deep
    in a later stage. A missing or unreadable file raises OSError as `open` does: each
    caller knows best what a missing file means.
    """
    path = Path(path)
    try:
        document = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        where = f"{err.msg} at line {err.lineno}" if isinstance(err, json.JSONDecodeError) else "not UTF-8 text"
        raise ValueError(f"{path}: corrupt {what} ({where})") from err
    if not isinstance(document, dict):
        raise ValueError(f"{path}: not a {what} (a JSON {type(document).__name__}, expected an object)")
    return document
