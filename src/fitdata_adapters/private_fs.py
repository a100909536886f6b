"""Files and folders private to the service's user: 0600 files, 0700 folders.

Everything under the data directory (the SQLite database and its WAL, stored exports, the mail
outbox whose ``.eml`` files hold live download links, the embedded keys and the sandbox's
card tokens) is readable by the service alone. The modes are set explicitly after creating,
not left to the process umask, which commonly grants read access to everyone.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "make_private_dir",
    "open_private",
    "tighten_tree",
    "touch_private",
    "unusable",
    "write_private",
]

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def make_private_dir(path: Path, *, tighten_existing: bool = True) -> Path:
    """Create ``path`` and any missing parents as 0700 folders; an existing ``path`` (ours) is
    tightened to 0700 too unless ``tighten_existing`` is false (a folder outside the data
    directory may be shared on purpose). Raises ``OSError`` (``FileExistsError`` or
    ``NotADirectoryError`` for a file in the way)."""
    missing: list[Path] = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            if not folder.is_dir():
                raise
        os.chmod(folder, PRIVATE_DIR_MODE)
    if not path.is_dir():
        raise NotADirectoryError(f"Not a folder: {path}")
    if not missing and tighten_existing:
        _chmod_if_owned(path, PRIVATE_DIR_MODE)
    return path


def open_private(path: Path, flags: int) -> int:
    """``os.open`` that creates the file 0600 whatever the umask; returns the descriptor."""
    fd = os.open(path, flags, PRIVATE_FILE_MODE)
    try:
        info = os.fstat(fd)
        # A file another user owns (an operator's deliberate set-up) is left as it is.
        if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) != PRIVATE_FILE_MODE:
            os.fchmod(fd, PRIVATE_FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (created or truncated) as a 0600 file."""
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "wb") as file:
        file.write(data)


def touch_private(path: Path) -> None:
    """Create ``path`` as an empty 0600 file unless it exists; an existing one is tightened."""
    fd = open_private(path, os.O_WRONLY | os.O_CREAT)
    os.close(fd)


def tighten_tree(root: Path) -> int:
    """Make ``root`` and everything under it private (folders 0700, files 0600), for a data
    directory created before modes were set. Symbolic links are not followed and files owned
    by another user are left alone. Returns how many modes changed."""
    changed = 0
    if not root.is_dir() or root.is_symlink():
        return 0
    changed += _chmod_if_owned(root, PRIVATE_DIR_MODE)
    for folder, dirnames, filenames in os.walk(root):
        base = Path(folder)
        for name in dirnames:
            changed += _chmod_if_owned(base / name, PRIVATE_DIR_MODE)
        for name in filenames:
            changed += _chmod_if_owned(base / name, PRIVATE_FILE_MODE)
    return changed


def _chmod_if_owned(path: Path, mode: int) -> int:
    try:
        info = path.lstat()
    except FileNotFoundError:
        return 0
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid():
        return 0
    if stat.S_IMODE(info.st_mode) == mode:
        return 0
    os.chmod(path, mode)
    return 1


def unusable(setting: str, path: Path, exc: OSError | None = None, *, why: str = "") -> str:
    """The message for a configured location that cannot be used."""
    if not why:
        if isinstance(exc, FileExistsError | NotADirectoryError):
            why = "a file is in the way of a folder"
        elif isinstance(exc, PermissionError):
            why = "permission denied"
        elif exc is not None:
            why = exc.strerror or type(exc).__name__
    return f"FITDATA_{setting} cannot be used: {path}: {why}."
