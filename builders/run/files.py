"""Atomic writes: a file in a run directory is either complete or absent."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from zoo.callbacks.base import file_mode

__all__ = ["atomic_path", "write_text", "write_json", "write_new_text", "file_mode"]


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(target.suffixes[-2:])  # "x.weights.h5": Keras reads the whole suffix
    handle, name = tempfile.mkstemp(prefix=f".{target.name[: len(target.name) - len(suffix)]}.", suffix=suffix, dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb") as stream:
            os.fsync(stream.fileno())
        os.chmod(temporary, file_mode())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def write_text(target: str | Path, text: str) -> None:
    with atomic_path(target) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_new_text(target: str | Path, text: str, what: str = "the output") -> None:
    """Write `text` to `target`, which must not exist yet (a file a user named as a command's output):
    written beside it, then linked into place, so an existing file (or one that appears meanwhile, or a
    symbolic link) is never replaced. The parent folder must exist.

    Raises:
        FileExistsError: something is at `target` already; nothing was written.
        FileNotFoundError: the parent folder does not exist.
    """
    target = Path(target)
    if target.exists() or target.is_symlink():
        raise FileExistsError(f"{what} {target} exists already")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"the folder of {what} {target} does not exist")
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(name, file_mode())
        os.link(name, target)  # fails, writing nothing, if target appeared meanwhile
    finally:
        os.unlink(name)


def write_json(target: str | Path, value: Any) -> None:
    write_text(target, json.dumps(value, indent=2, sort_keys=True, default=_plain) + "\n")


def _plain(value: Any) -> Any:
    """numpy scalars and arrays as plain JSON numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
