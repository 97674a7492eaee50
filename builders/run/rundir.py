"""Directories a command owns: a run (`zoo train`) or a search (`zoo tune`).

A directory is ours only when our manifest, `zoo-manifest.json`, says so; we
never write into a directory that holds anything else, never delete what we
did not create, and one process at a time works in it: an OS lock
(`fcntl.flock` on `.zoo.lock`) that the operating system releases when the
process dies, so it can never go stale. A second process is refused with the
holder's pid.

The manifest records the kind, the state (`training`, `finishing`,
`complete`) and the fingerprint of the spec the directory was made for.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from zoo.builders.run.files import write_json
from zoo.builders.spec.errors import RunError

__all__ = ["OwnedDirectory", "MANIFEST", "LOCK", "check_name", "fingerprint"]

MANIFEST = "zoo-manifest.json"
LOCK = ".zoo.lock"
_UNSAFE = re.compile(r"[/\\\x00-\x1f:*?\"<>|]")


def check_name(name: str, what: str) -> str:
    """`name` if it is one safe path component (it names a folder we create), else a RunError."""
    if not isinstance(name, str) or not name or name in (".", "..") or _UNSAFE.search(name) or len(name) > 100:
        raise RunError(f"{what} {name!r} cannot name a folder: use 1 to 100 characters without / \\ : * ? \" < > | "
                       "or control characters, and not . or ..")
    return name


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class OwnedDirectory:
    """A run or search directory this process has claimed and locked.

    Args:
        path: the directory.
        kind: "run" or "search".
    """

    def __init__(self, path: Path, kind: str) -> None:
        self.path = Path(path)
        self.kind = kind
        self.made = False  # created by this claim: removed again if the command stops before writing anything
        self._lock_stream = None

    # -- claiming ---------------------------------------------------------------------------------
    @classmethod
    def claim(cls, path: str | Path, kind: str, spec_text: str, *, fresh: bool = False) -> "OwnedDirectory":
        """Create `path` (or adopt it when empty, or reopen one of ours of the same kind) and lock it.

        Args:
            fresh: the directory must not exist yet (a new timestamped run).
        Raises:
            RunError: it exists and is not ours, is another kind, or another process holds it.
        """
        path = Path(path)
        made = False
        if fresh:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir()  # FileExistsError is the caller's cue to pick another name
            made = True
        elif path.is_symlink() and not path.exists():
            raise RunError(f"{path} is a broken symbolic link: choose a directory for the {kind}.")
        elif path.exists() and not path.is_dir():
            raise RunError(f"{path} is a file, not a directory: choose a directory for the {kind}.")
        elif path.exists():
            cls._check_ours_or_empty(path, kind)  # before anything is written in it
        else:
            path.mkdir(parents=True)
            made = True
        directory = cls(path, kind)
        directory.made = made
        directory.lock()
        try:
            manifest = directory.manifest()
            if manifest is None:
                cls._check_ours_or_empty(path, kind)  # again, now that we hold the lock
                directory.write_manifest({"kind": kind, "state": "training", "spec": fingerprint(spec_text),
                                          "created": datetime.now(timezone.utc).isoformat(timespec="seconds")})
            elif manifest.get("kind") != kind:
                raise RunError(f"{path} holds a keras-zoo {manifest.get('kind')}, not a {kind}: choose another directory.")
        except BaseException:
            directory.release()
            if made:
                directory.discard()
            raise
        return directory

    @staticmethod
    def _check_ours_or_empty(path: Path, kind: str) -> None:
        """RunError, writing nothing, unless `path` holds our manifest or nothing but our lock."""
        if (path / MANIFEST).exists() or (path / MANIFEST).is_symlink():
            if (path / MANIFEST).is_symlink():
                raise RunError(f"{path / MANIFEST} is a symbolic link, not a file keras-zoo wrote: choose another "
                               f"directory for the {kind}.")
            return
        foreign = sorted(p.name for p in path.iterdir() if not (p.name == LOCK and p.is_file() and not p.is_symlink()))
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise RunError(f"{path} is not empty and was not made by keras-zoo (it holds {shown}); "
                           f"choose an empty or new directory for the {kind}: nothing of yours is touched.")

    def discard(self) -> None:
        """Remove a directory this process created and then refused: only our lock and manifest are in it."""
        for name in (LOCK, MANIFEST):
            (self.path / name).unlink(missing_ok=True)
        try:
            self.path.rmdir()
        except OSError:
            pass

    @classmethod
    def reopen(cls, path: str | Path, kind: str) -> "OwnedDirectory":
        """An existing directory of ours, locked; RunError when it is not one."""
        path = Path(path)
        if not path.is_dir():
            raise RunError(f"{path} is not a directory.")
        if not (path / MANIFEST).is_file() or (path / MANIFEST).is_symlink():
            raise RunError(f"{path} is not a keras-zoo {kind} directory (it has no {MANIFEST} of a {kind}).")
        directory = cls(path, kind)
        directory.lock()
        manifest = directory.manifest()
        if manifest is None or manifest.get("kind") != kind:
            directory.release()
            raise RunError(f"{path} is not a keras-zoo {kind} directory (it has no {MANIFEST} of a {kind}).")
        return directory

    # -- the lock ---------------------------------------------------------------------------------
    def lock(self) -> None:
        """Take the directory's lock: `.zoo.lock` opened without following a symbolic link (a link there
        is refused, never truncated through), then `flock`ed."""
        try:
            descriptor = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as error:
            reason = "is a symbolic link" if (self.path / LOCK).is_symlink() else f"cannot be opened ({error.strerror})"
            raise RunError(f"{self.path / LOCK} {reason}: keras-zoo writes its lock only as a plain file of its "
                           f"own; remove it if it is not yours, or choose another directory.") from None
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            os.close(descriptor)
            raise RunError(f"{self.path / LOCK} is not a plain file: choose another directory.")
        stream = os.fdopen(descriptor, "a+")
        try:
            fcntl.flock(stream, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            stream.seek(0)
            holder = stream.read().strip() or "unknown"
            stream.close()
            raise RunError(f"{self.path} is in use by another keras-zoo process (pid {holder}); "
                           "wait for it to finish or stop it, then try again.") from None
        stream.seek(0)
        stream.truncate()
        stream.write(str(os.getpid()))
        stream.flush()
        self._lock_stream = stream

    def release(self) -> None:
        if self._lock_stream is not None:
            self._lock_stream.close()  # closing the descriptor releases the flock
            self._lock_stream = None

    def __enter__(self) -> "OwnedDirectory":
        return self

    def __exit__(self, kind: Any, *exc: Any) -> None:
        self.release()
        if kind is not None and self.made and self.path.is_dir() and {p.name for p in self.path.iterdir()} <= {LOCK, MANIFEST}:
            self.discard()  # a command refused before writing anything leaves no directory behind

    # -- the manifest -----------------------------------------------------------------------------
    def manifest(self) -> dict | None:
        path = self.path / MANIFEST
        if not path.exists():
            return None
        try:
            value = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            raise RunError(f"{path} is damaged: the directory cannot be trusted; start again in a new directory.") from None
        if not isinstance(value, dict):
            raise RunError(f"{path} is damaged: the directory cannot be trusted; start again in a new directory.")
        return value

    def write_manifest(self, value: dict) -> None:
        write_json(self.path / MANIFEST, value)

    def set_state(self, state: str) -> None:
        self.write_manifest({**(self.manifest() or {}), "state": state})

    @property
    def state(self) -> str | None:
        return (self.manifest() or {}).get("state")
