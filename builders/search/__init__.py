"""The search: the spec as a KerasTuner HyperModel, tuners and their budget, workers, results."""
