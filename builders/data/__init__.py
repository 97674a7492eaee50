"""Data: sources (a registry), splits, statistics from the training split, and the batches a run feeds."""
