"""`cig register RUN --name NAME`: a tracked run's generator as a new version of a registered
model, with the alias `candidate` (MLflow's model registry). `cig train --register NAME` and
`cig main --register NAME` do the same at the end of training."""

import logging
from pathlib import Path

log = logging.getLogger("cig.register")


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "register", help="register a run's generator as a model version (MLflow model registry)",
        description="Register the generator logged by a tracked run as a new version of a registered "
                    "model (created when missing) and point an alias at it.",
    )
    parser.add_argument("run", metavar="RUN", help="run folder of cig train (holds run_id.txt) or an MLflow run id")
    parser.add_argument("--name", required=True, help="registered model name, e.g. cig-nuclei")
    parser.add_argument("--alias", default="candidate", help="alias set on the new version ('' for none)")
    parser.set_defaults(func=run)
    return parser


def run_id_of(run):
    """The MLflow run id of RUN: a run folder's run_id.txt, or RUN itself when it is no folder."""
    from cig_k3.tracking.runs import RUN_ID_FILE

    path = Path(run)
    if path.is_dir():
        id_file = path / RUN_ID_FILE
        if not id_file.is_file():
            raise FileNotFoundError(f"{id_file}: the run was not tracked with MLflow, so it has no model to register")
        return id_file.read_text(encoding="utf-8").strip()
    return str(run)


def register(run_id, name, alias="candidate", tracking_uri=None):
    """Register run `run_id`'s generator as model `name`; returns the `ModelVersion`."""
    from cig_k3 import tracking

    version = tracking.register_run(run_id, name, alias=alias or None, tracking_uri=tracking_uri)
    log.info("registered model %s version %s%s: models:/%s/%s", name, version.version,
             f" (alias {alias})" if alias else "", name, version.version)
    return version


def run(args):
    register(run_id_of(args.run), args.name, alias=args.alias)
    return 0
