"""`zoo predict`: predictions of a finished run for a .npy/.npz/.csv file."""

from __future__ import annotations

import argparse
import os
import sys

from zoo.builders.cli.command import Command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir")
    parser.add_argument("input")
    parser.add_argument("--output", metavar="FILE", help="write a CSV here instead of standard output")
    parser.add_argument("--allow-nan", action="store_true", help="predict for rows with NaN or infinite values too")


def run(arguments) -> int:
    import numpy as np

    from zoo.builders.spec.errors import RunError
    from zoo.builders.tools.inference import class_names as names_of
    from zoo.builders.tools.inference import predict

    if arguments.output:
        if os.path.isdir(arguments.output):
            raise RunError(f"--output {arguments.output} is a directory: name a new file.")
        if os.path.lexists(arguments.output):
            raise RunError(f"--output {arguments.output} exists already: name a new file (nothing is overwritten).")
        if not os.path.isdir(os.path.dirname(os.path.abspath(arguments.output))):
            raise RunError(f"--output {arguments.output}: its folder does not exist.")
    predictions = predict(arguments.run_dir, arguments.input, allow_nan=arguments.allow_nan)
    class_names = names_of(arguments.run_dir)
    rows = predictions.reshape(len(predictions), -1)
    header = ["class"] + [f"p{i}" for i in range(rows.shape[1])] if rows.shape[1] > 1 else ["prediction"]
    if class_names and rows.shape[1] > 1:
        header = ["class", "name"] + [f"p{i}" for i in range(rows.shape[1])]
    lines = [",".join(header)]
    for row in rows:
        values = [str(int(np.argmax(row)))] if rows.shape[1] > 1 else []
        if class_names and rows.shape[1] > 1:
            values.append(str(class_names[int(np.argmax(row))]))
        lines.append(",".join(values + [f"{v:.6g}" for v in row]))
    text = "\n".join(lines) + "\n"
    if arguments.output:
        from zoo.builders.run.files import write_new_text

        try:
            write_new_text(arguments.output, text, "--output")
        except (FileExistsError, FileNotFoundError) as error:
            raise RunError(f"{error}: nothing was written.") from None
    else:
        sys.stdout.write(text)
    return 0


COMMAND = Command("predict", "predictions of a finished run for a .npy/.npz/.csv file", add_arguments, run)
