"""Constructor argument checks shared by the zoo's classes: a bad value fails at construction."""

from __future__ import annotations

import math
import numbers

__all__ = ["positive_int", "int_at_least", "rate", "positive", "non_negative", "finite", "one_of"]


def _fail(owner: str, name: str, value, allowed: str) -> ValueError:
    return ValueError(f"{owner}: argument `{name}` got {value!r}; allowed: {allowed}.")


def int_at_least(owner: str, name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise _fail(owner, name, value, f"an integer >= {minimum}")
    return int(value)


def positive_int(owner: str, name: str, value) -> int:
    return int_at_least(owner, name, value, 1)


def _number(owner: str, name: str, value, allowed: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise _fail(owner, name, value, allowed)
    return float(value)


def rate(owner: str, name: str, value) -> float:
    """A probability of dropping: 0 <= value < 1."""
    allowed = "a number in [0, 1)"
    if not 0 <= _number(owner, name, value, allowed) < 1:
        raise _fail(owner, name, value, allowed)
    return float(value)


def positive(owner: str, name: str, value) -> float:
    if _number(owner, name, value, "a number > 0") <= 0:
        raise _fail(owner, name, value, "a number > 0")
    return float(value)


def non_negative(owner: str, name: str, value) -> float:
    if _number(owner, name, value, "a number >= 0") < 0:
        raise _fail(owner, name, value, "a number >= 0")
    return float(value)


def one_of(owner: str, name: str, value, choices) -> str:
    if value not in choices:
        raise _fail(owner, name, value, "one of " + ", ".join(repr(c) for c in choices))
    return value


def finite(owner: str, name: str, value) -> float:
    return _number(owner, name, value, "a finite number")
