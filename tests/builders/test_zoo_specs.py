"""The zoo from specs: named architectures, zoo activations/optimizers/schedules by name, the CLI catalogue."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from zoo.builders.data.load import load_data
from zoo.builders.run.model import build_model
from zoo.builders.run.train import train
from zoo.builders.spec.document import load_spec
from zoo.builders.spec.errors import SpecError
from zoo.builders.tools.inference import evaluate
from tests.conftest import DIGITS_SPEC, call_zoo, run_zoo
from zoo._keras import learning_rate_object
from zoo.layers import Maxout, NoisyReLU
from zoo.optimizers import Backstitch, Yogi
from zoo.schedules import OneCycle

MNIST1D = """\
version: 1
name: zoo_spec
seed: 3
data: {source: {mnist1d: {num_samples: 600}}, validation_split: 0.2, batch_size: 50}
train: {epochs: 2}
"""


@pytest.mark.parametrize("model", ["{zoo: cnn, filters: [8], dense_units: 16}", "{zoo: gmlp, width: 8, ffn_units: 16, depth: 1}"])
def test_a_zoo_architecture_trains_from_a_spec(model, tmp_path):
    result = train(load_spec(MNIST1D + f"model: {model}\n"), run_dir=tmp_path / "run", quiet=True)
    assert result.model.output_shape == (None, 10)  # from the data: 10 classes, softmax
    assert result.model.layers[-1].activation.__name__ == "softmax"
    assert len(result.history["val_accuracy"]) == 2
    scores = evaluate(tmp_path / "run")  # reloads with safe_mode; MNIST-1D brings its own test split
    assert scores["split"] == "test" and scores["accuracy"] == pytest.approx(result.metrics["test_accuracy"], abs=1e-6)


def test_an_autoencoder_spec_trains_on_its_inputs(tmp_path):
    text = MNIST1D.replace("train: {epochs: 2}", "train: {epochs: 3}") + "model: {zoo: autoencoder, latent_dim: 4, hidden: [32]}\n"
    result = train(load_spec(text), run_dir=tmp_path / "run", quiet=True)
    assert result.model.output_shape == result.model.input_shape
    losses = result.history["val_loss"]
    assert losses[-1] < losses[0] and "val_accuracy" not in result.history
    assert evaluate(tmp_path / "run")["loss"] == pytest.approx(result.metrics["test_loss"], rel=1e-4)


def test_zoo_model_errors_point_at_the_spec_line():
    with pytest.raises(SpecError, match="unknown architecture 'resnt'") as error:
        build_model(load_spec(MNIST1D + "model: {zoo: resnt}\n"))
    assert "resnet" in error.value.suggestions and error.value.line == 6
    with pytest.raises(SpecError, match="takes no parameter 'dept'") as error:
        build_model(load_spec(MNIST1D + "model:\n  zoo: mlp\n  dept: 3\n"))
    assert error.value.line == 8 and "depth" in error.value.suggestions
    with pytest.raises(SpecError, match="argument `dropout` got 2") as error:
        build_model(load_spec(MNIST1D + "model:\n  zoo: mlp\n  dropout: 2\n"))
    assert error.value.line == 8


def test_zoo_layers_activations_optimizers_and_schedules_by_name():
    text = DIGITS_SPEC.replace(
        "    - Dense: {units: 32}\n",
        "    - Maxout: {units: 16, pieces: 3}\n    - Dense: {units: 32, activation: noisy_relu}\n"
        "    - Dense: {units: 16, activation: lecun_tanh}\n    - Dense: {units: 16, activation: {LeakyReLU: {negative_slope: 0.2}}}\n",
    ).replace(
        "  optimizer: {Adam: {learning_rate: 1.0e-3}}",
        "  optimizer: {Yogi: {learning_rate: {OneCycle: {max_learning_rate: 0.01, total_steps: 100}}, layer_clipnorm: {'*': 1.0}}}",
    )
    model = build_model(load_spec(text))
    kinds = [type(layer) for layer in model.layers]
    assert Maxout in kinds and NoisyReLU in kinds and keras.layers.LeakyReLU in kinds
    noisy = kinds.index(NoisyReLU)
    assert model.layers[noisy - 1].activation.__name__ == "linear"  # the Dense before it has no activation of its own
    assert any(getattr(layer, "activation", None) is not None and layer.activation.__name__ == "lecun_tanh" for layer in model.layers)
    assert isinstance(model.optimizer, Yogi) and isinstance(learning_rate_object(model.optimizer), OneCycle)
    assert model.optimizer.layer_clipnorm == {"*": 1.0}


def test_backstitch_from_a_spec_sees_every_batch_twice(tmp_path):
    text = DIGITS_SPEC.replace("  optimizer: {Adam: {learning_rate: 1.0e-3}}", "  optimizer: {Backstitch: {learning_rate: 0.05, alpha: 0.3}}")
    spec = load_spec(text, ["train.epochs=2"])
    batches = sum(1 for _ in load_data(spec).train)
    result = train(spec, run_dir=tmp_path / "run", quiet=True)
    assert isinstance(result.model.optimizer, Backstitch)
    assert int(np.asarray(result.model.optimizer.iterations)) == 2 * 2 * batches  # two epochs, each batch twice
    assert result.metrics["final_val_accuracy"] > 0.6


def test_zoo_list_and_show(capsys):
    listing = run_zoo("list")
    assert listing.returncode == 0, listing.stderr[-2000:]
    for name in ("mlp", "gmlp", "vae", "Maxout", "Yogi", "OneCycle", "lecun_tanh"):
        assert name in listing.stdout
    shown = call_zoo(capsys, "show", "resnet")
    assert shown.returncode == 0 and "blocks_per_stage = 2" in shown.stdout
    layer = call_zoo(capsys, "show", "DropConnectDense")
    assert "rate" in layer.stdout and "Example" in layer.stdout
    missing = call_zoo(capsys, "show", "Maxot")
    assert missing.returncode == 2 and "Did you mean 'Maxout'" in missing.stderr


def test_step_decay_in_a_spec_counts_epochs_not_steps(tmp_path):
    """Without steps_per_epoch, `every: 2` means two epochs of this run's batches (23 of 64 rows here)."""
    text = DIGITS_SPEC.replace("epochs: 2", "epochs: 3").replace(
        "optimizer: {Adam: {learning_rate: 1.0e-3}}",
        "optimizer: {SGD: {learning_rate: {StepDecay: {initial_learning_rate: 0.1, factor: 0.5, every: 2}}}}")
    result = train(load_spec(text), run_dir=tmp_path / "run", verbose=0)
    assert result.history["learning_rate"] == pytest.approx([0.1, 0.05, 0.05])
    assert learning_rate_object(result.model.optimizer).steps_per_epoch == 23  # ceil(1438 / 64) batches
    given = train(load_spec(text.replace("every: 2}", "every: 2, steps_per_epoch: 1}")), run_dir=tmp_path / "steps", verbose=0)
    assert given.history["learning_rate"][0] == pytest.approx(0.1 * 0.5 ** 11)  # the user asked for steps: 23 // 2 drops
