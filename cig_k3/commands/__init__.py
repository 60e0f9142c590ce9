"""Subcommands of `cig`; each module exposes add_parser(subparsers)."""


def integer(text):
    """An int option that also accepts MLproject's float rendering ("24.0")."""
    value = float(text)
    if not value.is_integer():
        raise ValueError(f"{text!r} is not a whole number")
    return int(value)


def integer_or(*words):
    """An `integer` option that also takes one of `words` ("preset" for MLproject's default
    of "the preset's own value"), read as None: the option is then not given."""

    def parse(text):
        return None if str(text).strip().lower() in words else integer(text)

    parse.__name__ = "integer"  # argparse's message: "invalid integer value: 'x'"
    return parse
