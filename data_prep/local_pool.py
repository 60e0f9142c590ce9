"""Ordered maps over fields in local worker processes (the `--workers N` path of prepare).

`data_prep.cluster` is the same for a Dask cluster (`--dask`); both give results in item
order, so the output never depends on how many processes read the fields.

Example:
    >>> list(parallel_map(abs, [-1, -2], workers=2, progress=False, description="demo"))
    [1, 2]
"""

import multiprocessing
import sys
import threading

from tqdm import tqdm

# The pool initializer hands each worker process its task once (source and parameters), so
# that a source can keep what it has read (a stack cut into many tiles) between fields.
_WORKER_TASK = {}


def _init_worker(task):
    _WORKER_TASK["run"] = task


def _run_in_worker(item):
    return _WORKER_TASK["run"](item)


def _pool_context():
    """fork (fast: nothing to re-import) unless threads run here, e.g. when a training
    process with TensorFlow or PyTorch loaded calls prepare: forking those can deadlock."""
    methods = multiprocessing.get_all_start_methods()
    # tqdm's monitor thread only sleeps and wakes bars: it holds nothing a child could need.
    threads = [t for t in threading.enumerate() if t is not threading.main_thread() and t.name != "tqdm_monitor"]
    if "fork" in methods and not threads:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def parallel_map(task, items, workers, progress, description):
    """Ordered map of `task` over `items`, in `workers` processes, with a progress bar."""
    bar = tqdm(total=len(items), desc=description, unit="field", file=sys.stderr,
               disable=None if progress is None else not progress, leave=False)
    try:
        if workers <= 1 or len(items) <= 1:
            for item in items:
                yield task(item)
                bar.update()
            return
        with _pool_context().Pool(min(workers, len(items)), initializer=_init_worker, initargs=(task,)) as pool:
            # chunksize 1 keeps neighbouring tiles of a stack on few workers' caches and
            # the memory held by finished-but-unwritten results small.
            for result in pool.imap(_run_in_worker, items, chunksize=1):
                yield result
                bar.update()
    finally:
        bar.close()
