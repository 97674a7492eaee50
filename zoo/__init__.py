"""The zoo: Keras layers, activations, optimizers, schedules and architectures to import.

    from zoo.layers import Maxout
    from zoo.optimizers import Yogi
    from zoo.schedules import OneCycle
    from zoo import architectures

Everything is registered with Keras as `zoo>Name`, so saved models that use it
reload with `keras.saving.load_model(..., safe_mode=True)`. Nothing here
imports the spec builders, YAML, KerasTuner or TensorFlow Datasets.
"""

from zoo import activations, architectures, layers, optimizers, schedules

__all__ = ["activations", "architectures", "layers", "optimizers", "schedules"]
