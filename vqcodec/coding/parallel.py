"""Independent tile groups on worker processes, one per core.

Tiles are independent entropy-coding units and the integer prior is exact, so groups of tiles
can be coded anywhere, in any order, with identical results. Threads do not pay here (measured:
the GIL between a wavefront's many small ops; torch's own threads stall on a busy core), so the
groups go to forked processes: each inherits the loaded model (copy-on-write, no reloading),
runs its groups on one torch thread, and sends back only indices or streams. Without fork (not
Linux or macOS), or with one core or one group, everything runs in this process.

$VQCODEC_WORKERS sets the number of processes (1: never fork).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

R = TypeVar("R")

PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)
_CONTEXT: dict[str, Any] = {}  # what the forked workers inherit
_LOCK = threading.Lock()  # one pool at a time: _CONTEXT is process-wide


def available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def worker_count(jobs: int) -> int:
    """Processes to use for `jobs` independent jobs."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    wanted = os.environ.get("VQCODEC_WORKERS", "").strip()
    count = int(wanted) if wanted.isdigit() and int(wanted) > 0 else available_cores()
    return max(1, min(count, jobs))


def run(fn: Callable[..., R], jobs: Sequence[tuple], shared: Any) -> list[R]:
    """[fn(shared, *job) for job in jobs], on forked worker processes where more than one core
    and job exist. `shared` (the model) reaches the workers by fork, not by pickling; the jobs
    and results are pickled (results are best numpy arrays: torch pickles tensors through
    shared memory, one file descriptor each)."""
    workers = worker_count(len(jobs))
    if workers == 1:
        return [fn(shared, *job) for job in jobs]
    with _LOCK:
        _CONTEXT["shared"], _CONTEXT["parent"] = shared, os.getpid()
        try:
            # a Pool, not a ProcessPoolExecutor: leaving its block on an error or Ctrl-C
            # terminates the workers at once instead of waiting for their jobs
            with _sigint_ignored():  # inherited from the fork: no window before the initializer
                pool = multiprocessing.get_context("fork").Pool(workers, _start_worker)
            with pool:
                return pool.starmap(_call, [(fn, job) for job in jobs], chunksize=1)
        finally:
            _CONTEXT.clear()


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored while workers fork (main thread only: elsewhere signals cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def _start_worker() -> None:
    """A forked child must not use the OpenMP thread pool it inherited (its threads did not
    survive the fork: the first parallel op would wait for them forever), so it stays on one
    torch thread for good, pickling of its results included. Ctrl-C reaches the whole process
    group: the parent alone handles it (and terminates the workers), so it stays one line. A
    parent killed outright takes its workers with it (Linux), before they find its pipes gone
    and print about it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()  # first: importing torch (when the parent has not) takes seconds
    import torch

    torch.set_num_threads(1)


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != _CONTEXT.get("parent"):  # the parent died before prctl took effect
        os._exit(1)


def _call(fn: Callable[..., R], job: tuple) -> R:
    return fn(_CONTEXT["shared"], *job)
