"""Reading many records on several processes.

Parsing YAML is most of the cost of validate, lists and reports on a large store, and it
is the same work for every file. `map_many` runs a function over many items on forked
worker processes (which inherit the loaded configuration, so they start at once) when
there are enough items to pay for them, and in this process otherwise. Fork is used only
on Linux; elsewhere, and when processes cannot be had, everything runs here.
`QMS_JOBS=N` sets the number of processes (`QMS_JOBS=1`: none)."""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

PARALLEL_FROM = 1000  # items before more processes pay for themselves
CHUNK = 250

_FN: Callable[[Any], Any] | None = None  # what a forked worker inherits: the function
_ITEMS: list = []  # and the items, so that only their places go through the pipe


def workers(items: int) -> int:
    raw = os.environ.get("QMS_JOBS", "")
    if raw.isdigit() and int(raw) >= 1:
        return max(1, min(int(raw), 8, items))
    if items < PARALLEL_FROM:
        return 1
    else:
        try:
            wanted = len(os.sched_getaffinity(0))
        except AttributeError:
            wanted = os.cpu_count() or 1
    return max(1, min(wanted, 8, (items + CHUNK - 1) // CHUNK))


def _run(span: tuple[int, int]) -> list:
    return [_FN(x) for x in _ITEMS[span[0]:span[1]]]


def map_many(fn: Callable[[Any], Any], items: list) -> list:
    """[fn(x) for x in items], in order, on several processes when worth it. `fn`'s
    results must pickle (plain data, dataclasses, QmsError with a message)."""
    n = workers(len(items))
    if n > 1 and sys.platform.startswith("linux"):
        global _FN, _ITEMS
        import gc
        import multiprocessing

        _FN, _ITEMS = fn, items
        # what this process holds is frozen before the fork: the workers' collections
        # never walk it (nor copy its pages by touching them); the workers collect as usual
        # even where this process has stopped collecting for a while
        gc.freeze()
        try:
            size = min(CHUNK, -(-len(items) // n))
            spans = [(i, min(i + size, len(items))) for i in range(0, len(items), size)]
            with multiprocessing.get_context("fork").Pool(n, initializer=gc.enable) as pool:
                return [x for part in pool.imap(_run, spans) for x in part]
        except OSError:  # no processes to be had: this one will do
            pass
        finally:
            _FN, _ITEMS = None, []
            gc.unfreeze()
    return [fn(x) for x in items]


def background(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """fn(*args) started now on a thread; the function returned waits for it and gives its
    result (or raises its error). For work that mostly waits on another program (a git
    log), done while this process goes on with its own."""
    import threading

    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as e:  # given to the caller, where it waits
            box["error"] = e

    thread = threading.Thread(target=work, daemon=True)
    thread.start()

    def result() -> Any:
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["value"]

    return result


def forked(fn: Callable[[], bytes]) -> Callable[[], bytes | None] | None:
    """fn() run now on a forked child process while this one goes on (Linux); the function
    returned waits for it and gives the bytes fn returned, None if the child failed. None
    where no child can be had. Call it before any thread is started: the child runs fn
    and ends, without exit handlers, flushing nothing of this process's."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        read, write = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        return None
    if pid == 0:  # the child
        code = 1
        try:
            os.close(read)
            view = memoryview(fn())
            while view:
                view = view[os.write(write, view):]
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    done: list[bytes | None] = []

    def result() -> bytes | None:
        if not done:
            done.append(None)  # asked once: the pipe is closed and the child waited for once, even if interrupted
            chunks: list[bytes] | None = []
            try:
                while chunk := os.read(read, 1 << 20):
                    chunks.append(chunk)
            except OSError:
                chunks = None
            finally:
                os.close(read)
                status = os.waitpid(pid, 0)[1]
            if chunks is not None and os.waitstatus_to_exitcode(status) == 0:
                done[0] = b"".join(chunks)
        return done[0]

    return result
