"""Data preparation on a Dask cluster: one task per output shard, the same bytes as locally.

`prepare(..., dask="local:4")` or `cig prepare ... --dask tcp://scheduler:8786` hands the two
passes of `data_prep.pipeline` to Dask's `distributed` scheduler instead of a local process
pool:
1. check: one task per `shard_size` fields, results taken in key order, so that the first
   problem stops the job exactly as it does locally;
2. write: one task per output shard. The task reads and encodes its fields, writes the tar
   itself (`sharding.write_shard`: `.NAME.partial`, fsync, rename) and returns the fields'
   statistics summaries, which the client merges in (split, key) order. The manifest is
   written by the client, last, as locally.

The tars and the manifest are therefore byte-identical to the local path's. When a worker
dies, the scheduler gives its unfinished tasks to another worker (`distributed`'s
`allowed-failures`, 3 by default); the task rewrites its shard from the start, and the
rename means no partial tar ever carries a final name. Workers must see the source and the
output folder at the same paths (a shared file system on a cluster).

Example:
    >>> with dask_client("local:2") as client:  # a LocalCluster of 2 worker processes
    ...     client.run(lambda: 1)

Reference: Dask distributed documentation, "Managing computation" and "Resilience"
(https://distributed.dask.org).
"""

import contextlib
import logging
import uuid

from data_prep import sharding

log = logging.getLogger(__name__)

LOCAL = "local"


def parse_address(text):
    """`local`, `local:N` or a scheduler address -> ("local", N or None) or ("remote", address).

    Example:
        >>> parse_address("local:4"), parse_address("tcp://10.0.0.1:8786")
        (('local', 4), ('remote', 'tcp://10.0.0.1:8786'))
    """
    text = str(text).strip()
    if text == LOCAL:
        return LOCAL, None
    if text.startswith(LOCAL + ":"):
        count = text[len(LOCAL) + 1:]
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"--dask {text!r}: write local:N with N a whole number of workers of at least 1")
        return LOCAL, int(count)
    if not text:
        raise ValueError("--dask needs an address: local, local:N or a scheduler such as tcp://host:8786")
    return "remote", text


def _distributed():
    try:
        import distributed
    except ImportError:
        raise ValueError("--dask needs the dask extra: pip install 'cig[dask]' "
                         "(dask and distributed)") from None
    return distributed


@contextlib.contextmanager
def dask_client(address):
    """A `distributed.Client` for `address` (see `parse_address`), closed after the block.

    `local[:N]` starts a LocalCluster of N single-threaded worker processes (default: one per
    CPU) on 127.0.0.1, without a dashboard; any other address joins a running scheduler
    (started by `dask scheduler`, dask_jobqueue.SLURMCluster, dask-kubernetes, ...).
    """
    distributed = _distributed()
    kind, value = parse_address(address)
    if kind == LOCAL:
        cluster = distributed.LocalCluster(n_workers=value, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None,
                                           silence_logs=logging.WARNING)
        client = distributed.Client(cluster)
    else:
        cluster = None
        try:
            client = distributed.Client(value, timeout="30s")
        except OSError as error:
            raise ValueError(f"--dask {value}: cannot reach the Dask scheduler ({error})") from None
    try:
        log.info("Dask: %d worker(s) at %s", len(client.scheduler_info().get("workers", {})), client.scheduler.address)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def map_in_order(client, function, items, *arguments):
    """`function(*arguments, item)` for each item as Dask tasks; results yielded in item order.

    The arguments (a source, its parameters) travel with every task rather than being
    scattered once: scattered data dies with its worker, and a task that outlives a killed
    worker must still find them. Each worker keeps the first copy it unpickles (`_kept`),
    so a source keeps what it caches (a stack cut into tiles) between that worker's tasks.
    Unfinished tasks are cancelled when the caller stops early (a first error).
    """
    token = uuid.uuid4().hex
    futures = [client.submit(_call, token, function, arguments, item, pure=False) for item in items]
    try:
        for index, future in enumerate(futures):
            yield future.result()
            futures[index] = None  # the result is with the caller: let the scheduler forget it
    finally:
        client.cancel([future for future in futures if future is not None])


# Per worker process: the arguments of the running job, by job token (one job at a time).
_KEPT = {}


def _call(token, function, arguments, item):
    if token not in _KEPT:
        _KEPT.clear()
        _KEPT[token] = arguments
    return function(*_KEPT[token], item)


def check_chunk(check, fields):
    """A Dask task: the pipeline's `check` of each field of a chunk, in order."""
    return [check(field) for field in fields]


def write_one_shard(encode, out_dir, job):
    """A Dask task: encode the fields of one shard, write it atomically, return the summaries.

    Args:
        encode: `functools.partial(pipeline.encode_field, source, params)`.
        out_dir: the output folder (the same path on every worker).
        job: (shard file name, [Field]).

    Returns:
        [{kind: stats summary}] per field, in the shard's order.
    """
    name, fields = job
    batch, summaries = [], []
    for field in fields:
        key, members, summary = encode(field)
        batch.append((key, members))
        summaries.append(summary)
    sharding.write_shard(out_dir / name, batch)
    return summaries


def check_fields(client, check, fields, chunk):
    """The results of `check` for every field, in order, `chunk` fields per task."""
    chunks = [fields[start:start + chunk] for start in range(0, len(fields), chunk)]
    for results in map_in_order(client, check_chunk, chunks, check):
        yield from results


def write_shards(client, encode, out_dir, jobs):
    """Write every (name, fields) job as one task; yields each shard's summaries in job order."""
    yield from map_in_order(client, write_one_shard, jobs, encode, out_dir)
