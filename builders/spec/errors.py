"""The one error type every problem in a spec raises."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable, Sequence

def format_path(path: Sequence[str | int]) -> str:
    """`("model", "layers", 0, "Dense", "units")` -> `model.layers[0].Dense.units`."""
    text = ""
    for item in path:
        if isinstance(item, int):
            text += f"[{item}]"
        else:
            text += ("." if text else "") + str(item)
    return text or "<top level>"


def closest(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The valid names nearest to `name`, best first (case-insensitive)."""
    choices = sorted(set(choices))
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.5)
    hits += [c for c in lowered if name and c.startswith(name.lower()) and c not in hits]
    return [lowered[h] for h in hits[:n]]


@dataclass(frozen=True)
class Location:
    """Where a value came from: a file position or a command-line override."""

    source: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.source
        return f"{self.source}:{self.line}:{self.column}"


class SpecError(ValueError):
    """A problem in a spec: where it is, what was expected, what would be valid.

    `str(error)` reads `file:line:col: key.path: message (did you mean ...?)`.
    """

    def __init__(
        self,
        message: str,
        *,
        location: Location | None = None,
        path: Sequence[str | int] = (),
        suggestions: Sequence[str] = (),
    ) -> None:
        self.message = message
        self.location = location
        self.path = tuple(path)
        self.suggestions = tuple(suggestions)
        super().__init__(self._render())

    @property
    def line(self) -> int | None:
        return self.location.line if self.location else None

    @property
    def key_path(self) -> str:
        return format_path(self.path)

    def _render(self) -> str:
        parts = []
        if self.location is not None:
            parts.append(f"{self.location}: ")
        if self.path:
            parts.append(f"{format_path(self.path)}: ")
        parts.append(self.message)
        if self.suggestions:
            parts.append(" Did you mean " + " or ".join(f"'{s}'" for s in self.suggestions) + "?")
        return "".join(parts)


class RunError(RuntimeError):
    """A problem with a run or search directory (in use, not ours, damaged): one line a user can act on."""
