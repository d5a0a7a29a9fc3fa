"""Stopping a run cleanly: SIGINT and SIGTERM ask it to stop after the item in hand (a second
signal stops at once), and the outputs are finished shielded from further signals."""
from __future__ import annotations

import contextlib
import signal
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from .predict import Report


class Interrupted(Exception):
    """A stop signal; carries the signal's name."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass
class _StopRequest:
    signal: str | None = None        # set by the handler; the loops stop at the next item


STOP = _StopRequest()


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """While a run lasts, SIGINT and SIGTERM ask it to stop after the item in hand, so the
    annotated video and the JSON always hold the same frames; a second signal stops at once.
    Only in the main thread (signal handlers live there)."""
    if not threading_main():
        yield
        return

    def handler(signum, _frame):
        name = signal.Signals(signum).name
        if STOP.signal is not None:
            raise Interrupted(name)          # asked twice: stop now
        STOP.signal = name

    STOP.signal = None
    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        STOP.signal = None


def stop_requested(report: "Report") -> bool:
    if STOP.signal is not None:
        report.interrupted = STOP.signal
        return True
    return False


def threading_main() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def shielded() -> Iterator[None]:
    """Finishing the outputs: a second Ctrl-C or SIGTERM must not tear them."""
    if not threading_main():
        yield
        return
    old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def recording_end(report: "Report") -> Iterator[None]:
    """Ctrl-C or SIGTERM ends the block quietly, noted in the report; any other error is noted
    and goes on up (the caller's `finally` closes the outputs either way)."""
    try:
        yield
    except KeyboardInterrupt:
        report.interrupted = "SIGINT"
    except Interrupted as e:
        report.interrupted = e.name
    except BaseException as e:
        report.error = f"error: {e}"
        raise


#: a text file naming one input per line (`predict paths.txt`)
