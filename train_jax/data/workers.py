"""Work spread over worker processes, with a bounded number of tasks in flight.

Processes are spawned, not forked: the parent may hold JAX's or OpenMP's threads, which a
forked child inherits in an unknown state. Tasks are taken from their iterator only when
a worker is about to be free, so a task list can depend on the results so far (the copy
verification skips pairs that earlier verdicts already joined), and memory holds a few
tasks, not all of them.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable, Iterable, Iterator, TypeVar

from train_jax.errors import UserError

Task = TypeVar("Task")
Result = TypeVar("Result")

TASKS_IN_FLIGHT_PER_WORKER = 2


def default_workers() -> int:
    return os.cpu_count() or 1


@dataclasses.dataclass(frozen=True)
class Cost:
    wall: float  # seconds
    cpu: float  # CPU seconds of this process and of the workers that ended meanwhile


class Stopwatch:
    """Wall and CPU time since it was made; a stage's workers count once the stage has
    ended them (in_workers does, on its way out)."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), cpu_seconds()

    def cost(self) -> Cost:
        return Cost(time.perf_counter() - self.wall, cpu_seconds() - self.cpu)


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def in_workers(function: Callable[[Task], Result], tasks: Iterable[Task], workers: int) -> Iterator[tuple[Task, Result]]:
    """(task, function(task)) as each finishes; workers = 0 runs them here, in order."""
    if workers <= 0:
        for task in tasks:
            yield task, function(task)
        return
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    remaining = iter(tasks)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_one_thread_each) as pool:
        pending = {}
        while True:
            while len(pending) < TASKS_IN_FLIGHT_PER_WORKER * workers and (task := next(remaining, _END)) is not _END:
                pending[pool.submit(function, task)] = task
            if not pending:
                return
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    result = future.result()
                except BrokenProcessPool:
                    raise UserError(f"a worker process died (killed, or out of memory?): run again, with fewer workers "
                                    f"than {workers} if it happens again") from None
                yield pending.pop(future), result


_END = object()


def _one_thread_each() -> None:
    """The workers already use every core between them: libraries must not add threads."""
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    import cv2

    cv2.setNumThreads(1)
