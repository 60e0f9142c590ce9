"""`FieldCache`: decoded fields of whole shards kept in memory, up to a byte budget.

Decoding is most of what a training crop costs: a 520 x 696 BBBC039 field takes about
3.5 ms to decode (TIFF raw + PNG label), cropping and augmenting a 256 x 256 crop of it
about 1.5 ms. A stream reads its shards again on every pass, so keeping the decoded fields
turns every pass after the first into crops and augmentation only.

What a crop sees does not change: the cache returns the very arrays the decoder gave, in
the order the tar holds them, so a stream with a cache yields the same batches, bit for
bit, as one without. Only shards read to their end without a warning are kept, so a shard
with a bad sample is read (and reported) again on every pass, as without a cache.

Why no eviction: a training stream reads its shards in a new random order on every pass,
which is close to a cyclic scan. Least-recently-used eviction misses every time on a cyclic
scan larger than the cache; keeping the first shards that fit and never evicting gives a
hit rate of about budget / data size instead, and never spends time on decoding fields
that it throws away again.

Example:
    >>> cache = FieldCache(max_bytes=256 * 2**20)
    >>> keeper = cache.keeper("train-000000.tar")
    >>> keeper.add({"key": "a", "raw": np.zeros((4, 4, 1), np.uint16)})
    >>> keeper.store()
    >>> [field["key"] for field in cache.get("train-000000.tar")]
    ['a']
"""

import numpy as np


def field_nbytes(field):
    """Bytes of the arrays in one decoded field (the metadata is small and not counted)."""
    return sum(value.nbytes for value in field.values() if isinstance(value, np.ndarray))


class FieldCache:
    """Decoded fields per shard URL, holding at most `max_bytes` of arrays.

    Args:
        max_bytes: budget of this cache, in bytes; 0 keeps nothing.

    Cached arrays are made read-only: a consumer that wrote into one would change what
    later passes see, so such a write fails loudly instead.
    """

    def __init__(self, max_bytes):
        if max_bytes < 0:
            raise ValueError(f"the field cache budget must be >= 0 bytes; got {max_bytes}")
        self.max_bytes = int(max_bytes)
        self.nbytes = 0
        self._shards = {}

    def __len__(self):
        """Number of shards held."""
        return len(self._shards)

    def get(self, url):
        """The decoded fields of shard `url` in tar order, or None when it is not held."""
        return self._shards.get(url)

    def keeper(self, url):
        """A `ShardKeeper` that collects the fields of `url` while the shard is read, or None
        when nothing more fits (no shard is read twice into the cache)."""
        if url in self._shards or self.nbytes >= self.max_bytes:
            return None
        return ShardKeeper(self, url)

    def _store(self, url, fields, size):
        if url not in self._shards and self.nbytes + size <= self.max_bytes:
            self._shards[url] = tuple(fields)
            self.nbytes += size


class ShardKeeper:
    """Collects one shard's fields as they are decoded; `store` hands them to the cache.

    It stops collecting (and frees what it holds) as soon as the shard is larger than what
    is left of the budget, so reading a large shard never holds more than the budget.
    """

    def __init__(self, cache, url):
        self.cache = cache
        self.url = url
        self.fields = []
        self.size = 0

    def add(self, field):
        if self.fields is None:
            return
        self.size += field_nbytes(field)
        if self.cache.nbytes + self.size > self.cache.max_bytes:
            self.fields = None  # does not fit: give back what was collected
            return
        for value in field.values():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
        self.fields.append(field)

    def store(self):
        """Keep the collected fields; call it only after the shard was read to its end."""
        if self.fields is not None:
            self.cache._store(self.url, self.fields, self.size)
        self.fields = None
