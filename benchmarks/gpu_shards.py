"""A subset of a shard folder, repacked small enough to travel to a lent GPU machine (issue 14).

The device machines receive the working tree and at most 64 MiB with it, and reach no data.
BBBC039's train shards are 66 MB as `cig prepare` writes them (zlib level 1, for speed), so
this rewrites each field's raw TIFF with LZMA and the horizontal predictor (lossless, about
0.75x the size; tifffile decodes both without imagecodecs) and keeps as many train fields as
fit in `--mib`, drawn at random across every shard, plus the first `--val` val fields. The
manifest keeps the full data set's normalisation statistics, so a model trained on the
subset sees the same intensities as one trained on all of it.

    python benchmarks/gpu_shards.py --shards data/bbbc039 --out .gpu_data --mib 30
"""

import argparse
import io
import json
import random
import sys
from pathlib import Path

import numpy as np
import tifffile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cig_k3.data.shards import iter_tar  # noqa: E402
from data_prep.sharding import write_manifest, write_shard  # noqa: E402


def fields(tar_path):
    """[(key, {member: bytes})] of one shard, in order."""
    return [(sample.pop("__key__"), sample) for sample in iter_tar(str(tar_path))]


def repack(members):
    """The same members with the raw TIFF rewritten as LZMA + horizontal predictor."""
    members = dict(members)
    for suffix in [s for s in members if s.endswith(".tif")]:
        array = tifffile.imread(io.BytesIO(members[suffix]))
        buffer = io.BytesIO()
        tifffile.imwrite(buffer, array, photometric="minisblack", compression="lzma", predictor=True,
                         metadata=None, **({"planarconfig": "contig"} if array.ndim == 3 else {}))
        if not np.array_equal(tifffile.imread(io.BytesIO(buffer.getvalue())), array):
            raise RuntimeError(f"{suffix}: the LZMA TIFF does not read back as written")
        members[suffix] = buffer.getvalue()
    return members


def tar_bytes(members):
    """About what a sample's members take in a tar: each with a header and padding of 1 kB."""
    return sum(len(data) + 1024 for data in members.values())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shards", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--mib", type=float, default=30.0, help="size budget of the written shards")
    parser.add_argument("--val", type=int, default=4, help="val fields kept")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shard-size", type=int, default=64)
    args = parser.parse_args(argv)
    source, out = Path(args.shards), Path(args.out)
    if not (source / "manifest.json").is_file():
        sys.exit(f"--shards {source}: no manifest.json (a folder written by cig prepare is needed)")
    manifest = json.loads((source / "manifest.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    budget = args.mib * 2**20
    val = []
    for shard in manifest["splits"].get("val", {}).get("shards", []):
        val += [(key, repack(members)) for key, members in fields(source / shard)]
    val = val[:args.val]
    used = sum(tar_bytes(members) for _, members in val)
    train = []
    for shard in manifest["splits"]["train"]["shards"]:
        train += fields(source / shard)
    random.Random(args.seed).shuffle(train)
    kept = []
    for key, members in train:
        members = repack(members)
        size = tar_bytes(members)
        if used + size > budget:
            break
        kept.append((key, members))
        used += size
    splits = {"train": kept, "val": val}
    for split, samples in splits.items():
        names = []
        for start in range(0, len(samples), args.shard_size):
            names.append(f"{split}-{start // args.shard_size:06d}.tar")
            write_shard(out / names[-1], samples[start:start + args.shard_size])
        manifest["splits"][split] = {"count": len(samples), "shards": names}
    manifest["splits"]["test"] = {"count": 0, "shards": []}
    manifest["subset_of"] = str(source)
    write_manifest(out, manifest)
    total = sum(p.stat().st_size for p in out.glob("*.tar"))
    print(f"{out}: {len(kept)} of {len(train)} train fields, {len(val)} val fields, {total / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
