"""`cig export`: a trained generator as .keras, TensorFlow SavedModel or ONNX, checked."""

import logging

FORMATS = ("keras", "savedmodel", "onnx")
logger = logging.getLogger(__name__)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "export", help="export a generator as .keras, SavedModel or ONNX",
        description="Export a trained generator. The export is reloaded and compared with the Keras "
                    "model (max abs diff <= --tolerance) before it is renamed to --out.",
    )
    parser.add_argument("--model", required=True, help="generator .keras file or run folder")
    parser.add_argument("--format", required=True, choices=FORMATS)
    parser.add_argument("--out", required=True, help="output file (.keras, .onnx) or folder (savedmodel)")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="largest accepted abs difference")
    parser.set_defaults(func=run)
    return parser


def run(args):
    from cig_k3.export import export_model

    result = export_model(args.model, args.format, args.out, tolerance=args.tolerance)
    logger.info("wrote %s (%s via %s); max abs diff from Keras: %.3g",
                result.path, result.format, result.route, result.max_abs_diff)
    return 0
