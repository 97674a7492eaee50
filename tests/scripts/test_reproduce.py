"""The reproductions at a tiny size (one seed, one epoch, 128 training rows), so they cannot rot: every
experiment runs, plots and reports. Their claims are judged only at full size (zoo reproduce all)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _reproduce():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import reproduce
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return reproduce


EXPERIMENTS = [experiment.name for experiment in _reproduce().EXPERIMENTS]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_each_reproduction_runs_at_a_tiny_size_and_writes_its_row_and_plot(name, tmp_path, capsys):
    """`zoo reproduce NAME --tiny`: every variant trains (one epoch, 128 rows), the claim is measured, plotted
    and written; whether it held at this size says nothing."""
    assert _reproduce().main([name, "--tiny", "--reports", str(tmp_path)]) == 0
    row = _rows((tmp_path / "REPRODUCTIONS.md").read_text())
    assert set(row) == {name}
    assert row[name].endswith(("| 1 | yes |", "| 1 | **no** |"))  # one seed
    assert (tmp_path / f"{name}.png").stat().st_size > 1000
    printed = capsys.readouterr().out
    assert printed.split(f"{name}: ", 1)[1].splitlines()[1].strip()  # what was measured


def _rows(report: str) -> dict[str, str]:
    return {line[3:line.index("]")]: line for line in report.splitlines() if line.startswith("| [")}


def test_zoo_reproduce_reruns_one_claim_and_keeps_every_other_row(tmp_path):
    """`zoo reproduce NAME` rewrites that experiment's row and plot; the report's other rows stay as they were."""
    before = _rows((ROOT / "reports" / "REPRODUCTIONS.md").read_text())
    (tmp_path / "REPRODUCTIONS.md").write_text((ROOT / "reports" / "REPRODUCTIONS.md").read_text())
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "zoo.builders.cli.main", "reproduce", "batch_norm_high_rate", "--tiny",
                             "--reports", str(tmp_path)], capture_output=True, text=True, cwd=tmp_path, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "batch_norm_high_rate: " in result.stdout
    after = _rows((tmp_path / "REPRODUCTIONS.md").read_text())
    assert set(after) == set(before) | {"batch_norm_high_rate"}
    assert all(after[name] == line for name, line in before.items() if name != "batch_norm_high_rate")
    assert after["batch_norm_high_rate"].endswith(("| 1 | yes |", "| 1 | **no** |"))  # one seed: the tiny run's row
    assert (tmp_path / "batch_norm_high_rate.png").stat().st_size > 1000

    unknown = subprocess.run([sys.executable, "-m", "zoo.builders.cli.main", "reproduce", "batch_norm_highrate"],
                             capture_output=True, text=True, cwd=tmp_path, timeout=120, env=env)
    assert unknown.returncode == 2 and "unknown experiment 'batch_norm_highrate'" in unknown.stderr
    assert "batch_norm_high_rate" in unknown.stderr  # the list of names to choose from
