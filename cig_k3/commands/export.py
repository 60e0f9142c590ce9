"""`cig export`: a trained generator as .keras, TensorFlow SavedModel or ONNX, checked, or as a
BioImage Model Zoo package (`--format bioimageio`)."""

import logging

FORMATS = ("keras", "savedmodel", "onnx", "bioimageio")
logger = logging.getLogger(__name__)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "export", help="export a generator as .keras, SavedModel, ONNX or a bioimage.io package",
        description="Export a trained generator. The export is reloaded and compared with the Keras "
                    "model (max abs diff <= --tolerance) before it is renamed to --out.",
    )
    parser.add_argument("--model", required=True, help="generator .keras file or run folder")
    parser.add_argument("--format", required=True, choices=FORMATS)
    parser.add_argument("--out", required=True,
                        help="output file (.keras, .onnx), folder (savedmodel), or folder or .zip (bioimageio)")
    parser.add_argument("--manifest", default=None,
                        help="bioimageio: the data's manifest.json (default: the one in the run folder)")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest accepted abs difference")
    parser.set_defaults(func=run)
    return parser


def run(args):
    if args.format == "bioimageio":
        from cig_k3.export.bioimageio import check_out, export_bioimageio

        check_out(args.out)  # one line, before any model is loaded or file written
        result = export_bioimageio(args.model, args.out, manifest_path=args.manifest, tolerance=args.tolerance)
        logger.info("wrote the bioimage.io package %s (%s)", result.path, result.name)
        return 0

    from cig_k3.export import export_model

    result = export_model(args.model, args.format, args.out, tolerance=args.tolerance)
    logger.info("wrote %s (%s via %s); max abs diff from Keras: %.3g",
                result.path, result.format, result.route, result.max_abs_diff)
    return 0
