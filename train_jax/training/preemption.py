"""Preemption: SIGTERM, what a cluster sends before it takes a node back (Kubernetes,
Slurm, a spot instance's notice), ends training within its grace period without losing
the epoch being saved. The checkpoint save in flight is waited for and its checksums
recorded, so `cataract train --resume` continues after it, and the process exits with
TERMINATED_EXIT_CODE.

SIGTERM becomes an exception in the main thread (Python runs signal handlers there),
raised at once, or where a `held` section it arrived in ends: a section that must not be
cut in half, such as handing a checkpoint to Orbax and writing the epoch's metrics line.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from typing import Callable, Iterator

log = logging.getLogger(__name__)

# 128 + SIGTERM: what a shell reports for a process that SIGTERM ended, so a job
# scheduler reads the exit as "terminated", not as a failure of training.
TERMINATED_EXIT_CODE = 128 + signal.SIGTERM


class Preempted(BaseException):
    """SIGTERM arrived. A BaseException, as KeyboardInterrupt, so that no `except
    Exception` on the way up mistakes it for an error of its own."""


class _Sigterm:
    """Whether SIGTERM arrived, and how deep the main thread is in `held` sections."""

    requested = False
    holds = 0


def _on_sigterm(signum, frame) -> None:
    if _Sigterm.requested:  # a second SIGTERM while the save is waited for changes nothing
        return
    _Sigterm.requested = True
    if _Sigterm.holds == 0:
        raise Preempted()


@contextlib.contextmanager
def held() -> Iterator[None]:
    """A section SIGTERM does not cut short: it takes effect where the section ends."""
    _Sigterm.holds += 1
    try:
        yield
    finally:
        _Sigterm.holds -= 1
    if _Sigterm.requested and _Sigterm.holds == 0:
        raise Preempted()


@contextlib.contextmanager
def exit_on_sigterm(wait_for_save: Callable[[], int | None]) -> Iterator[None]:
    """Within the block, SIGTERM stops the work, waits for the save in flight
    (`wait_for_save` returns the newest complete checkpoint's epoch, None if there is
    none) and exits with TERMINATED_EXIT_CODE. Off the main thread, where Python cannot
    handle signals, SIGTERM keeps its default action."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    except Preempted:
        epoch = wait_for_save()
        if epoch is None:
            log.warning("terminated (SIGTERM) before the first checkpoint: training must start again")
        else:
            log.warning("terminated (SIGTERM): the checkpoint of epoch %d is complete; "
                        "`cataract train --resume` continues after it", epoch)
        raise SystemExit(TERMINATED_EXIT_CODE) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        _Sigterm.requested, _Sigterm.holds = False, 0
