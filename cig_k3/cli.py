"""`cig`: one command with subcommands. Each lives in `cig_k3/commands/<name>.py` and exposes
`add_parser(subparsers)` (which sets `func`) so that the CLI and the MLproject entry points
call the same functions, and heavy imports stay inside the command that needs them."""

import argparse
import importlib
import logging
import os
import sys

# TensorFlow's C++ start-up chatter and grappler notes are not for users; warnings stay.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

COMMANDS = ("prepare", "train", "evaluate", "export", "generate", "masks", "main")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="cig",
        description="Cell Image Generation: conditional GANs for microscopy images.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"cig_k3.commands.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"cig_k3.commands.{name}":
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args) or 0
    except (ValueError, FileNotFoundError, FileExistsError, PermissionError, OSError) as error:
        # One clear line for the user; the traceback is for --verbose.
        if args.verbose:
            raise
        print(f"cig {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
