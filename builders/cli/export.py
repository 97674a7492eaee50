"""`zoo export`: a finished run's model for serving (SavedModel, TFLite, ONNX), checked against Keras."""

from __future__ import annotations

import argparse

from zoo.builders.cli.command import Command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir")
    parser.add_argument("--format", required=True, choices=["saved_model", "tflite", "onnx"],
                        help="onnx needs pip install 'keras-zoo[onnx]'")
    parser.add_argument("--output", required=True, metavar="PATH", help="a new path (never replaced)")


def run(arguments) -> int:
    from zoo.builders.tools.export import export_run

    result = export_run(arguments.run_dir, arguments.format, arguments.output)
    print(f"exported {arguments.format} to {result['output']}: its predictions on {result['rows_checked']} rows of the "
          f"run's data match the Keras model's (largest difference {result['max_abs_difference']:.2g})")
    return 0


COMMAND = Command(
    "export",
    "a finished run's model for serving (SavedModel, TFLite, ONNX), checked against Keras",
    add_arguments, run,
)
