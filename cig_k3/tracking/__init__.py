"""MLflow tracking: the only package of CIG that imports mlflow.

What `cig train` calls (in one line: `callbacks, finish = training_callbacks(config, run_dir)`):
    run = start_run(config, manifest, run_dir, tracking_uri=None, experiment="cig",
                    augmentation=None, optimizers=None, manifest_path=None, system_metrics=True)
    callback = MLflowCallback(run, log_every=10, batch_size=config.data.batch_size,
                              initial_step=resumed_step)
    ... fit(..., callbacks=[callback, ...]) ...
    log_metrics(run, {"test_psnr": ...}, step)      # optional, e.g. evaluation
    end_run(run, status="FINISHED")                 # or "FAILED"
    register_model(run.client, run.run_id, "NAME")  # a model version, alias "candidate"
`run_id.txt` is written into run_dir by start_run.
The experiment is tagged as model training; the shards are the run's dataset input; the
generator is a LoggedModel (models.py) and metrics logged after it are linked to it.
"""

from cig_k3.tracking.callback import MLflowCallback, training_callbacks, write_loss_curves
from cig_k3.tracking.datasets import log_shards, shards_dataset
from cig_k3.tracking.models import CANDIDATE_ALIAS, log_generator, logged_model_of, register_model, register_run
from cig_k3.tracking.runs import (
    DEFAULT_EXPERIMENT, TrackedRun, attach_run, end_run, log_artifact, log_metrics, log_params, manifest_hash,
    model_training_experiment, optimizer_params, run_name, set_tags, start_run,
)

__all__ = [
    "MLflowCallback", "TrackedRun", "attach_run", "start_run", "end_run", "log_metrics", "log_params", "log_artifact",
    "log_generator", "manifest_hash", "optimizer_params", "run_name", "set_tags", "training_callbacks",
    "write_loss_curves", "log_shards", "shards_dataset", "CANDIDATE_ALIAS", "logged_model_of", "register_model",
    "register_run", "DEFAULT_EXPERIMENT", "model_training_experiment",
]
