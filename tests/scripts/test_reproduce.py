"""The reproductions at a tiny size (one seed, two epochs), so they cannot rot: every experiment runs,
plots and reports. Their claims are judged only at full size (scripts/reproduce.py all)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


@pytest.mark.slow  # about 3 minutes on 2 cores: run with pytest -m slow
def test_every_reproduction_runs_at_a_tiny_size_and_writes_its_report(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import reproduce
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "reproduce.py"), "all", "--tiny", "--reports", str(tmp_path)],
                            capture_output=True, text=True, cwd=ROOT, timeout=600,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]
    report = (tmp_path / "REPRODUCTIONS.md").read_text()
    for experiment in reproduce.EXPERIMENTS:
        assert f"[{experiment.name}]({experiment.name}.png)" in report
        assert (tmp_path / f"{experiment.name}.png").stat().st_size > 1000
        assert f"{experiment.name}: " in result.stdout
    assert report.count("\n| [") == len(reproduce.EXPERIMENTS)
