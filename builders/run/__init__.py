"""The run: the plan every command builds, the runtime, training, run directories and what a run records."""
