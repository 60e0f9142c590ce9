"""`cig prepare`: the same options and code path as `python -m data_prep` (data_prep.cli)."""


def add_parser(subparsers):
    from data_prep import cli

    parser = subparsers.add_parser(
        "prepare", help="turn a folder or the synthetic source into WebDataset shards",
        description=cli.DESCRIPTION,
    )
    cli.add_arguments(parser)
    parser.set_defaults(func=cli.run)
    return parser
