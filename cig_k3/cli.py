"""`cig`: one command with subcommands. Each lives in `cig_k3/commands/<name>.py` and exposes
`add_parser(subparsers)` (which sets `func`) so that the CLI and the MLproject entry points
call the same functions, and heavy imports stay inside the command that needs them."""

import argparse
import importlib
import logging
import os
import re
import sys
import tempfile

# TensorFlow's C++ log (start-up chatter, a harmless grappler remapper note) is not for users;
# Python warnings and errors still show. Set TF_CPP_MIN_LOG_LEVEL=0 to see it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

COMMANDS = ("prepare", "train", "evaluate", "export", "generate", "masks", "main", "register")
# Commands that never load a model, so never import Keras.
_NO_KERAS = ("prepare",)
# TensorFlow's C++ start-up notes that TF_CPP_MIN_LOG_LEVEL does not silence (absl logs
# them before it reads any setting): they would break the one-line errors of the CLI.
_STARTUP_NOISE = re.compile(rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
                            rb"|I\d{4} .*oneDNN custom operations are on)")


def _import_keras_quietly():
    """Import Keras (and its backend) with the start-up notes above dropped from stderr;
    anything else the import writes there is passed on unchanged."""
    if "keras" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().splitlines(keepends=True) if not _STARTUP_NOISE.match(line)]
            if kept:
                sys.stderr.flush()
                os.write(2, b"".join(kept))


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
    if args.command not in _NO_KERAS:
        _import_keras_quietly()
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
