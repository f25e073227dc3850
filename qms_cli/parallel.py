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

_FN: Callable[[Any], Any] | None = None  # what a forked worker inherits


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


def _run(chunk: list) -> list:
    return [_FN(x) for x in chunk]


def map_many(fn: Callable[[Any], Any], items: list) -> list:
    """[fn(x) for x in items], in order, on several processes when worth it. `fn`'s
    results must pickle (plain data, dataclasses, QmsError with a message)."""
    n = workers(len(items))
    if n > 1 and sys.platform.startswith("linux"):
        global _FN
        import multiprocessing

        _FN = fn
        try:
            size = min(CHUNK, -(-len(items) // n))
            chunks = [items[i : i + size] for i in range(0, len(items), size)]
            with multiprocessing.get_context("fork").Pool(n) as pool:
                return [x for part in pool.imap(_run, chunks) for x in part]
        except OSError:  # no processes to be had: this one will do
            pass
        finally:
            _FN = None
    return [fn(x) for x in items]
