"""The `zoo` command in real subprocesses: answers, exit codes, no tracebacks."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DIGITS_SPEC, ROOT, call_zoo, run_zoo


def test_help_is_quick_and_imports_no_tensorflow():
    import subprocess
    import sys

    script = "import sys; from zoo.builders.cli.main import main\ntry: main(['--help'])\nexcept SystemExit: pass\nprint('tensorflow' in sys.modules, 'keras' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert "train" in done.stdout and done.stdout.strip().endswith("False False")


def test_validate_ok_and_warnings(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    good = call_zoo(capsys, "validate", "specs/digits_mlp.yaml")
    assert good.returncode == 0 and "specs/digits_mlp.yaml: ok" in good.stdout, good.stderr
    risky = tmp_path / "selu.yaml"
    risky.write_text(DIGITS_SPEC.replace("activation: relu", "activation: selu"))
    warned = call_zoo(capsys, "validate", str(risky))
    assert warned.returncode == 0 and "warning: selu" in warned.stdout


@pytest.mark.parametrize("text, command", [
    (DIGITS_SPEC.replace("epochs: 2", "epochs: [2"), "train"),
    (DIGITS_SPEC.replace("Dense: {units: 32}", "Dens: {units: 32}"), "train"),
    (DIGITS_SPEC.replace("Dense: {units: 32}", "Dens: {units: 32}"), "show"),
    (DIGITS_SPEC.replace("seed: 7", "seed: !!python/object/apply:os.system [echo]"), "validate"),
    ("just a string", "validate"),
    ("\x00\x01", "validate"),
])
def test_broken_spec_gives_one_line_error_and_no_traceback(tmp_path, capsys, text, command):
    file = tmp_path / "bad.yaml"
    file.write_text(text)
    for command in ([command, str(file)],):
        # one case in a fresh process, the others in this one (the same main(), without 8 s of start-up each)
        done = run_zoo(*command) if text == "just a string" else call_zoo(capsys, *command)
        assert done.returncode == 2, (command, done.stdout, done.stderr[-1500:])
        assert "Traceback" not in done.stderr and f"{file}:" in done.stderr, done.stderr[-1500:]


def test_show_prints_spec_and_summary():
    done = run_zoo("show", "specs/digits_mlp.yaml", "model.layers[0].Dense.units=48")
    assert done.returncode == 0, done.stderr[-1500:]
    assert "units: 48" in done.stdout and "BatchNormalization" in done.stdout


def test_schema_is_json_schema():
    done = run_zoo("schema")
    schema = json.loads(done.stdout)
    assert schema["title"] == "keras-zoo spec" and "hp_marker" in schema["$defs"]


def test_train_evaluate_predict_from_the_command_line(tmp_path, capsys):
    import numpy as np
    from sklearn.datasets import load_digits

    spec = tmp_path / "spec.yaml"
    spec.write_text(DIGITS_SPEC.replace("validation_split: 0.2", "validation_split: 0.2\n  test_split: 0.2"))
    trained = run_zoo("train", str(spec), "train.epochs=1", "--run-dir", str(tmp_path / "run"), "--quiet")
    assert trained.returncode == 0, trained.stderr[-1500:]
    assert "validation accuracy" in trained.stdout and "test accuracy" in trained.stdout
    evaluated = call_zoo(capsys, "evaluate", str(tmp_path / "run"))  # the train above ran in a fresh process
    assert evaluated.returncode == 0 and "accuracy" in evaluated.stdout
    np.savez(tmp_path / "rows.npz", x=load_digits().data[:4])
    predicted = call_zoo(capsys, "predict", str(tmp_path / "run"), str(tmp_path / "rows.npz"))
    lines = predicted.stdout.strip().splitlines()
    assert predicted.returncode == 0 and lines[0].startswith("class,name,p0") and len(lines) == 5
