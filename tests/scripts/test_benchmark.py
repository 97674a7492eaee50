"""The MNIST-1D benchmark at a tiny size, so it cannot rot; its figures are judged only at full size."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow  # about a minute on 2 cores: run with pytest -m slow
def test_the_benchmark_runs_at_a_tiny_size_with_its_held_out_seed_and_shuffled_row(tmp_path):
    target = tmp_path / "BENCHMARKS.md"
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "benchmark.py"), "--tiny", "--models", "MLP",
                             "--output", str(target)], capture_output=True, text=True, cwd=tmp_path, timeout=600,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]
    report = target.read_text()
    assert "seeds 10. Those seeds were used for nothing else" in report
    row = next(line for line in report.splitlines() if line.startswith("| MLP |"))
    assert row.endswith("| 0.68 | 0.68 |")  # the paper's ordered and shuffled rows beside ours
    assert "from spec: test" in result.stdout and "shuffled" in result.stdout
