"""A model as a chain of layers, cut into blocks: what pretraining and transfer reuse.

A *block* starts at a layer with a kernel (Dense, Conv*, ...) and takes the
weightless or normalizing layers after it (BatchNormalization, Activation,
Dropout, ...). The layers before the first block (Normalization, Rescaling,
Flatten) are the model's *preamble*; the last block is its *head*.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras

from zoo._keras import inbound_nodes

__all__ = ["Chain", "chain_of", "set_trainable"]

_NOT_BLOCK_STARTS = (keras.layers.BatchNormalization, keras.layers.LayerNormalization, keras.layers.Normalization)


def _starts_block(layer: keras.layers.Layer) -> bool:
    return bool(layer.weights) and not isinstance(layer, _NOT_BLOCK_STARTS) and not isinstance(layer, keras.layers.InputLayer)


@dataclass
class Chain:
    """The layers of a single-input, single-output model that applies them one after another."""

    model: keras.Model
    preamble: list[keras.layers.Layer]
    blocks: list[list[keras.layers.Layer]]

    @property
    def hidden(self) -> list[list[keras.layers.Layer]]:
        return self.blocks[:-1]

    @property
    def head(self) -> list[keras.layers.Layer]:
        return self.blocks[-1]

    @property
    def layers(self) -> list[keras.layers.Layer]:
        return self.preamble + [layer for block in self.blocks for layer in block]

    def inputs(self):
        return keras.Input(shape=self.model.input_shape[1:], dtype=self.model.inputs[0].dtype)

    def apply(self, x, blocks: list[list[keras.layers.Layer]]):
        """`x` through the preamble and then `blocks`."""
        for layer in self.preamble + [layer for block in blocks for layer in block]:
            x = layer(x)
        return x

    def block_of(self, name: str) -> int:
        """The index of the block that holds the layer `name`."""
        for index, block in enumerate(self.blocks):
            if any(layer.name == name for layer in block):
                return index
        raise ValueError(f"model {self.model.name!r} has no layer named {name!r}; its layers are: "
                         f"{', '.join(layer.name for layer in self.layers)}.")


def _chain_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers `model` applies one after another; a nested model (a zoo architecture behind the spec's
    input preprocessing, say) contributes its own layers. A model that is not a chain is a ValueError."""
    if isinstance(model, keras.Sequential):
        layers = list(model.layers)
    else:
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise ValueError(f"model {model.name!r} has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
                             "layer-wise procedures need one of each.")
        layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
        previous = model.inputs[0]
        for layer in layers:
            nodes = [node for node in inbound_nodes(layer) if any(t is previous for t in node.input_tensors)]
            if len(nodes) != 1 or len(nodes[0].input_tensors) != 1:
                raise ValueError(f"model {model.name!r} is not a chain of layers: layer {layer.name!r} does not take "
                                 "just the previous layer's output (a residual or branching model); "
                                 "layer-wise procedures need a plain stack.")
            previous = nodes[0].output_tensors[0]
    flat = []
    for layer in layers:
        flat.extend(_chain_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return flat


def chain_of(model: keras.Model) -> Chain:
    """Cut `model` into preamble and blocks; a model that is not a chain is a ValueError that says where."""
    layers = _chain_layers(model)
    starts = [i for i, layer in enumerate(layers) if _starts_block(layer)]
    if len(starts) < 2:
        raise ValueError(f"model {model.name!r} has {len(starts)} layer(s) with a kernel; layer-wise procedures need "
                         "hidden layers and an output layer.")
    preamble = layers[: starts[0]]
    blocks = [layers[a:b] for a, b in zip(starts, starts[1:] + [len(layers)])]
    return Chain(model, preamble, blocks)


def set_trainable(layers: list[keras.layers.Layer], trainable: bool) -> None:
    for layer in layers:
        layer.trainable = trainable
