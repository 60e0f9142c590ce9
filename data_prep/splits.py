"""Train/val/test assignment by field of view: from a splits.csv, or from a hash of the name.

A split is always made per field (never per crop or tile of a field), so that no test pixel
leaks into training. The hash split depends on the field name and the ratios only (not on
the seed, the worker count or the other fields), so adding fields never moves old ones.
"""

import csv
import hashlib
from pathlib import Path

from data_prep.schema import SPLITS

DEFAULT_RATIOS = (0.8, 0.1, 0.1)


def parse_ratios(text):
    """'0.8,0.1,0.1' -> (0.8, 0.1, 0.1); three non-negative numbers that sum to 1."""
    if isinstance(text, str):
        parts = text.split(",")
    else:
        parts = list(text)
    try:
        ratios = tuple(float(part) for part in parts)
    except ValueError:
        raise ValueError(f"--ratios {text!r} must be three numbers, e.g. 0.8,0.1,0.1.") from None
    if len(ratios) != 3 or min(ratios) < 0 or abs(sum(ratios) - 1.0) > 1e-6:
        raise ValueError(
            f"--ratios {text!r} must be three non-negative numbers (train,val,test) that sum to 1."
        )
    return ratios


def hash_split(name, ratios=DEFAULT_RATIOS):
    """The split of field `name`: the first 8 bytes of sha1(name) as a number in [0, 1)."""
    digest = hashlib.sha1(name.encode("utf-8")).digest()
    position = int.from_bytes(digest[:8], "big") / 2.0**64
    if position < ratios[0]:
        return "train"
    if position < ratios[0] + ratios[1]:
        return "val"
    return "test"


def read_splits_csv(path):
    """{name: split} from a CSV with a header holding at least the columns name and split."""
    path = Path(path)
    try:
        handle = open(path, newline="", encoding="utf-8")
    except OSError as error:
        raise ValueError(f"{path} cannot be read: {error.strerror or error}.") from None
    with handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        if "name" not in columns or "split" not in columns:
            raise ValueError(f"{path} must have a header with the columns name,split (found {columns}).")
        splits = {}
        for line, row in enumerate(reader, start=2):
            name, split = (row["name"] or "").strip(), (row["split"] or "").strip()
            if split not in SPLITS:
                raise ValueError(f"{path} line {line}: split {split!r} is not one of {list(SPLITS)}.")
            if name in splits and splits[name] != split:
                raise ValueError(f"{path} line {line}: {name!r} is listed in both {splits[name]} and {split}.")
            splits[name] = split
    return splits
