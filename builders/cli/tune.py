"""`zoo tune`: search the spec's {hp: ...} markers with KerasTuner (the tune section)."""

from __future__ import annotations

import argparse
import os
import sys

from zoo.builders.cli.command import Command, EXIT_SPEC_ERROR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec")
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--resume", action="store_true", help="continue the search in its directory; finished trials are kept")
    parser.add_argument("--overwrite", action="store_true", help="delete an earlier search in the directory and start again")
    parser.add_argument("--workers", type=int, metavar="N", help="run N trials at once on this machine (a chief and N "
                        "workers on 127.0.0.1, sharing its GPU or cores); default tune.parallel_trials, else 1")
    parser.add_argument("--distributed", choices=["chief", "worker"], help="KerasTuner's chief/worker mode over gRPC")
    parser.add_argument("--oracle", metavar="HOST:PORT", help="the chief's address (distributed mode)")
    parser.add_argument("--tuner-id", metavar="ID", help="this worker's id (default worker<pid>); a restarted worker "
                        "with the same id picks up its unfinished trial")


def run(arguments) -> int:
    workers = arguments.workers
    if workers is None and not arguments.distributed:
        from zoo.builders.spec.document import load_spec

        workers = (load_spec(arguments.spec, arguments.overrides).tree.get("tune") or {}).get("parallel_trials", 1)
    if workers is not None and workers != 1:
        if arguments.distributed:
            print("error: --workers starts its own chief and workers; it does not combine with --distributed.", file=sys.stderr)
            return EXIT_SPEC_ERROR
        from zoo.builders.search.workers import run_workers

        return run_workers(arguments.spec, arguments.overrides, workers, resume=arguments.resume,
                           overwrite=arguments.overwrite, verbose=arguments.verbose)
    if arguments.distributed:
        if not arguments.oracle or ":" not in arguments.oracle:
            print("error: --distributed needs --oracle HOST:PORT (the chief's address).", file=sys.stderr)
            return EXIT_SPEC_ERROR
        host, port = arguments.oracle.rsplit(":", 1)
        # KerasTuner's own chief/worker protocol reads these.
        os.environ["KERASTUNER_ORACLE_IP"], os.environ["KERASTUNER_ORACLE_PORT"] = host, port
        os.environ["KERASTUNER_TUNER_ID"] = "chief" if arguments.distributed == "chief" else (arguments.tuner_id or f"worker{os.getpid()}")
    from zoo.builders.search.tune import tune

    tune(arguments.spec, arguments.overrides, resume=arguments.resume or arguments.distributed == "worker",
         overwrite=arguments.overwrite, verbose=arguments.verbose)
    return 0


COMMAND = Command("tune", "search the spec's {hp: ...} markers with KerasTuner (the tune section)", add_arguments, run)
