"""The shard format shared by the writer (data_prep) and the reader (cig_k3.data).

One WebDataset sample per field of view; crops are taken at read time so that every epoch
sees new crops, and a split is made by field, never by crop.

Members of a sample (the key is the member name after the first dot):
    __key__        stable id of the field, e.g. "bbbc039/IXMtest_A02_s1_w1051D"
    raw.tif        the microscopy image the generator learns to produce (the *target*),
                   H x W x C, exact source dtype (uint8/uint16/float32), written with tifffile
    label.png      (task "mask2image") the encoded condition label, H x W, uint8 or uint16
                   class ids in the manifest's encoding, 16-bit PNG via OpenCV
    instances.png  (task "mask2image", when the source has instance labels) H x W uint16,
                   0 = background, 1..N = one object each; kept for object-level metrics
    source.tif     (task "virtual_staining") the label-free input stack, H x W x C_in,
                   exact source dtype
    json           metadata (UTF-8 JSON): see SAMPLE_META_KEYS

manifest.json, written last, holds MANIFEST_KEYS.
"""

SCHEMA_VERSION = 1

TASKS = ("mask2image", "virtual_staining")
ENCODINGS = ("semantic3", "binary", "raw")
SPLITS = ("train", "val", "test")

# Number of classes a model sees for each encoding. "raw" keeps the label values as they are
# (for instance 0-255 grey levels) and is fed to the model as one scaled channel.
NUM_CLASSES = {"semantic3": 3, "binary": 2, "raw": 1}

# Member names inside a sample.
RAW = "raw.tif"
LABEL = "label.png"
INSTANCES = "instances.png"
SOURCE = "source.tif"
META = "json"

SAMPLE_META_KEYS = (
    "key",            # same as __key__
    "source_path",    # path of the raw image (and "label_path" / "source_stack_path")
    "task",           # one of TASKS
    "encoding",       # one of ENCODINGS (mask2image)
    "shape",          # [H, W]
    "raw_dtype",      # e.g. "uint16"
    "raw_channels",   # channel names of raw.tif
    "source_channels",  # channel names of source.tif (virtual staining), else []
    "percentiles",    # {"raw": {"p_low": [...per channel], "p_high": [...]}, "source": {...}}
    "num_objects",    # instance count, or null
)

MANIFEST_KEYS = (
    "schema_version",
    "task",
    "encoding",
    "num_classes",
    "raw_dtype",
    "raw_channels",
    "source_channels",
    "splits",        # {"train": {"count": n, "shards": ["train-000000.tar", ...]}, ...}
    "stats",         # {"raw": {"p_low": [...], "p_high": [...], "mean": [...], "std": [...],
                     #          "min": [...], "max": [...]}, "source": {...}} over the train split
    "percentile_range",  # [1.0, 99.8]: the percentiles p_low/p_high were taken at
    "skipped",       # [{"path": ..., "reason": ...}] with --on-error skip
    "source",        # what was prepared: folder path or "synthetic"
    "options",       # the options prepare ran with (seed, ratios, shard size, ...)
)

SHARD_PATTERN = "{split}-{index:06d}.tar"
MANIFEST = "manifest.json"

# Optional keys data_prep also writes (readers may ignore them).
SAMPLE_META_EXTRA_KEYS = (
    "split",              # the split the sample belongs to
    "label_path",         # mask2image: path of the mask, relative to the source folder
    "source_stack_path",  # virtual_staining: the input stack file
    "source_dtype",       # virtual_staining: dtype of source.tif
    "window",             # virtual_staining: [y, x, height, width] of the tile in its field
)
MANIFEST_EXTRA_KEYS = (
    "source_dtype",  # virtual_staining: dtype of source.tif, else null
    "mask_type",     # mask2image: "instance" or "semantic" (what the source masks held)
)
# stats[kind] also holds "pixels" (pixels counted) and "sampled_pixels" (percentile subsample).
