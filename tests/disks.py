"""Small file systems for the full-disk tests: a tmpfs mounted for a block (mounting one needs root, as CI runs)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PAGE = 4096  # a tmpfs gives each file whole pages


@contextmanager
def small_disk(folder: Path, size: str, *options: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at `folder` for the block."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join([f"size={size}", *options]), "tmpfs", str(folder)], check=True
    )
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def room_for(folder: Path) -> int:
    """The bytes a copy of `folder` takes on a tmpfs: each file rounded up to whole pages."""
    return sum(-(-path.stat().st_size // PAGE) * PAGE for path in folder.rglob("*") if path.is_file())


def fill(folder: Path) -> None:
    """Write until the file system is full (on one already full, creating the file is what fails)."""
    try:
        with open(folder / "filler", "wb") as file:
            while True:
                file.write(b"\0" * 65536)
                file.flush()
    except OSError:
        pass
