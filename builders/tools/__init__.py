"""Tools on finished runs: evaluate, predict, export, compare, ensemble, doctor, learning curves."""
