"""Reading, converting and writing at once: the containers' bounded pipeline.

A container's work is a sequence of items (a tensor, a piece of a tensor, a
file to open or to close), each taken through three steps: ``load`` reads
what it needs from the input, ``work`` converts it, ``store`` writes the
result.  `run` gives each step its own thread: a reader thread loads ahead,
the calling thread works, a writer thread stores behind.  The three overlap
because each spends its time where Python lets go of the GIL: in read and
write system calls, and in int8q's kernels (which run without the GIL).

Order.  Each step runs in one thread and sees the items in their order, so
the bytes written are exactly those of doing load, work and store one item
after the other (which is what `run` does when THREADED is False, and for
a single item).

Memory.  An item is charged ``cost(item)`` bytes (its input and its
output) from the start of its load until its store returns; the reader
waits while the items in flight hold more than BUDGET bytes, but always
admits an item when none is in flight.  Memory then holds at most BUDGET
plus the largest item, whatever the size of the checkpoint.  Arrays that
`load` and `work` make with `empty` (as _reading.read_array does) live in
buffers that are reused once their item is stored, so that the kernel does
not zero new memory for every piece (which costs about as much as reading
it); nothing of them may be kept past the item's `store`.

Errors.  An exception in any step is raised by `run`, in the calling
thread, as the same object: the same type and message as when the steps
run one after the other.  Errors come out in item order: when an item's
load or work fails, the items before it are still stored (and an error in
storing them wins); after an error nothing more is read, worked or stored.
A KeyboardInterrupt (or another BaseException) in the calling thread stops
both threads at their next item, without storing more, and is raised once
they have stopped.  In every case `run` returns or raises only after both
threads have ended, so the caller's clean-up (removing a partial output)
never races a write.

`Writeback` starts the disk writes of an output file while it is being
written, so that the fsync that makes it durable (see _atomic) finds
little left to do.
"""

import ctypes
import math
import queue
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

# Bytes the items in flight may hold (inputs read ahead, outputs not yet
# written): a few slabs of a tensor, and no more, so that each is still in
# the processor's cache (a few tens of MiB) when it is converted and written.
BUDGET = 32 << 20
# False: load, work and store each item in turn in the calling thread (the
# tests compare both ways).
THREADED = True
# A file being written gets its disk writes started every this many bytes.
WRITEBACK_BYTES = 64 << 20

Item = TypeVar("Item")
Loaded = TypeVar("Loaded")
Worked = TypeVar("Worked")

_STOP = object()  # end of a queue
# In the reader thread and the calling thread while `run` runs: `take`, the
# buffers' allocator, and `taken`, what the current item took.
_memory = threading.local()


def empty(shape: tuple[int, ...], dtype: npt.DTypeLike) -> npt.NDArray[Any]:
    """np.empty(shape, dtype), in a reused buffer inside a pipeline's threads
    (valid until the item is stored: see the module doc)."""
    dtype = np.dtype(dtype)
    take = getattr(_memory, "take", None)
    if take is None:
        return np.empty(shape, dtype)
    buffer: npt.NDArray[Any] = take(math.prod(shape) * dtype.itemsize)
    return buffer.view(dtype).reshape(shape)


class _Failed(NamedTuple):
    error: BaseException


def run(
    items: Sequence[Item],
    load: Callable[[Item], Loaded],
    work: Callable[[Item, Loaded], Worked],
    store: Callable[[Item, Worked], None],
    cost: Callable[[Item], int],
) -> None:
    """Load, work and store every item, in order (see the module doc)."""
    if not THREADED or len(items) < 2:
        for item in items:
            store(item, work(item, load(item)))
        return
    _Run(items, load, work, store, cost, BUDGET).run()


class _Run(Generic[Item, Loaded, Worked]):
    def __init__(
        self,
        items: Sequence[Item],
        load: Callable[[Item], Loaded],
        work: Callable[[Item, Loaded], Worked],
        store: Callable[[Item, Worked], None],
        cost: Callable[[Item], int],
        budget: int,
    ) -> None:
        self.items, self.load, self.work, self.store, self.cost = items, load, work, store, cost
        self.budget = budget
        self.in_flight = 0  # bytes charged to items loaded and not yet stored
        self.changed = threading.Condition()
        self.stop_reading = False
        self.stop_writing = False
        self.write_error: BaseException | None = None
        # Both unbounded: the budget bounds what they hold.
        self.loaded: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.worked: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.buffers = _Buffers(budget // 2)

    def run(self) -> None:
        threads = [
            threading.Thread(target=self._read, name="int8q-reader", daemon=True),
            threading.Thread(target=self._write, name="int8q-writer", daemon=True),
        ]
        for thread in threads:
            thread.start()
        failed: Exception | None = None
        try:
            try:
                self._work()
            except Exception as exc:
                # The items worked before this one are still stored: an
                # error in storing them came first, and wins.
                failed = exc
                self._halt(writing=False)
            self.worked.put(_STOP)
            for thread in threads:
                thread.join()
        except BaseException:  # KeyboardInterrupt, SystemExit, a signal's exception
            self._halt(writing=True)
            self.worked.put(_STOP)
            for thread in threads:
                thread.join()
            raise
        if self.write_error is not None:
            raise self.write_error
        if failed is not None:
            raise failed

    def _halt(self, writing: bool) -> None:
        with self.changed:
            self.stop_reading = True
            self.stop_writing = self.stop_writing or writing
            self.changed.notify_all()

    def _work(self) -> None:
        _memory.take = self.buffers.take
        try:
            self._work_items()
        finally:
            vars(_memory).clear()

    def _work_items(self) -> None:
        while True:
            got = self.loaded.get()
            if got is _STOP:
                break
            if isinstance(got, _Failed):
                raise got.error
            if self.write_error is not None:
                raise self.write_error
            item, data, charged, buffers = got
            del got
            _memory.taken = buffers
            worked = self.work(item, data)
            del data  # the input is freed as soon as its result exists
            self.worked.put((item, worked, charged, buffers))
            del worked

    def _read(self) -> None:
        _memory.take = self.buffers.take
        try:
            for item in self.items:
                charge = self.cost(item)
                with self.changed:
                    while (
                        not self.stop_reading
                        and self.in_flight
                        and self.in_flight + charge > self.budget
                    ):
                        self.changed.wait()
                    if self.stop_reading:
                        break
                    self.in_flight += charge
                _memory.taken = []
                self.loaded.put((item, self.load(item), charge, _memory.taken))
        except BaseException as exc:
            self.loaded.put(_Failed(exc))
            return
        self.loaded.put(_STOP)

    def _write(self) -> None:
        while True:
            got = self.worked.get()
            if got is _STOP or self.stop_writing:
                return
            item, worked, charged, buffers = got
            del got
            try:
                self.store(item, worked)
            except BaseException as exc:
                self.write_error = exc
                self._halt(writing=True)
                return
            del worked
            self.buffers.give(buffers)
            with self.changed:
                self.in_flight -= charged
                self.changed.notify_all()


class _Buffers:
    """Byte buffers for `empty`, reused once their item is stored.

    `take` hands out the smallest free buffer that holds the bytes asked for
    without wasting more than half of it, else new memory; `give` takes
    them back, keeping at most `keep` bytes of free buffers (the oldest
    beyond that are freed).
    """

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._free: list[npt.NDArray[np.uint8]] = []
        self._lock = threading.Lock()

    def take(self, nbytes: int) -> npt.NDArray[np.uint8]:
        with self._lock:
            fits = [i for i, b in enumerate(self._free) if nbytes <= b.size <= 2 * nbytes]
            best = min(fits, key=lambda i: self._free[i].size, default=None)
            buffer = np.empty(nbytes, np.uint8) if best is None else self._free.pop(best)
        _memory.taken.append(buffer)
        return buffer[:nbytes]

    def give(self, buffers: list[npt.NDArray[np.uint8]]) -> None:
        with self._lock:
            self._free += buffers
            while sum(b.size for b in self._free) > self._keep:
                del self._free[0]


def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """Linux's sync_file_range(2), or None (other systems, no such symbol)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_SYNC_FILE_RANGE_WRITE = 2  # linux/fs.h: start writing dirty pages, do not wait
_start_writes = _sync_file_range()


class Writeback:
    """Starts the disk writes of the file `fd` as data is written to it.

    Call `wrote` with the bytes written; every WRITEBACK_BYTES it asks the
    kernel to start writing the file's dirty pages out (Linux
    sync_file_range with SYNC_FILE_RANGE_WRITE: it does not wait, reports
    no error, and leaves error reporting to the fsync that follows).  The
    disk then works while the data is produced, and the fsync at the end
    finds only the last pieces to write.  Elsewhere it does nothing.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pending = 0

    def wrote(self, nbytes: int) -> None:
        self._pending += nbytes
        if self._pending >= WRITEBACK_BYTES and _start_writes is not None:
            self._pending = 0
            # Its result is ignored: it only hurries what fsync does anyway.
            _start_writes(self._fd, 0, 0, _SYNC_FILE_RANGE_WRITE)
