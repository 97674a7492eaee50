"""Shared test setup: quiet TensorFlow, the valid spec the mutations start from, and a helper."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

DIGITS_SPEC = """\
version: 1
name: tiny_digits
seed: 7
data:
  source: {sklearn: digits}
  validation_split: 0.2
  normalize: true
  batch_size: 64
model:
  defaults:
    kernel_initializer: he_normal
    activation: relu
    dropout: 0.1
  layers:
    - Dense: {units: 32}
    - Dense: {units: 10, activation: softmax}
train:
  optimizer: {Adam: {learning_rate: 1.0e-3}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
  epochs: 2
"""


@pytest.fixture
def digits_spec_text() -> str:
    return DIGITS_SPEC


def call_zoo(capsys, *arguments: str):
    """`zoo ARGUMENTS` in this process (no interpreter start-up): what it returns and prints, as run_zoo gives it.
    A traceback is an exception here, so the test fails on it."""
    import subprocess

    from zoo.builders.cli.main import main

    code = main(list(arguments))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(arguments, code, captured.out, captured.err)


def run_zoo(*arguments: str, cwd: Path | None = None, timeout: float = 300):
    """Run the installed `zoo` command in a fresh process."""
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "zoo.builders.cli.main", *arguments],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)},
    )
