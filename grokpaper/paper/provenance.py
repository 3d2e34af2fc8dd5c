"""Which code produced a result: the git commit (and whether its sources were modified)."""

from __future__ import annotations

import subprocess
from pathlib import Path

# Files a run itself rewrites: their changes do not make the code that ran "dirty". The run store
# counts too: training beside a build rewrites its committed resume checkpoints.
OUTPUTS = ("chapters/*.ipynb", "results", "_freeze", "store")


def git_commit(root: str | Path = ".") -> str:
    """Short commit of ``root``'s repository, "-dirty" if tracked sources differ from it (the
    executed notebooks, results and run store a run writes do not count); "unknown" outside git."""
    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)

    try:
        head = git("rev-parse", "--short", "HEAD")
        if head.returncode != 0:
            return "unknown"
        excludes = [f":(exclude){path}" for path in OUTPUTS]
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", *excludes).stdout.strip()
        return head.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
