"""Output files that are never torn and never overwritten by surprise."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


class OutputExistsError(FileExistsError):
    """An output file exists and overwriting was not asked for."""


def check_writable(path: str | os.PathLike, overwrite: bool) -> Path:
    """Refuse to replace an existing output unless `overwrite`; make the parent folder."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        # writing through a dangling link would create a file wherever it points
        raise OutputExistsError(f"{path}: is a link to {os.readlink(path)}, which does not exist; "
                                "remove the link or choose another output")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path}: output exists; pass --overwrite (overwrite=True) to replace it")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"{path.parent}: cannot create output folder ({e.strerror or e})") from e
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary file beside `path`, fsync, then rename over it: a reader, or a
    crash at any moment, sees the old file or the new one, never a torn one."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise OSError(f"{path}: cannot write output ({e.strerror or e})") from e
    try:
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600 files; outputs get normal permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(f"{path}: cannot write output ({e.strerror or e})") from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
