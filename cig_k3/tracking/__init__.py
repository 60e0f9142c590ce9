"""MLflow tracking: the only package of CIG that imports mlflow.

What `cig train` calls (in one line: `callbacks, finish = training_callbacks(config, run_dir)`):
    run = start_run(config, manifest, run_dir, tracking_uri=None, experiment="cig",
                    augmentation=None, optimizers=None, manifest_path=None)
    callback = MLflowCallback(run, log_every=10, batch_size=config.data.batch_size,
                              initial_step=resumed_step)
    ... fit(..., callbacks=[callback, ...]) ...
    log_metrics(run, {"test_psnr": ...}, step)      # optional, e.g. evaluation
    end_run(run, status="FINISHED")                 # or "FAILED"
`run_id.txt` is written into run_dir by start_run.
"""

from cig_k3.tracking.callback import MLflowCallback, training_callbacks, write_loss_curves
from cig_k3.tracking.runs import (
    TrackedRun, attach_run, end_run, log_artifact, log_generator, log_metrics, log_params, manifest_hash, optimizer_params,
    run_name, set_tags, start_run,
)

__all__ = [
    "MLflowCallback", "TrackedRun", "attach_run", "start_run", "end_run", "log_metrics", "log_params", "log_artifact",
    "log_generator", "manifest_hash", "optimizer_params", "run_name", "set_tags", "training_callbacks",
    "write_loss_curves",
]
