"""Files written whole or not at all: the one write helper of the package, and a file's hash.

The run store, the checkpoints, the results a chapter saves and the runner all write through
``atomic_path``, so a killed process never leaves a half-written file that reads as valid.
``file_sha256`` is what the runner records of a results file and the store's manifest of a run's.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path``; on success move it into place in one rename.

    A process killed mid-write leaves only a ``.tmp`` file that is never read as valid.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in blocks (weights files are megabytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
