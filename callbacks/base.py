"""What every callback here shares: it can be rebuilt from its config and written back into a spec."""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["ConfigurableCallback"]


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
