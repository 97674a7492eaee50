"""What every callback here shares: it can be rebuilt from its config and written back into a spec."""

from __future__ import annotations

import os
from typing import Any

import keras

__all__ = ["ConfigurableCallback", "file_mode"]


class ConfigurableCallback(keras.callbacks.Callback):
    """A callback whose `get_config()` is exactly its constructor arguments.

    `cls.from_config(callback.get_config())` rebuilds it, and `as_component()` is the
    `{ClassName: {arguments}}` mapping a spec's `train.callbacks` list takes.
    """

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "ConfigurableCallback":
        return cls(**config)

    def as_component(self) -> dict[str, dict[str, Any]]:
        return {type(self).__name__: self.get_config()}


def file_mode() -> int:
    """The mode a plain `open(path, "w")` would give: 0o666 less the umask (mkstemp's files are 0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
