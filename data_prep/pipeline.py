"""`prepare`: a source -> train/val/test WebDataset shards + manifest.json.

The job runs in two passes over the fields, each spread over `workers` local processes
(`data_prep.local_pool`) or, with `dask=ADDRESS`, over a Dask cluster, one task per output
shard (`data_prep.cluster`); the tars and the manifest are the same bytes either way:
1. check: read and validate every field (skipped for the synthetic source, valid by
   construction). With on_error="fail" the first problem (in key order) stops the job
   before any shard is written; with "skip" the field is left out and listed in the manifest.
2. write: read, encode and summarise each field in a worker; the main process writes the
   samples in (split, key) order, `shard_size` per tar. Output never depends on `workers`.

Reading twice costs a little time and keeps memory flat: no encoded sample waits for the
validation of the others.
"""

import contextlib
import functools
import logging
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from data_prep import labels, schema, sharding, splits as splits_module, stats, validate
from data_prep.local_pool import parallel_map
from data_prep.sources import FolderPairs, StackTiles, Synthetic

log = logging.getLogger(__name__)

SYNTHETIC = "synthetic"
_SHARD_NAME = re.compile(r"^(train|val|test)-\d{6}\.tar$")


@dataclass
class PrepareOptions:
    """What to prepare and how; recorded in the manifest as `options`.

    Args:
        task: "mask2image" or "virtual_staining" (default: virtual_staining when `input` is set).
        count, size: number and size of synthetic fields.
        input, targets, tile: virtual staining: input stack file, target files, tile size.
        splits: a splits CSV (name,split); a folder's own splits.csv is used when this is None.
        ratios: train/val/test ratios of the hash split (fields not in a splits CSV).
        encoding, mask_type: label encoding (schema.ENCODINGS) and what the masks hold.
        channels: names of the raw channels (default ch0, ch1, ...).
        seed: seed of the synthetic fields.
        shard_size: samples per shard.
        on_error: "fail" (stop at the first bad file) or "skip" (leave it out, list it).
        max_pixels: largest accepted image (height x width x channels), checked on the header.
    """

    task: str = None
    count: int = None
    size: int = 256
    input: str = None
    targets: tuple = ()
    tile: int = 256
    splits: str = None
    ratios: tuple = splits_module.DEFAULT_RATIOS
    encoding: str = "semantic3"
    mask_type: str = "instance"
    channels: tuple = None
    seed: int = 0
    shard_size: int = 64
    on_error: str = "fail"
    max_pixels: int = validate.DEFAULT_MAX_PIXELS

    def __post_init__(self):
        if self.task is None:
            self.task = "virtual_staining" if self.input else "mask2image"
        if self.task not in schema.TASKS:
            raise ValueError(f"unknown task {self.task!r}; choose one of {list(schema.TASKS)}")
        labels.check_encoding(self.encoding, self.mask_type)
        if self.on_error not in ("fail", "skip"):
            raise ValueError(f"--on-error {self.on_error!r}: choose fail or skip")
        if int(self.shard_size) < 1:
            raise ValueError(f"--shard-size {self.shard_size} must be at least 1")
        self.ratios = splits_module.parse_ratios(self.ratios)
        self.targets = tuple(self.targets or ())
        self.channels = tuple(self.channels) if self.channels else None

    def record(self):
        """The JSON form kept in the manifest (and compared on a rerun)."""
        record = asdict(self)
        record["ratios"] = list(self.ratios)
        record["targets"] = list(self.targets)
        record["channels"] = list(self.channels) if self.channels else None
        record["splits"] = str(Path(self.splits).resolve()) if self.splits else None
        return record


def open_source(source, options):
    if str(source) == SYNTHETIC:
        return Synthetic(options.count, options.size, options.seed)
    if options.task == "virtual_staining":
        if options.splits:
            raise ValueError("--splits does not apply to virtual_staining: tiles are split by quadrant.")
        return StackTiles(source, options.input, options.targets, options.tile, options.max_pixels)
    return FolderPairs(source, options.max_pixels, options.channels)


def _problem_path(field):
    return field.paths[0] if field.paths else field.key


def check_field(source, options, field):
    """Validate one field; ("ok", field, info) or ("error", path, message)."""
    try:
        loaded = source.load(field)
        if "mask" in loaded and options.mask_type == "semantic" and options.encoding == "semantic3":
            labels.encode_label(loaded["mask"], "semantic3", "semantic", path=field.paths[1])
    except ValueError as error:
        return "error", _problem_path(field), str(error)
    info = {"raw": _describe(loaded["raw"])}
    if "source" in loaded:
        info["source"] = _describe(loaded["source"])
    return "ok", field, info


def _describe(image):
    return image.dtype.name, image.shape[2] if image.ndim == 3 else 1


def encode_field(source, params, field):
    """Read, encode and summarise one field: (key, {member: bytes}, {kind: stats summary})."""
    loaded = source.load(field)
    raw = loaded["raw"]
    meta = {
        "key": field.key,
        "task": params["task"],
        "encoding": params["encoding"],
        "shape": list(raw.shape[:2]),
        "raw_dtype": raw.dtype.name,
        "raw_channels": params["raw_channels"],
        "source_channels": params["source_channels"],
        "percentiles": {"raw": stats.field_percentiles(raw)},
        "num_objects": None,
        "split": field.split,
        **loaded["meta"],
    }
    members = {schema.RAW: sharding.encode_tiff(raw)}
    summaries = {}
    if "mask" in loaded:
        label, instances, num_objects = labels.encode_label(
            loaded["mask"], params["encoding"], params["mask_type"], path=meta.get("label_path", field.key)
        )
        members[schema.LABEL] = sharding.encode_png(label)
        if instances is not None:
            members[schema.INSTANCES] = sharding.encode_png(instances)
        meta["num_objects"] = num_objects
    if "source" in loaded:
        members[schema.SOURCE] = sharding.encode_tiff(loaded["source"])
        meta["source_dtype"] = loaded["source"].dtype.name
        meta["percentiles"]["source"] = stats.field_percentiles(loaded["source"])
    if field.split == "train":
        summaries["raw"] = stats.field_summary(raw, params["sample_size"], field.key)
        if "source" in loaded:
            summaries["source"] = stats.field_summary(loaded["source"], params["sample_size"], field.key + "#source")
    members[schema.META] = sharding.encode_json(meta)
    return field.key, members, summaries


def _assign_splits(source, options, fields, problems):
    if isinstance(source, StackTiles):
        return fields
    csv_path = Path(options.splits) if options.splits else None
    if csv_path is None and isinstance(source, FolderPairs) and (source.root / "splits.csv").is_file():
        csv_path = source.root / "splits.csv"
    if csv_path is None:
        return [_with_split(f, splits_module.hash_split(f.name, options.ratios)) for f in fields]
    table = splits_module.read_splits_csv(csv_path)
    assigned = []
    for f in fields:
        if f.name in table:
            assigned.append(_with_split(f, table[f.name]))
        else:
            problems.append((_problem_path(f), f"{_problem_path(f)} is not listed in {csv_path}."))
    unused = len(set(table) - {f.name for f in fields})
    if unused:
        log.info("%d names in %s have no field in the source (a subset is being prepared).", unused, csv_path)
    return assigned


def _with_split(field, split):
    return replace(field, split=split)


def _take_problems(problems, options, skipped):
    """Raise the first problem (on_error fail) or record them all as skipped."""
    if not problems:
        return
    problems = sorted(problems)
    if options.on_error == "fail":
        raise ValueError(problems[0][1])
    for path, message in problems:
        log.warning("skipping %s: %s", path, message)
        skipped.append({"path": path, "reason": message})


def _existing_result(out_dir, source_text, record, overwrite):
    """The finished manifest when it matches this job; refuses to replace another data set."""
    existing = sharding.read_manifest(out_dir)
    if existing is None:
        return None
    same = existing.get("source") == source_text and existing.get("options") == record
    shards = [s for split in existing.get("splits", {}).values() for s in split.get("shards", [])]
    if same and all((Path(out_dir) / s).is_file() for s in shards):
        return existing
    if not same and not overwrite:
        raise ValueError(f"{out_dir} already holds a data set prepared from {existing.get('source')} with "
                         f"other options; pass --overwrite to replace it, or choose another --out.")
    return None


def _cluster(stack, address):
    """A Dask client for `--dask ADDRESS` (closed with `stack`), or None for local processes."""
    if address is None:
        return None
    from data_prep import cluster

    return stack.enter_context(cluster.dask_client(address))


def prepare(source, out_dir, *, workers=1, progress=None, overwrite=False, dask=None, **options):
    """Prepare `source` (a folder, or "synthetic") into shards and a manifest in `out_dir`.

    Args:
        source: folder path, or "synthetic".
        out_dir: output folder (created if needed; locked during the job).
        workers: processes that read, check and encode fields; the output never depends on it.
        progress: show progress bars (None: only on a terminal).
        overwrite: replace a data set prepared in `out_dir` with other options.
        dask: run the work as Dask tasks, one per output shard (`data_prep.cluster`): "local",
            "local:N" (a LocalCluster of N processes) or a scheduler address; the output is
            byte-identical to the local path's. None: `workers` local processes.
        **options: the fields of `PrepareOptions`.

    Returns:
        The manifest (a dict). A finished job with the same options is not redone.

    Raises:
        ValueError: with one line naming the file and the problem.

    Example:
        >>> prepare("synthetic", "/tmp/shards", count=50, seed=0)["splits"]["train"]["count"]
    """
    options = PrepareOptions(**options)
    source_text = SYNTHETIC if str(source) == SYNTHETIC else str(Path(source).resolve())
    data_source = open_source(source, options)
    # Listing, pairing and splitting are read-only: a wrong source creates no output folder.
    fields, problems = data_source.scan()
    fields = _assign_splits(data_source, options, fields, problems)
    skipped = []
    _take_problems(problems, options, skipped)
    out_dir = sharding.prepare_output_dir(out_dir)
    with sharding.OutputLock(out_dir), contextlib.ExitStack() as stack:
        record = options.record()
        record["source_digest"] = data_source.digest()
        finished = _existing_result(out_dir, source_text, record, overwrite)
        if finished is not None:
            log.info("%s already holds this data set (same source and options); nothing to do.", out_dir)
            return finished

        client = _cluster(stack, dask)
        infos = {}
        if data_source.needs_validation:
            checked = []
            task = functools.partial(check_field, data_source, options)
            if client is None:
                results = parallel_map(task, fields, workers, progress, "check")
            else:
                from data_prep import cluster

                results = cluster.check_fields(client, task, fields, options.shard_size)
            with contextlib.closing(results):  # a first error stops the pool or the tasks now
                for status, subject, detail in results:
                    if status == "error":
                        _take_problems([(subject, detail)], options, skipped)
                    else:
                        checked.append(subject)
                        infos[subject.key] = detail
            fields = checked
            fields = _check_consistency(fields, infos, options, skipped)
        if not fields:
            raise ValueError(f"{source}: no fields left to prepare ({len(skipped)} skipped).")

        raw_dtype, raw_count = infos[fields[0].key]["raw"] if infos else ("uint16", 1)
        source_info = infos[fields[0].key].get("source") if infos else None
        by_split = {s: sorted((f for f in fields if f.split == s), key=lambda f: f.key) for s in schema.SPLITS}
        counts = {s: len(by_split[s]) for s in schema.SPLITS}
        params = {
            "task": options.task,
            "encoding": options.encoding if options.task == "mask2image" else None,
            "mask_type": options.mask_type,
            "raw_channels": data_source.channel_names(raw_count),
            "source_channels": list(getattr(data_source, "source_channels", [])),
            "sample_size": -(-stats.SAMPLE_BUDGET // max(counts["train"], 1)),
        }
        manifest = _write_shards(data_source, params, by_split, options, out_dir, workers, progress, client)
        manifest.update(
            schema_version=schema.SCHEMA_VERSION,
            task=options.task,
            encoding=params["encoding"],
            num_classes=labels.num_classes(options.encoding) if options.task == "mask2image" else None,
            raw_dtype=raw_dtype,
            raw_channels=params["raw_channels"],
            source_channels=params["source_channels"],
            source_dtype=source_info[0] if source_info else None,
            mask_type=options.mask_type if options.task == "mask2image" else None,
            percentile_range=list(stats.PERCENTILES),
            skipped=sorted(skipped, key=lambda s: s["path"]),
            source=source_text,
            options=record,
        )
        ordered = {key: manifest[key] for key in schema.MANIFEST_KEYS}
        ordered.update({k: v for k, v in manifest.items() if k not in ordered})
        sharding.write_manifest(out_dir, ordered)
        log.info("prepared %d fields (train %d, val %d, test %d) in %s",
                 sum(counts.values()), counts["train"], counts["val"], counts["test"], out_dir)
        return ordered


def _check_consistency(fields, infos, options, skipped):
    """All raw images (and input stacks) of a data set share one dtype and channel count."""
    if not fields:
        return fields
    reference = fields[0]
    kept = []
    for f in fields:
        for kind in infos[f.key]:
            if infos[f.key][kind] != infos[reference.key].get(kind):
                dtype, count = infos[f.key][kind]
                dtype0, count0 = infos[reference.key][kind]
                message = (f"{_problem_path(f)} is {dtype} with {count} channel(s) but {_problem_path(reference)} "
                           f"is {dtype0} with {count0}: all images of a data set must share one dtype and "
                           f"channel count.")
                _take_problems([(_problem_path(f), message)], options, skipped)
                break
        else:
            kept.append(f)
    return kept


def _write_shards(data_source, params, by_split, options, out_dir, workers, progress, client=None):
    """Write every shard in (split, key) order; returns the manifest's splits and stats."""
    plan = sharding.plan_shards({s: len(v) for s, v in by_split.items()}, options.shard_size)
    # A stale manifest must not describe the shards being rewritten; partials are leftovers.
    (out_dir / schema.MANIFEST).unlink(missing_ok=True)
    for path in sharding.shard_files(out_dir):
        if path.name.endswith(sharding.PARTIAL_SUFFIX):
            path.unlink()
    task = functools.partial(encode_field, data_source, params)
    running = {"raw": stats.RunningStats(), "source": stats.RunningStats()}
    if client is not None:
        _write_on_cluster(client, task, by_split, plan, options.shard_size, out_dir, running)
    else:
        _write_locally(task, by_split, plan, options.shard_size, out_dir, running, workers, progress)
    wanted = {name for names in plan.values() for name in names}
    for path in sharding.shard_files(out_dir):
        if _SHARD_NAME.match(path.name) and path.name not in wanted:
            path.unlink()
    data_stats = {"raw": running["raw"].result()}
    if params["source_channels"]:
        data_stats["source"] = running["source"].result()
    return {
        "splits": {s: {"count": len(by_split[s]), "shards": plan[s]} for s in schema.SPLITS},
        "stats": data_stats,
    }


def _write_locally(task, by_split, plan, shard_size, out_dir, running, workers, progress):
    """Fields encoded by `workers` processes; this process writes each shard in turn."""
    ordered = [f for split in schema.SPLITS for f in by_split[split]]
    results = parallel_map(task, ordered, workers, progress, "write")
    for split in schema.SPLITS:
        fields = by_split[split]
        for index, name in enumerate(plan[split]):
            batch = []
            for _ in fields[index * shard_size : (index + 1) * shard_size]:
                key, members, summaries = next(results)
                batch.append((key, members))
                for kind, summary in summaries.items():
                    running[kind].merge(summary)
            sharding.write_shard(out_dir / name, batch)
    results.close()


def _write_on_cluster(client, task, by_split, plan, shard_size, out_dir, running):
    """One Dask task per shard; the summaries merge in the local path's (split, key) order."""
    from data_prep import cluster

    jobs = [(name, by_split[split][index * shard_size : (index + 1) * shard_size])
            for split in schema.SPLITS for index, name in enumerate(plan[split])]
    for summaries in cluster.write_shards(client, task, out_dir, jobs):
        for summary in summaries:
            for kind, value in summary.items():
                running[kind].merge(value)
