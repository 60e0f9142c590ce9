"""`BatchStream`: batches of (condition, target) for `keras.Model.fit`, from shards.

Determinism:
- `epoch(e)` depends only on (seed, e, workers) and the shards: the same triple gives the
  same batches, in one process or another, before or after a crash (resume at an epoch
  boundary with `forever(start_epoch=e)`).
- workers=0 and workers=1 give the same batches. Other worker counts give other (equally
  valid) batches, because each worker shuffles its own share of the shards: worker w of W
  reads shards w, w+W, ... of the epoch's shard order, and the main process takes samples
  from the workers in turn (round robin), whatever their speed.
- Several training processes (multi-host data parallelism, `process=(p, P)`) split the
  shards as workers do: process p's worker w is stream w * P + p of W * P, so process p reads
  the shards at positions p, p + P, ... of the epoch's order, and a single process with
  W * P workers and a P times larger batch sees the same samples in each batch.
- Evaluation streams (split other than "train", or training=False) read shards and samples
  in file order, take centre crops and apply no augmentation; with workers they interleave
  shards round robin, so the order changes with the worker count but not the content.
"""

import logging
import math
import multiprocessing
import queue

import numpy as np

from data_prep import schema
from cig_k3.data.field_cache import FieldCache
from cig_k3.data.mixing import check_mixing
from cig_k3.data.normalize import encode_label
from cig_k3.data.sampling import StreamSpec, one_hot_condition, sample_stream
from cig_k3.data.shards import read_manifest, shard_urls

logger = logging.getLogger(__name__)

ON_ERROR = ("fail", "skip")


def _worker_main(spec, epoch, worker, num_workers, endless, out_queue):
    """Worker process body: run one sample stream, forward its items, then ("done",)."""
    import cv2

    cv2.setNumThreads(1)  # one worker per core; OpenCV's own threads would only compete
    try:
        for item in sample_stream(spec, epoch, worker, num_workers, endless):
            out_queue.put(item)
        out_queue.put(("done",))
    except BaseException as error:  # forwarded and raised again in the main process
        out_queue.put(("error", f"{type(error).__name__}: {error}"))


class BatchStream:
    """Batches of conditional-GAN pairs read from a shard folder, epoch by epoch.

    Args:
        shard_dir: folder with `manifest.json` and the tars (`data_prep` output).
        split: "train", "val" or "test".
        batch_size: samples per batch.
        crop: side of the square crops; None keeps whole fields (equal sizes needed).
        augment: an `AugmentConfig`, or None for none. Ignored when not training.
        seed: seed of every random choice (shard order, shuffling, crops, augmentation).
        workers: reader processes; 0 reads in this process.
        mixing: None, "random" or "center": MixLC pasting (see `mixing.py`), mask2image only.
        steps_per_epoch: batches per epoch (passes repeat as needed); None: one pass.
        shuffle_buffer: size of the sample shuffle buffer (training).
        on_error: "fail" raises a ValueError naming a corrupt shard; "skip" logs one
            warning per shard and goes on.
        with_instances: add the instance labels (B, crop, crop) int32 as a third element.
        instance_condition: make the condition {"label": ..., "instances": (B, crop, crop, 1)
            int32 ids renumbered 1..n per crop (`compact_instances`)}, for generators that
            take an instance map (`InstanceUNetGenerator`).
        mix_fraction: side of the pasted square as a fraction of the crop, or a range.
        training: None: True for split "train". False: centre crops, file order, no
            augmentation, one pass unless steps_per_epoch.
        crops_per_field: crops taken from each decoded field (training). Each crop is still
            a uniform random crop of its field (its own top-left corner, drawn independently,
            and its own augmentation draw), so each crop on its own is what crops_per_field=1
            gives; what changes is that k crops of one field enter the shuffle buffer together,
            which spreads them over about `shuffle_buffer` samples, so nearby batches share
            fields more often. Saves decoding when the fields do not fit `field_cache_mb`.
        field_cache_mb: decoded fields kept in memory per reader process (the main process
            with workers=0, else each worker), in MiB; 0 decodes every field on every pass.
            Batches are bit for bit the same with any budget (`cig_k3.data.field_cache`):
            only decoding is skipped. With workers=0 the cache lives as long as the stream,
            across epochs; worker processes start again every epoch, and their caches with them.
        drop_remainder: with steps_per_epoch=None, drop a last partial batch.
        process: (index, count) of this training process among `count` data-parallel
            processes (`cig_k3.training.multihost`): it reads only its share of the shards,
            and the shard count must divide by `count`. (0, 1): one process.
        start_method: multiprocessing start method of the workers. "forkserver" (default)
            is safe beside the threads of TensorFlow/JAX/torch; like "spawn" it needs the
            main script to be import-safe (`if __name__ == "__main__":`). "fork" starts
            fastest.

    Each batch is (condition, target) of float32 NHWC arrays: condition
    (B, crop, crop, condition_channels), target (B, crop, crop, target_channels) in
    [-1, 1]. With mixing, condition is {"label": ..., "raw": a's raw image} and target the
    mixed image.

    Example:
        >>> stream = BatchStream("shards", batch_size=4, crop=64, augment=AugmentConfig(),
        ...                      steps_per_epoch=100)
        >>> model.fit(stream.forever(), steps_per_epoch=100, epochs=10)
    """

    def __init__(self, shard_dir, split="train", batch_size=4, crop=64, augment=None, seed=0,
                 workers=0, mixing=None, steps_per_epoch=None, shuffle_buffer=64, on_error="fail",
                 with_instances=False, mix_fraction=(0.25, 0.5), training=None, crops_per_field=1,
                 drop_remainder=False, start_method="forkserver", process=(0, 1), field_cache_mb=256,
                 instance_condition=False):
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}; got {on_error!r}")
        if batch_size < 1 or (steps_per_epoch is not None and steps_per_epoch < 1):
            raise ValueError(f"batch_size and steps_per_epoch must be positive; got {batch_size}, {steps_per_epoch}")
        if crop is not None and crop < 1:
            raise ValueError(f"crop must be a positive size or None; got {crop}")
        if crops_per_field < 1 or field_cache_mb < 0:
            raise ValueError(f"crops_per_field must be >= 1 and field_cache_mb >= 0; got {crops_per_field}, "
                             f"{field_cache_mb}")
        self.manifest = read_manifest(shard_dir)
        self.shard_dir = shard_dir
        self.split = split
        self.task = self.manifest["task"]
        self.encoding = self.manifest.get("encoding") if self.task == "mask2image" else None
        if self.task == "mask2image" and self.encoding not in schema.ENCODINGS:
            raise ValueError(f"{shard_dir}: unknown label encoding {self.encoding!r}; expected one of {schema.ENCODINGS}")
        if mixing is not None:
            mix_fraction = check_mixing(mixing, mix_fraction)
            if self.task != "mask2image":
                raise ValueError(f"mixing pastes label squares and needs task mask2image; {shard_dir} is {self.task}")
        urls = shard_urls(shard_dir, self.manifest, split)
        if not urls:
            raise ValueError(f"split {split!r} of {shard_dir} has no shards")
        self.process_index, self.process_count = int(process[0]), int(process[1])
        if self.process_count > 1 and len(urls) % self.process_count:
            raise ValueError(
                f"split {split!r} of {shard_dir} has {len(urls)} shards, which {self.process_count} training "
                f"processes cannot share evenly; prepare it again with a --shard-size that gives a multiple "
                f"of {self.process_count} shards")
        self.batch_size = batch_size
        self.steps_per_epoch = steps_per_epoch
        self.workers = min(int(workers), len(urls) // self.process_count)
        if self.workers < workers:
            logger.warning("split %r has %d shards: using %d workers instead of %d",
                           split, len(urls), self.workers, workers)
        self.mixing = mixing
        self.with_instances = with_instances
        if instance_condition and (mixing is not None or self.task != "mask2image"):
            raise ValueError(f"{shard_dir}: an instance-map condition needs task mask2image without mixing")
        self.instance_condition = instance_condition
        self.drop_remainder = drop_remainder
        self.start_method = start_method
        self._warned = set()
        stats = self.manifest["stats"]
        training = split == "train" if training is None else training
        self.spec = StreamSpec(
            urls=tuple(urls), task=self.task, encoding=self.encoding,
            num_classes=int(self.manifest.get("num_classes") or schema.NUM_CLASSES.get(self.encoding, 1)),
            raw_percentiles=(tuple(stats["raw"]["p_low"]), tuple(stats["raw"]["p_high"])),
            source_percentiles=((tuple(stats["source"]["p_low"]), tuple(stats["source"]["p_high"]))
                                if self.task == "virtual_staining" else None),
            crop=crop, training=training, augment=augment, mixing=mixing, mix_fraction=mix_fraction,
            shuffle_buffer=int(shuffle_buffer), crops_per_field=int(crops_per_field),
            with_instances=with_instances or instance_condition, on_error=on_error, seed=int(seed),
            field_cache_bytes=int(field_cache_mb * 2**20))
        self.field_cache = FieldCache(self.spec.field_cache_bytes)  # in-process reading only

    @property
    def condition_channels(self):
        """Channels of the condition: classes (one-hot), 1 for "raw" labels, or C_in."""
        if self.task == "virtual_staining":
            return len(self.spec.source_percentiles[0])
        return 1 if self.encoding == "raw" else self.spec.num_classes

    @property
    def target_channels(self):
        return len(self.spec.raw_percentiles[0])

    @property
    def num_batches(self):
        """Batches per epoch: steps_per_epoch, or what one pass gives by the manifest's count."""
        if self.steps_per_epoch is not None:
            return self.steps_per_epoch
        count = self.manifest["splits"][self.split].get("count", 0)
        if self.spec.training:
            count *= self.spec.crops_per_field
        if self.mixing is not None:
            count //= 2
        rounding = math.floor if self.drop_remainder else math.ceil
        return rounding(count / self.batch_size)

    def epoch(self, epoch):
        """Iterator over the batches of epoch `epoch` (exactly steps_per_epoch of them)."""
        limit = None if self.steps_per_epoch is None else self.steps_per_epoch * self.batch_size
        endless = limit is not None
        items = self._items_in_process(epoch, endless) if self.workers == 0 else self._items_from_workers(epoch, endless)
        return self._batches(items, limit)

    def forever(self, start_epoch=0):
        """Infinite generator: epoch(start_epoch), epoch(start_epoch + 1), ..."""
        epoch = start_epoch
        while True:
            yield from self.epoch(epoch)
            epoch += 1

    def _handle(self, item):
        kind = item[0]
        if kind == "warning":
            _, url, text = item
            if url not in self._warned:
                self._warned.add(url)
                logger.warning(text)
            return None
        return item[2]

    def _items_in_process(self, epoch, endless):
        for item in sample_stream(self.spec, epoch, self.process_index, self.process_count, endless,
                                  field_cache=self.field_cache):
            sample = self._handle(item)
            if sample is not None:
                yield sample

    def _items_from_workers(self, epoch, endless):
        context = multiprocessing.get_context(self.start_method)
        if self.start_method == "forkserver":
            # Preloaded once in the server, so each worker starts by a fork, not by imports.
            context.set_forkserver_preload(["cig_k3.data.sampling"])
        queues = [context.Queue(maxsize=2 * self.batch_size) for _ in range(self.workers)]
        processes = [context.Process(target=_worker_main, daemon=True,
                                     args=(self.spec, epoch, worker * self.process_count + self.process_index,
                                           self.workers * self.process_count, endless, queues[worker]))
                     for worker in range(self.workers)]
        try:
            for process in processes:
                process.start()
            active = list(range(self.workers))
            turn = 0
            while active:
                worker = active[turn % len(active)]
                item = self._get(queues[worker], processes[worker], worker)
                if item[0] == "done":
                    active.remove(worker)
                    continue  # the next worker now has this turn's index
                if item[0] == "error":
                    raise ValueError(f"data worker {worker}: {item[1]}")
                sample = self._handle(item)
                if sample is not None:
                    yield sample
                    turn += 1
        finally:
            for process in processes:
                if process.is_alive():
                    process.terminate()
            for process in processes:
                process.join(timeout=5)
            for worker_queue in queues:
                worker_queue.close()

    @staticmethod
    def _get(worker_queue, process, worker):
        while True:
            try:
                return worker_queue.get(timeout=1.0)
            except queue.Empty:
                if not process.is_alive():
                    raise RuntimeError(
                        f"data worker {worker} exited with code {process.exitcode} without finishing "
                        "(out of memory?)") from None

    def _batches(self, items, limit):
        taken = 0
        batch = []
        try:
            for sample in items:
                batch.append(sample)
                taken += 1
                if len(batch) == self.batch_size:
                    yield self._collate(batch)
                    batch = []
                if limit is not None and taken >= limit:
                    return
            if limit is not None:
                raise ValueError(
                    f"split {self.split!r} of {self.shard_dir} ran out of readable samples after "
                    f"{taken} of the {limit} this epoch needs")
            if batch and not self.drop_remainder:
                yield self._collate(batch)
        finally:
            items.close()

    def _collate(self, batch):
        def stack(arrays):
            try:
                return np.stack(arrays)
            except ValueError as error:
                shapes = sorted({array.shape for array in arrays})
                raise ValueError(f"cannot batch samples of shapes {shapes}: with crop=None the fields "
                                 "must have one size; set crop, or batch_size=1") from error

        def label(ids):
            if one_hot_condition(self.spec):
                return encode_label(ids, self.encoding, self.spec.num_classes)
            return ids

        if self.mixing is None:
            condition = label(stack([sample["condition"] for sample in batch]))
        else:
            condition = {"label": label(stack([sample["condition"]["label"] for sample in batch])),
                         "raw": stack([sample["condition"]["raw"] for sample in batch])}
        target = stack([sample["target"] for sample in batch])
        if self.instance_condition:
            ids = np.stack([compact_instances(sample["instances"]) for sample in batch])
            condition = {"label": condition, "instances": ids[..., None]}
        if self.with_instances:
            return condition, target, stack([sample["instances"] for sample in batch])
        return condition, target


def compact_instances(instances):
    """Instance ids renumbered 1..n in increasing order, 0 kept for the background, int32.

    A crop holds a few of its field's objects, whose ids may run into the thousands;
    renumbered, they fit the fixed table of an instance-wise pooling
    (`cig_k3.layers.instance_pooling`)."""
    instances = np.asarray(instances)
    values, inverse = np.unique(instances, return_inverse=True)
    first = 0 if values.size and values[0] == 0 else 1  # a crop inside one object has no background
    return (inverse.reshape(instances.shape) + first).astype(np.int32)
