"""`zoo tune --workers N`: N trials at once on this machine, through KerasTuner's own chief/worker mode.

One `zoo tune --distributed chief` process serves the oracle on 127.0.0.1 and N
`zoo tune --distributed worker` processes (w0 .. wN-1) run trials, sharing the
machine:

- a GPU: on JAX each worker may take 1/N of the device memory
  (`XLA_PYTHON_CLIENT_MEM_FRACTION`, 0.9/N unless you set it); on TensorFlow
  memory grows as needed (`TF_FORCE_GPU_ALLOW_GROWTH`). The chief builds no
  trial, so it stays on the CPU.
- the CPU cores: each worker gets cores/N threads (`OMP_NUM_THREADS`,
  `TF_NUM_INTRAOP_THREADS`), unless you set them.

Every process's output comes through here, each line prefixed with its name.
Ctrl-C, SIGTERM, or any process ending with an error stops them all. The
search directory is KerasTuner's own, so `zoo tune SPEC --workers N --resume`
continues it: the workers keep their ids, and each takes back the trial it was
running (from its last backed-up epoch).

This module imports no Keras: the launcher only starts and watches processes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Sequence

__all__ = ["run_workers", "worker_environment"]

STOP_GRACE_S = 10.0  # how long a process has to end after SIGTERM before SIGKILL


def worker_environment(base: dict, workers: int, chief: bool = False) -> dict:
    """The environment of one process of a search with `workers` workers: its share of the device and cores.
    What the caller set already is kept."""
    env = dict(base)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if chief:  # serves the oracle and validates the spec; never trains a trial
        env["CUDA_VISIBLE_DEVICES"] = ""
        env["JAX_PLATFORMS"] = "cpu"
        return env
    env.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", f"{0.9 / workers:.3f}")
    env.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    env.setdefault("OMP_NUM_THREADS", threads)
    env.setdefault("TF_NUM_INTRAOP_THREADS", threads)
    return env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _forward(process: subprocess.Popen, prefix: str, lock: threading.Lock) -> None:
    for line in process.stdout:
        with lock:
            sys.stdout.write(prefix + line)
            sys.stdout.flush()


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    """SIGTERM to every process still running, then SIGKILL to any that outlives the grace period."""
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_GRACE_S
    for process in processes.values():
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_workers(spec: str, overrides: Sequence[str], workers: int, *, resume: bool = False, overwrite: bool = False,
                verbose: int = 0, port: int | None = None) -> int:
    """Run the search of `spec` with a chief and `workers` workers on 127.0.0.1; the exit code of the search
    (0 done, 2 spec error, 130 interrupted, 1 otherwise)."""
    if workers < 1:
        print(f"error: --workers must be at least 1; got {workers}.", file=sys.stderr)
        return 2
    oracle = f"127.0.0.1:{port or _free_port()}"
    command = [sys.executable, "-m", "zoo.builders.cli.main", "tune", spec, *overrides, "--oracle", oracle,
               "--verbose", str(verbose)]
    launch = {"chief": [*command, "--distributed", "chief", *(["--resume"] if resume else []),
                        *(["--overwrite"] if overwrite else [])]}
    for index in range(workers):
        launch[f"w{index}"] = [*command, "--distributed", "worker", "--tuner-id", f"w{index}"]
    processes: dict[str, subprocess.Popen] = {}
    lock = threading.Lock()
    readers: list[threading.Thread] = []
    interrupted = []

    def on_signal(number, frame):
        interrupted.append(number)

    previous = {number: signal.signal(number, on_signal) for number in (signal.SIGINT, signal.SIGTERM)}
    print(f"search on {oracle}: a chief and {workers} worker(s) ({', '.join(n for n in launch if n != 'chief')})", flush=True)
    try:
        for name, arguments in launch.items():
            processes[name] = subprocess.Popen(
                arguments, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                env=worker_environment(os.environ, workers, chief=name == "chief"),
                start_new_session=True,  # a terminal's Ctrl-C reaches us; we stop them, in order
            )
            readers.append(threading.Thread(target=_forward, daemon=True,
                                            args=(processes[name], "" if name == "chief" else f"[{name}] ", lock)))
            readers[-1].start()
        while not interrupted:
            if processes["chief"].poll() is not None or any(p.poll() not in (None, 0) for p in processes.values()):
                break
            time.sleep(0.2)
        if interrupted:
            _stop(processes)
            print(f"interrupted: every process stopped; continue with zoo tune {spec} --workers {workers} --resume",
                  file=sys.stderr, flush=True)
            return 130
        chief = processes["chief"].poll()
        if chief == 0:  # the search is over: the workers are told so when they ask for their next trial
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and any(p.poll() is None for p in processes.values()):
                time.sleep(0.2)
            return 0
        name, code = ("chief", chief) if chief is not None else next(
            (n, p.returncode) for n, p in processes.items() if p.poll() not in (None, 0))
        _stop(processes)
        if code != 2:  # a spec error has been printed already, by every process
            print(f"error: {name} ended with exit code {code}; every process stopped. The search directory keeps "
                  f"each finished trial: fix the cause and continue with --resume.", file=sys.stderr, flush=True)
        return code if code in (1, 2, 130) else 1
    finally:
        _stop(processes)
        for reader in readers:  # every line out before we return
            reader.join(timeout=5)
        for number, handler in previous.items():
            signal.signal(number, handler)
