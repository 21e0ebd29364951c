"""CSV blocks parsed and finished in forked worker processes, passed through shared memory.

``csvblocks.CsvReader.mapped(finish, processes=True)`` with 2+ workers runs each block's parse and
``finish`` (the train function's RecordIO encoding) here instead of in threads. Threads give
numpy's loops to both CPUs, but every numpy call on more than a few hundred values releases and
takes back the GIL, and a parse makes about a hundred such calls per block: measured on this
project's 2-core machine (benchmarks/csv_bench.py), two threads converted 176-220 MB/s of CSV
while two independent processes reached 284 MB/s together. Processes have a GIL each.

The bytes never go through a pipe: the parent copies each block it reads, once, straight into a
slot of an anonymous shared mapping (``mmap(-1, n)``: ``MAP_SHARED | MAP_ANONYMOUS`` on Unix,
https://docs.python.org/3/library/mmap.html; the mapping is inherited across ``fork``, man
mmap(2)), a worker parses it there and writes ``finish``'s bytes into the slot's result area,
and only a few numbers travel over a ``multiprocessing.Pipe``. AWS Lambda has no ``/dev/shm``,
so ``multiprocessing.Queue``/``Pool`` fail there while ``Process`` and ``Pipe`` work
(https://aws.amazon.com/blogs/compute/parallel-processing-in-python-with-aws-lambda/); an
anonymous mapping needs no ``/dev/shm`` (to verify on a real account: docs/operations.md).
When a mapping or a fork cannot be made, the caller parses in threads instead.

Blocks are handed to workers in turn and collected in the same order, so results come back in
file order. A block too large for its slot (a line longer than the block size) is parsed in
the parent when its turn comes. A result too large for its area comes back through the pipe.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sagedrop.csvblocks import Block, CsvFormatError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import mmap
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

    import numpy as np

Work = Callable[["np.ndarray"], tuple[Block, Any]]

SLOTS_PER_WORKER = 2
"""Blocks in flight per worker: one parsed while the parent fills (and later empties) the other."""

_STOP = None
_JOIN_SECONDS = 10.0


def fork_is_safe() -> bool:
    """Whether this process can fork workers now: ``os.fork`` exists and no other Python thread
    runs (a lock another thread holds at the fork stays held forever in the child:
    https://docs.python.org/3/library/os.html#os.fork)."""
    return hasattr(os, "fork") and threading.active_count() == 1


class WorkerError(RuntimeError):
    """A worker process failed in a way that is not the data's fault (it died, or raised an
    exception that could not be sent back)."""


class BlockProcesses:
    """``workers`` forked processes running ``work`` on blocks placed in shared memory.

    ``submit(buf)`` places one block (``csvblocks._buffer``'s array) and returns a handle whose
    ``result()`` gives ``work``'s ``(Block, result)`` or raises its exception. Handles must be
    collected in submission order, at most ``depth`` outstanding. The ``Block`` comes back
    without its table (its ``shape`` is kept); a result that is a 1-D uint8 array comes back
    through shared memory and is copied out (about 20 us for a block's 400 KB, against the
    milliseconds of its parse), so it stays valid however long the caller keeps it.
    """

    def __init__(self, workers: int, work: Work, block_bytes: int) -> None:
        import mmap
        import multiprocessing

        self.workers = workers
        self.depth = SLOTS_PER_WORKER * workers
        self._work = work
        # a block is at most one read plus the line it continues, with separators around it
        self._slot_bytes = _round_up(2 * block_bytes + 4096)
        self._result_bytes = _round_up(4 * block_bytes)
        self._inbox = mmap.mmap(-1, self.depth * self._slot_bytes)
        self._outbox = mmap.mmap(-1, self.depth * self._result_bytes)
        self._seq = 0
        self._conns: list[Connection] = []
        self._procs: list[BaseProcess] = []
        context = multiprocessing.get_context("fork")
        layout = (self._slot_bytes, self._result_bytes)
        try:
            for _ in range(workers):
                here, there = context.Pipe()
                proc = context.Process(
                    target=_serve,
                    args=(there, [*self._conns, here], self._inbox, self._outbox, layout, work),
                    name="csvblocks",
                    daemon=True,
                )
                _start(proc)
                there.close()
                self._conns.append(here)
                self._procs.append(proc)
        except BaseException:
            self.close()
            raise

    def room(self, size: int) -> np.ndarray | None:
        """The next block's slot, to read the block straight into (None when it is too small)."""
        import numpy as np

        if size > self._slot_bytes:
            return None
        offset = (self._seq % self.depth) * self._slot_bytes
        return np.frombuffer(self._inbox, np.uint8, count=size, offset=offset)

    def submit(self, buf: np.ndarray) -> _Remote | _Inline:
        """Hand the next block to its worker (or, when it does not fit a slot, to the parent)."""
        import numpy as np

        seq, self._seq = self._seq, self._seq + 1
        whole = buf.base if isinstance(buf.base, np.ndarray) else buf
        if whole.size > self._slot_bytes:
            return _Inline(self._work, buf)
        slot = seq % self.depth
        offset = slot * self._slot_bytes
        if not _is_at(whole, self._inbox, offset):  # not read into its slot (``room``): copy it there
            np.frombuffer(self._inbox, np.uint8, count=whole.size, offset=offset)[:] = whole
        conn = self._conns[seq % self.workers]
        with contextlib.suppress(OSError):  # a worker that died: its handle reports it, in turn
            conn.send((slot, whole.size, buf.size))
        return _Remote(self, conn, self._procs[seq % self.workers], slot)

    def result_copy(self, slot: int, size: int) -> np.ndarray:
        import numpy as np

        return np.frombuffer(self._outbox, np.uint8, count=size, offset=slot * self._result_bytes).copy()

    def close(self) -> None:
        """Stop the workers: each ends after the blocks already sent to it (replies nobody reads any
        more fail to send, which ends it too); one still running after a while is terminated."""
        for conn in self._conns:
            with contextlib.suppress(OSError):  # a worker that already ended closed its end
                conn.send(_STOP)
            conn.close()
        for proc in self._procs:
            proc.join(_JOIN_SECONDS)
            if proc.is_alive():  # pragma: no cover - only a hung worker
                proc.terminate()
                proc.join()
        self._conns, self._procs = [], []

    def __enter__(self) -> BlockProcesses:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Inline:
    """A block parsed by the parent when its turn comes (too large for a slot)."""

    def __init__(self, work: Work, buf: np.ndarray) -> None:
        self._work, self._buf = work, buf

    def result(self) -> tuple[Block, Any]:
        return self._work(self._buf)


class _Remote:
    """A block handed to a worker; ``result()`` reads that worker's next reply."""

    def __init__(self, pool: BlockProcesses, conn: Connection, proc: BaseProcess, slot: int) -> None:
        self._pool, self._conn, self._proc, self._slot = pool, conn, proc, slot

    def result(self) -> tuple[Block, Any]:
        try:
            reply = self._conn.recv()
        except (EOFError, OSError):
            self._proc.join(_JOIN_SECONDS)
            raise WorkerError(f"a CSV parsing process ended unexpectedly (exit code {self._proc.exitcode})") from None
        kind = reply[0]
        if kind == "csv":
            raise _csv_error(reply[1])
        if kind == "error":
            raise _exception(reply[1], reply[2])
        _, (lines, blank, rows, columns), size, payload = reply
        block = Block(table=None, labels64=None, lines=lines, blank=blank, shape=(rows, columns))
        if size is not None:
            return block, self._pool.result_copy(self._slot, size)
        return block, payload


def _serve(
    conn: Connection,
    parents: list[Connection],
    inbox: mmap.mmap,
    outbox: mmap.mmap,
    layout: tuple[int, int],
    work: Work,
) -> None:
    """A worker's loop: parse and finish each block placed in its slot until told to stop."""
    import numpy as np

    for other in parents:  # the parent's ends: without them a dead parent reads as end of file here
        other.close()
    slot_bytes, result_bytes = layout
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is _STOP:
            return
        slot, size, used = message
        buf = np.frombuffer(inbox, np.uint8, count=size, offset=slot * slot_bytes)[:used]
        reply = _reply(work, buf, np.frombuffer(outbox, np.uint8, count=result_bytes, offset=slot * result_bytes))
        try:
            conn.send(reply)
        except OSError:  # the parent stopped reading (it closed the pool early)
            return


def _reply(work: Work, buf: np.ndarray, area: np.ndarray) -> tuple[Any, ...]:
    """What a worker sends back for one block: its shape and numbers, and where the result is."""
    import numpy as np

    try:
        block, result = work(buf)
    except CsvFormatError as exc:
        return ("csv", (str(exc), exc.line, exc.column, exc.token, exc.columns, exc.expected))
    except Exception as exc:
        return ("error", _portable(exc), _traceback(exc))
    numbers = (block.lines, block.blank, *block.shape)
    if isinstance(result, np.ndarray) and result.dtype == np.uint8 and result.ndim == 1 and result.size <= area.size:
        area[: result.size] = result
        return ("ok", numbers, result.size, None)
    return ("ok", numbers, None, result)


def _csv_error(fields: tuple[Any, ...]) -> CsvFormatError:
    message, line, column, token, columns, expected = fields
    return CsvFormatError(message, line=line, column=column, token=token, columns=columns, expected=expected)


def _portable(exc: BaseException) -> bytes | None:
    """The exception pickled, when it survives the round trip (else only its text goes back)."""
    try:
        blob = pickle.dumps(exc)
        pickle.loads(blob)  # noqa: S301 - our own bytes, checked before they are sent
    except Exception:
        return None
    return blob


def _traceback(exc: BaseException) -> str:
    import traceback

    return "".join(traceback.format_exception(exc))


def _exception(blob: bytes | None, text: str) -> BaseException:
    """The worker's exception, with the worker's traceback as a note."""
    if blob is None:
        return WorkerError(f"a CSV parsing process failed:\n{text}")
    exc: BaseException = pickle.loads(blob)  # noqa: S301 - from our own forked worker, over its private pipe
    exc.add_note(f"raised in a CSV parsing process:\n{text}")
    return exc


def _start(proc: BaseProcess) -> None:
    """Start a forked worker. Since Python 3.12 ``os.fork`` warns when it detects several threads
    (https://docs.python.org/3/library/os.html#os.fork) and counts native ones too; the Python
    threads, whose locks the child could inherit held, are ruled out by ``fork_is_safe``."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        proc.start()


def _is_at(array: np.ndarray, mapping: mmap.mmap, offset: int) -> bool:
    """Whether ``array``'s memory starts ``offset`` bytes into ``mapping``."""
    import numpy as np

    start = np.frombuffer(mapping, np.uint8, count=1, offset=offset)
    return bool(array.__array_interface__["data"][0] == start.__array_interface__["data"][0])


def _round_up(size: int) -> int:
    import mmap

    return -(-size // mmap.PAGESIZE) * mmap.PAGESIZE
