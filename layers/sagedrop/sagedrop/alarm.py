"""One blocking call cut off at a deadline in the calling thread, without a thread of its own.

The prediction API answers 504 when the endpoint has not answered by the request's deadline
(``sagedrop.predict``). A request that fits in one InvokeEndpoint call makes that call here, in the
handler's thread, with an interval timer: ``signal.setitimer(ITIMER_REAL, seconds)`` sends SIGALRM when
the time is up, and the handler installed for the call raises :class:`DeadlinePassed` in the interrupted
code (https://docs.python.org/3/library/signal.html: handlers run in the main thread, between bytecodes;
a blocking system call interrupted by a signal whose handler raises fails with that exception, PEP 475).
Starting a thread per request for the same deadline cost about 0.5 ms of CPU per request (issue 16,
``benchmarks/predict_request_bench.py``).

Why not botocore's own timeouts: ``connect_timeout`` and ``read_timeout`` bound one attempt (one
connection, one read from the socket), and the retry configuration multiplies them by the attempts
(https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html, ``connect_timeout``,
``read_timeout``, ``retries``). The predict client's (2 s, 24 s, 3 attempts: ``sagedrop.predict_clients``)
can take over a minute, and a Config belongs to a client, not to a request, so it cannot end a call at a
request's deadline. The timeouts stay as they are; the alarm ends the call when the deadline comes first.

Only where it is safe: in the main thread (the only one signal handlers run in) and when nothing else uses
SIGALRM (no handler installed, no timer armed). The Lambda Python runtime calls the handler in its main
thread (aws/aws-lambda-python-runtime-interface-client, commit 46e4c6a11064b8adc8e0dce34a647a04e37ae79c,
awslambdaric/bootstrap.py ``run``: the ``while True`` loop over ``wait_next_invocation`` and
``handle_event_request``; lambda_runtime_client.py ``wait_next_invocation`` even polls from another
thread so that "the main thread ... can process signals"; multi-concurrent mode runs one process per
request slot). Elsewhere (a thread of the local stack's server, a test runner's own alarm) :func:`usable`
is False and the caller keeps its thread pool.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class DeadlinePassed(BaseException):
    """The deadline passed during the call. A ``BaseException`` so that no ``except Exception`` on the way
    (botocore, urllib3, sagedrop's own error mapping) takes it for the call's own failure."""


def usable() -> bool:
    """True when :func:`call_within` can interrupt a call here (see the module docstring)."""
    return (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGALRM) == signal.SIG_DFL
        and signal.getitimer(signal.ITIMER_REAL)[0] == 0
    )


def _expire(signum: int, frame: Any) -> None:
    raise DeadlinePassed


def call_within(seconds: float, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, or :class:`DeadlinePassed` once ``seconds`` have passed. Only when :func:`usable`.

    The timer is disarmed and the previous SIGALRM handler restored however the call ends. A signal that
    arrives as the call returns may still raise :class:`DeadlinePassed` (the deadline did pass); none can
    arrive after this returns: the timer is off before the default handler is back."""
    if seconds <= 0:
        raise DeadlinePassed
    previous = signal.signal(signal.SIGALRM, _expire)
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return fn(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.signal(signal.SIGALRM, previous)
