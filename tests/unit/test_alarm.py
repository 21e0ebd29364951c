"""A call cut off at a deadline in the calling thread (``sagedrop.alarm``): SIGALRM through an interval timer,
only in the main thread and only when nothing else uses SIGALRM (https://docs.python.org/3/library/signal.html:
"Python signal handlers are always executed in the main Python thread of the main interpreter")."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from sagedrop import alarm


def _clean() -> bool:
    return signal.getsignal(signal.SIGALRM) == signal.SIG_DFL and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_call_that_ends_in_time_gives_its_answer_and_leaves_nothing_behind() -> None:
    assert alarm.usable()
    assert alarm.call_within(5.0, divmod, 7, 2) == (3, 1)
    assert _clean()


def test_a_failing_call_raises_its_own_error_and_leaves_nothing_behind() -> None:
    with pytest.raises(ZeroDivisionError):
        alarm.call_within(5.0, divmod, 1, 0)
    assert _clean()


@pytest.mark.parametrize("blocking", [time.sleep, threading.Event().wait])
def test_a_call_past_its_deadline_is_interrupted(blocking) -> None:
    """A sleep and a wait on a lock (what a held socket read or a stuck pool looks like) both end at the alarm."""
    started = time.monotonic()
    with pytest.raises(alarm.DeadlinePassed):
        alarm.call_within(0.2, blocking, 5)
    assert 0.15 < time.monotonic() - started < 2
    assert _clean()


def test_no_time_left_is_at_once_past_the_deadline() -> None:
    with pytest.raises(alarm.DeadlinePassed):
        alarm.call_within(0, time.sleep, 5)
    assert _clean()


def test_the_deadline_is_no_exception_of_the_call() -> None:
    """``except Exception`` on the way (botocore, urllib3, sagedrop's error mapping) lets it through."""

    def swallows() -> str:
        try:
            time.sleep(5)
        except Exception:
            return "swallowed"
        return "slept"

    with pytest.raises(alarm.DeadlinePassed):
        alarm.call_within(0.1, swallows)


def test_not_usable_off_the_main_thread() -> None:
    seen: list[bool] = []
    thread = threading.Thread(target=lambda: seen.append(alarm.usable()))
    thread.start()
    thread.join()
    assert seen == [False]


def test_not_usable_when_something_else_uses_sigalrm() -> None:
    previous = signal.signal(signal.SIGALRM, lambda *_: None)
    try:
        assert not alarm.usable()
    finally:
        signal.signal(signal.SIGALRM, previous)
    signal.setitimer(signal.ITIMER_REAL, 30)
    try:
        assert not alarm.usable()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    assert alarm.usable()
