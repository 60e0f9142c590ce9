"""Unpaired batches for translation between two domains (CycleGAN): two BatchStreams zipped."""

from cig_k3.data.pipeline import BatchStream


class UnpairedStream:
    """Batches of (image of domain A, image of domain B), drawn independently.

    Domain images are the streams' targets (raw images in [-1, 1]); their labels are
    dropped. The two streams shuffle with different seeds, so no pairing survives. The
    interface is the part of `BatchStream` that `cig_k3.training.train` uses.

    Args:
        stream_a: a BatchStream over domain A (e.g. synthetic shards).
        stream_b: a BatchStream over domain B (e.g. BBBC039 shards).

    Example:
        >>> stream = UnpairedStream.beside(BatchStream("synthetic", crop=64, steps_per_epoch=100), "bbbc039")
        >>> model.fit(stream.forever(), steps_per_epoch=100)
    """

    task = "unpaired"

    def __init__(self, stream_a, stream_b):
        self.stream_a = stream_a
        self.stream_b = stream_b

    @classmethod
    def beside(cls, stream_a, shards_b, seed_offset=1):
        """Pair `stream_a` with a stream over `shards_b` read with the same settings."""
        spec = stream_a.spec
        stream_b = BatchStream(
            shards_b, split=stream_a.split, batch_size=stream_a.batch_size, crop=spec.crop, augment=spec.augment,
            seed=spec.seed + seed_offset, workers=stream_a.workers, steps_per_epoch=stream_a.steps_per_epoch,
            shuffle_buffer=spec.shuffle_buffer, training=spec.training, on_error=spec.on_error,
        )
        return cls(stream_a, stream_b)

    @property
    def condition_channels(self):
        return self.stream_a.target_channels

    @property
    def target_channels(self):
        return self.stream_b.target_channels

    def epoch(self, epoch):
        for batch_a, batch_b in zip(self.stream_a.epoch(epoch), self.stream_b.epoch(epoch)):
            count = min(len(batch_a[1]), len(batch_b[1]))
            yield batch_a[1][:count], batch_b[1][:count]

    def forever(self, start_epoch=0):
        epoch = start_epoch
        while True:
            yield from self.epoch(epoch)
            epoch += 1
