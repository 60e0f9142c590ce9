"""`cig generate`: synthetic microscopy images from label masks with a trained generator."""

import logging

from cig_k3.commands import integer

logger = logging.getLogger(__name__)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "generate", help="generate images from masks with a trained generator",
        description="Encode masks as training did, run the generator tiled over fields of any size, and "
                    "write TIFFs in the data's intensity scale with provenance (synthetic=true) metadata.",
    )
    parser.add_argument("--model", required=True, help="generator .keras file or run folder")
    parser.add_argument("--masks", required=True, help="folder of PNG/TIFF masks")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--manifest", default=None, help="data manifest (default: manifest.json beside the model)")
    parser.add_argument("--mask-type", choices=("instance", "semantic"), default="instance",
                        help="instance labels (0 = background, 1..N objects) or class ids (default: instance)")
    parser.add_argument("--samples", type=integer, default=1,
                        help="1: one seeded draw (noise and dropout on, the texture `cig evaluate` scores); K >= 2: "
                             "K draws plus their mean and std maps")
    parser.add_argument("--mean", action="store_true",
                        help="one image with every noise source off instead (the generator's mean image: "
                             "deterministic and smooth)")
    parser.add_argument("--tile", type=integer, default=256, help="tile side in pixels")
    parser.add_argument("--overlap", type=integer, default=32, help="overlap of neighbouring tiles")
    parser.add_argument("--batch-size", type=integer, default=4, help="tiles per generator call")
    parser.add_argument("--seed", type=integer, default=0)
    parser.add_argument("--style", default=None, metavar="IMAGE",
                        help="a real field (TIFF/PNG, the data's units, any size) whose brightness, background and "
                             "texture every mask is drawn in; for generators with a style encoder "
                             "(preset realistic-style), which otherwise draw a style from the prior")
    parser.add_argument("--as-shards", default=None, metavar="DIR",
                        help="also write the (image, mask) pairs as training shards into DIR")
    parser.add_argument("--shard-size", type=integer, default=64)
    parser.add_argument("--dask", default=None, metavar="ADDRESS",
                        help="with --as-shards: one Dask task per shard (local, local:N or a scheduler address "
                             "such as tcp://host:8786); the same files as without. Give paths every worker sees")
    parser.set_defaults(func=run)
    return parser


def run(args):
    from cig_k3.export import load_generator, load_run_manifest, run_id_of
    from cig_k3.inference.generate import GenerateOptions, Provenance, generate_folder, list_masks
    from cig_k3.export.loading import resolve_model_path

    if args.samples < 1:
        raise ValueError(f"--samples must be at least 1, got {args.samples}")
    if args.mean and args.samples > 1:
        raise ValueError(f"--mean draws one noise-free image; it cannot go with --samples {args.samples}")
    model_path = resolve_model_path(args.model)
    manifest = load_run_manifest(model_path, args.manifest)
    if manifest.get("task", "mask2image") != "mask2image":
        raise ValueError(f"the model was trained for task {manifest.get('task')!r}; generate draws images from masks.")
    masks = list_masks(args.masks)
    if args.dask:
        return _run_on_dask(args, model_path, manifest, masks)
    model = load_generator(model_path)
    options = GenerateOptions(samples=args.samples, tile=args.tile, overlap=args.overlap, seed=args.seed,
                              mask_type=args.mask_type, batch_size=args.batch_size, style=args.style,
                              mean=args.mean)
    provenance = Provenance(model=str(model_path.resolve()), run_id=run_id_of(model_path), seed=args.seed)
    results = generate_folder(model, manifest, masks, args.out, options, provenance)
    logger.info("generated images for %d masks into %s", len(results), args.out)
    if args.as_shards:
        from cig_k3.inference.shards import write_generated_shards

        written = write_generated_shards(results, manifest, args.as_shards, provenance, shard_size=args.shard_size)
        logger.info("wrote %d synthetic pairs as shards into %s", written["splits"]["train"]["count"], args.as_shards)
    return 0


def _run_on_dask(args, model_path, manifest, masks):
    """`--dask`: the workers load the generator and write the TIFFs and shards themselves."""
    from data_prep.cluster import dask_client
    from cig_k3.export import run_id_of
    from cig_k3.inference.factory import generate_shards, masks_per_shard
    from cig_k3.inference.generate import GenerateOptions, Provenance

    if not args.as_shards:
        raise ValueError("--dask needs --as-shards DIR: it splits the work by output shard")
    options = GenerateOptions(samples=args.samples, tile=args.tile, overlap=args.overlap, seed=args.seed,
                              mask_type=args.mask_type, batch_size=args.batch_size, style=args.style,
                              mean=args.mean)
    masks_per_shard(args.shard_size, args.samples)  # a bad size stops before any cluster starts
    if args.style:
        _check_style(model_path, manifest, args.style)  # the workers would fail after folders exist
    provenance = Provenance(model=str(model_path.resolve()), run_id=run_id_of(model_path), seed=args.seed)
    with dask_client(args.dask) as client:
        written = generate_shards(client, model_path, manifest, masks, args.out, args.as_shards, options,
                                  provenance, shard_size=args.shard_size)
    logger.info("wrote %d synthetic pairs as shards into %s on Dask", written["splits"]["train"]["count"],
                args.as_shards)
    return 0


def _check_style(model_path, manifest, style):
    """--style with --dask: the one-line refusals of `generate_folder`, here, before any
    cluster starts or folder is made (a model without a style encoder, an unreadable file,
    a channel mismatch)."""
    from cig_k3.export import load_generator
    from cig_k3.inference.style import check_style_model, read_style

    model = load_generator(model_path)
    check_style_model(model, style)
    read_style(style, manifest, int(model.input["raw"].shape[-1]))
