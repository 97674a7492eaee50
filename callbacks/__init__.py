"""Keras callbacks and multi-step training procedures, for specs and for anyone's `model.fit`.

    from zoo.callbacks import GradientMonitor, LearningRateFinder, UnfreezeSchedule
    from zoo.callbacks import BatchSizeSchedule, fit_growing_batches
    from zoo.callbacks import greedy_layerwise_pretrain, transfer_model

Keras's own callbacks (ReduceLROnPlateau, EarlyStopping, ModelCheckpoint,
TerminateOnNaN, CSVLogger) are used as they are; backups use
AtomicBackupAndRestore, which a kill in the middle of a write cannot break. The classes
here are registered with Keras as `zoo>Name`, so a spec names them like
Keras's. Nothing here imports the spec builders, YAML, KerasTuner or TFDS.
"""

from zoo.callbacks.backup import AtomicBackupAndRestore, BackupError
from zoo.callbacks.batch_size import BatchSizeSchedule, fit_growing_batches
from zoo.callbacks.chain import Chain, chain_of, set_trainable
from zoo.callbacks.diagnostics import (
    ActivationMonitor,
    activation_statistics,
    bias_variance_verdict,
    has_regularization,
    initial_loss,
    overfit_small_batch,
    weight_statistics,
    without_regularization,
)
from zoo.callbacks.gradcheck import gradient_check
from zoo.callbacks.gradients import GradientMonitor, layer_gradient_norms, probe_batch, weighted_layers
from zoo.callbacks.lr_finder import LearningRateFinder
from zoo.callbacks.pretraining import greedy_layerwise_pretrain
from zoo.callbacks.transfer import UnfreezeSchedule, make_trainable_later, reused_blocks, transfer_model

__all__ = [
    "ActivationMonitor",
    "AtomicBackupAndRestore",
    "BackupError",
    "BatchSizeSchedule",
    "Chain",
    "GradientMonitor",
    "LearningRateFinder",
    "UnfreezeSchedule",
    "activation_statistics",
    "bias_variance_verdict",
    "chain_of",
    "fit_growing_batches",
    "gradient_check",
    "greedy_layerwise_pretrain",
    "has_regularization",
    "initial_loss",
    "layer_gradient_norms",
    "make_trainable_later",
    "overfit_small_batch",
    "probe_batch",
    "weighted_layers",
    "reused_blocks",
    "set_trainable",
    "transfer_model",
    "weight_statistics",
    "without_regularization",
]
