"""The CLI behaves as users of Keras-era tools expect: --version, overrides the same way everywhere,
exit codes in --help, one line per epoch when piped, no TensorFlow where none is needed, and no
TensorFlow startup noise unless -v."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

from tests.conftest import DIGITS_SPEC, ROOT, call_zoo, run_zoo


def test_version_and_exit_codes_in_help(capsys):
    done = subprocess.run([sys.executable, "-m", "zoo.builders.cli.main", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.strip() == f"zoo (keras-zoo) {version('keras-zoo')}"
    helped = subprocess.run([sys.executable, "-m", "zoo.builders.cli.main", "train", "--help"], capture_output=True, text=True, cwd=ROOT)
    for line in ("0    done", "1    a run error", "2    a spec error", "130  interrupted"):
        assert line in helped.stdout


def test_overrides_are_given_the_same_way_to_every_command(tmp_path, capsys):
    spec = tmp_path / "spec.yaml"
    spec.write_text(DIGITS_SPEC)
    positional = call_zoo(capsys, "validate", str(spec), "train.epochs=0")
    older = call_zoo(capsys, "validate", str(spec), "--set", "train.epochs=0")
    assert positional.returncode == older.returncode == 2
    assert "train.epochs" in positional.stderr and positional.stderr == older.stderr
    both = call_zoo(capsys, "validate", str(spec), str(spec), "data.batch_size=16")
    assert both.returncode == 0 and both.stdout.count(": ok") == 2
    alone = call_zoo(capsys, "validate", "train.epochs=1")
    assert alone.returncode == 2 and "name at least one spec file" in alone.stderr
    # after an option too, as `zoo train SPEC --run-dir DIR KEY=VALUE`
    trained = call_zoo(capsys, "train", str(spec), "--run-dir", str(tmp_path / "run"), "train.epochs=1", "--quiet")
    assert trained.returncode == 0, trained.stderr
    assert "epochs: 1" in (tmp_path / "run" / "spec.yaml").read_text()


def test_piped_training_prints_one_line_per_epoch_and_no_native_noise(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(DIGITS_SPEC)
    done = run_zoo("train", str(spec), "--run-dir", str(tmp_path / "run"))  # stdout is a pipe, not a terminal
    assert done.returncode == 0, done.stderr[-1500:]
    epochs = [line for line in done.stdout.splitlines() if line.startswith("Epoch ")]
    assert epochs == ["Epoch 1/2", "Epoch 2/2"]
    assert "\r" not in done.stdout and "\x08" not in done.stdout and "━" not in done.stdout  # no progress bar codes
    for noise in ("I0000", "cuda", "oneDNN", "absl::InitializeLog", "cpu_feature_guard"):
        assert noise not in done.stderr, done.stderr


def test_the_native_log_filter_drops_only_tensorflows_lines():
    script = """\
import os, sys
from zoo.builders.cli.main import _filter_native_logs
_filter_native_logs()
os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n")
os.write(2, b"I0000 00:00:1795799208.822528    7195 cudart_stub.cc:31] Could not find cuda drivers on your machine.\\n")
os.write(2, b"E0000 00:00:1795799212.833046    7195 cuda_platform.cc:52] failed call to cuInit\\n")
print("error: the user's message", file=sys.stderr)
os.write(2, b"a last line without a newline")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and done.stderr == "error: the user's message\na last line without a newline"


def test_catalogue_schema_and_a_spec_without_data_import_no_tensorflow(tmp_path):
    spec = tmp_path / "nodata.yaml"
    spec.write_text("version: 1\nname: nodata\nmodel:\n  input_shape: [4]\n  layers: [Dense: {units: 3, activation: softmax}]\n"
                    "train: {loss: sparse_categorical_crossentropy}\n")
    for command in (["list"], ["schema"], ["show", "Maxout"], ["show", str(spec)], ["validate", str(spec)]):
        script = ("import contextlib, io, sys\nfrom zoo.builders.cli.main import main\n"
                  f"with contextlib.redirect_stdout(io.StringIO()): code = main({command!r})\n"
                  "print(code, 'tensorflow' in sys.modules)")
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert done.stdout.split()[-2:] == ["0", "False"], (command, done.stdout, done.stderr[-1500:])


def test_a_bare_verbose_flag_leaves_the_next_override_alone():
    from zoo.builders.cli.main import _parse

    assert _parse(["train", "s.yaml", "-v", "train.epochs=5"]).overrides == ["train.epochs=5"]
    assert _parse(["tune", "s.yaml", "--verbose", "2"]).verbose == 2


def test_each_command_is_one_module_in_the_registry():
    """A command is a module of builders/cli/ with a COMMAND; the parser and the light-command rule come from it."""
    import importlib

    from zoo.builders.cli.main import COMMANDS

    modules = sorted(p.stem for p in (ROOT / "builders" / "cli").glob("*.py")
                     if p.stem not in ("__init__", "__main__", "main", "command"))
    assert sorted(m.replace("catalogue", "list").replace("_", "-") for m in modules) == sorted(COMMANDS)
    for module in modules:
        command = importlib.import_module(f"zoo.builders.cli.{module}").COMMAND
        assert COMMANDS[command.name] is command and command.help and callable(command.run)
    assert [name for name, command in COMMANDS.items() if command.light] == ["validate", "show", "list", "schema"]


def test_python_dash_m_runs_the_package():
    done = subprocess.run([sys.executable, "-m", "zoo.builders.cli", "--version"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("zoo (keras-zoo) "), done.stderr[-1500:]
