"""Atomic writes and content hashes for the production folder.

Every stage writes to a temporary name in the destination folder, then renames, so a
crash never leaves a half-written file under a final name.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .errors import OutputError


def _raise_os_error(path: Path, exc: OSError) -> None:
    if exc.errno == errno.ENOSPC:
        raise OutputError("disk full while writing", path=path) from exc
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        raise OutputError("permission denied (read-only folder?)", path=path) from exc
    raise OutputError(f"cannot write: {exc.strerror or exc}", path=path) from exc


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    tmp_name = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; production files are for sharing
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except OSError as exc:
        if tmp_name and os.path.exists(tmp_name):
            os.unlink(tmp_name)
        _raise_os_error(path, exc)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def atomic_move(src: str | Path, dst: str | Path) -> None:
    """Rename ``src`` over ``dst`` (same filesystem), reporting errors as OutputError."""
    try:
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
    except OSError as exc:
        _raise_os_error(Path(dst), exc)


def atomic_copy(src: str | Path, dst: str | Path) -> None:
    dst = Path(dst)
    tmp = dst.with_name(f".{dst.name}.copy.tmp")
    try:
        shutil.copyfile(src, tmp)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        _raise_os_error(dst, exc)
    atomic_move(tmp, dst)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_json(data: Any) -> str:
    """Hash of a JSON-serialisable value, independent of dict key order."""
    return sha256_bytes(json.dumps(data, sort_keys=True, separators=(",", ":")).encode())
