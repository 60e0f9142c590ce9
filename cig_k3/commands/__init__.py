"""Subcommands of `cig`; each module exposes add_parser(subparsers)."""


def integer(text):
    """An int option that also accepts MLproject's float rendering ("24.0")."""
    value = float(text)
    if not value.is_integer():
        raise ValueError(f"{text!r} is not a whole number")
    return int(value)
