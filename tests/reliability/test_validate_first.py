"""Validate first, then write (issue 15): every bad model option ends in one line naming it,
before a run folder, config.json or an MLflow run exists; the MLproject's crop and batch
size are the preset's own unless given; `cig main --export-format` has choices; and a data
set without a val split goes through train, the judge and evaluate."""

import logging
import shlex

import pytest
import yaml

from cig_k3.cli import main
from tests.reliability.conftest import REPO, final_outputs, one_error_line, tiny_values

TRAIN = ["train", "--tracking", "mlflow"]


@pytest.fixture
def store(tmp_path, monkeypatch):
    """An empty MLflow store for the command under test (`cig train --tracking mlflow`)."""
    uri = f"sqlite:///{tmp_path / 'mlruns.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    return tmp_path / "mlruns.db"


def mlflow_runs(store):
    """Every run in the store, deleted ones included ([] when the store was never made)."""
    if not store.exists():
        return []
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{store}")
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    return client.search_runs(experiments, run_view_type=ViewType.ALL) if experiments else []


def _train_with_config(shards, run, values, tmp_path, *flags):
    import json

    config = tmp_path / "config.json"
    config.write_text(json.dumps(values))
    return main([*TRAIN, "--data", str(shards), "--out", str(run), "--config", str(config), *map(str, flags)])


MODEL_CASES = {
    "unknown gan": ({"model": {"gan": "nope"}}, "model.gan 'nope': choose one of"),
    "unknown generator": ({"model": {"generator": "nope"}}, "unknown generator 'nope'; choose one of"),
    "unknown discriminator": ({"model": {"discriminator": "nope"}}, "unknown discriminator 'nope'; choose one of"),
    # The tiny U-Net has depth 3: crops must be multiples of 8. 36 fits the 64x64 fields.
    "crop not a size multiple": ({"data": {"crop": 36}}, "--crop 36 is not a multiple of 8"),
}


@pytest.mark.backend_independent
@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_bad_model_fails_before_anything_is_written(case, small_shards, tmp_path, store, capsys):
    overrides, message = MODEL_CASES[case]
    run = tmp_path / "run"
    values = tiny_values(small_shards, run, **overrides)
    assert _train_with_config(small_shards, run, values, tmp_path) == 2
    one_error_line(capsys.readouterr().err, "cig train: error: ", message)
    assert not run.exists()  # no run folder, so no config.json or manifest.json
    assert mlflow_runs(store) == []


LOSS_CASES = {
    "wgan-gp on the cig preset": ("cig", "wgan-gp", "--adversarial 'wgan-gp'", "'conditional' gan of preset 'cig'"),
    "wgan-gp on pix2pix": ("pix2pix", "wgan-gp", "--adversarial 'wgan-gp'", "trains with one of ('lsgan', 'bce', 'hinge')"),
    "hinge refused by the dcgan family": ("dcgan", "hinge", "--adversarial 'hinge'", "one of ('bce', 'lsgan')"),
    "bce refused by wgan-gp": ("wgan-gp", "bce", "--adversarial 'bce'", "one of ('wasserstein',)"),
}


@pytest.mark.backend_independent
@pytest.mark.parametrize("case", sorted(LOSS_CASES))
def test_loss_a_gan_refuses_is_one_line_before_anything(case, small_shards, tmp_path, store, capsys):
    preset, loss, *names = LOSS_CASES[case]
    run = tmp_path / "run"
    status = main([*TRAIN, "--data", str(small_shards), "--out", str(run), "--preset", preset, "--adversarial", loss])
    assert status == 2
    one_error_line(capsys.readouterr().err, "cig train: error: ", *names)
    assert not run.exists()
    assert mlflow_runs(store) == []


@pytest.mark.backend_independent
def test_wgan_gp_is_refused_for_every_preset_but_its_own():
    from cig_k3.config import PRESETS, config_from_preset

    for preset in sorted(PRESETS):
        overrides = {"loss": {"adversarial": "wgan-gp"}, "data": {"shards_b": "b"}}
        if preset == "wgan-gp":
            assert config_from_preset(preset, overrides).loss.adversarial == "wgan-gp"
            continue
        with pytest.raises(ValueError, match=r"^--adversarial 'wgan-gp' \(loss.adversarial\): the '[\w-]+' gan"):
            config_from_preset(preset, overrides)


@pytest.mark.backend_independent
def test_config_checks_each_loss_against_the_gan_class_itself():
    """config.validate (before anything is built) takes the loss names from the adversarial
    module and each gan's losses from its class, so the two can never disagree (the class
    refuses the same ones: tests/cig_k3/training/test_registry.py)."""
    from cig_k3 import config as config_module
    from cig_k3.config import TrainConfig
    from cig_k3.losses import adversarial
    from cig_k3.training.gans import GANS

    assert config_module.ADVERSARIAL_LOSSES is adversarial.ADVERSARIAL_LOSSES
    assert set(GANS) == {"conditional", "attention", "mixlc", "feature_matching", "dcgan", "cgan", "wgan-gp",
                         "bigan", "cyclegan", "regression"}
    for gan, gan_class in GANS.items():
        assert gan_class.adversarial_losses and set(gan_class.adversarial_losses) <= set(adversarial.ADVERSARIAL_LOSSES)
        for mode in adversarial.ADVERSARIAL_LOSSES:
            values = {"model": {"gan": gan}, "loss": {"adversarial": mode}, "data": {"shards_b": "b"}}
            config = TrainConfig.from_dict(values)
            if mode in gan_class.adversarial_losses:
                config.validate()
            else:
                refused = rf"^--adversarial '{mode}' \(loss.adversarial\): the '{gan}' gan"
                with pytest.raises(ValueError, match=refused):
                    config.validate()


def _entry_point_argv(name, **parameters):
    """The `cig` argv of MLproject entry point `name`, as `mlflow run -P ...` renders it."""
    point = yaml.safe_load((REPO / "MLproject").read_text())["entry_points"][name]
    values = {key: spec["default"] for key, spec in point["parameters"].items()}
    values.update(parameters)
    words = shlex.split(point["command"].format(**values))
    return words[words.index("cig_k3") + 1:]  # after `env KERAS_BACKEND=... python -m cig_k3`


@pytest.mark.backend_independent
@pytest.mark.parametrize("preset, crop, batch_size", [("pix2pix", 256, 1), ("cig", 128, 4), ("dcgan", 64, 16)])
def test_mlproject_crop_and_batch_size_are_the_presets_own(preset, crop, batch_size):
    """`mlflow run . -P preset=pix2pix` used to pass --crop 64 --batch-size 4 to every preset."""
    from cig_k3.cli import build_parser
    from cig_k3.commands.train import config_from_args

    config = config_from_args(build_parser().parse_args(_entry_point_argv("train", preset=preset)))
    assert (config.data.crop, config.data.batch_size) == (crop, batch_size)
    given = config_from_args(build_parser().parse_args(_entry_point_argv("train", preset=preset, crop="32.0")))
    assert given.data.crop == 32 and given.data.batch_size == batch_size

    args = build_parser().parse_args(_entry_point_argv("main", preset=preset))
    assert args.crop is None and args.batch_size is None and args.size is None  # the preset's, fields large enough


@pytest.mark.backend_independent
def test_main_export_format_has_choices(tmp_path, capsys):
    out = tmp_path / "main"
    with pytest.raises(SystemExit) as caught:
        main(["main", "--out", str(out), "--export-format", "BAD", "--tracking", "none"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "argument --export-format: invalid choice: 'BAD'" in err and "Traceback" not in err
    assert not out.exists()  # refused before the synthetic data, training and evaluation


@pytest.mark.backend_independent
def test_main_with_a_crop_the_generator_refuses_leaves_no_run(tmp_path, store, capsys):
    out = tmp_path / "main"
    status = main(["main", "--out", str(out), "--count", "6", "--size", "64", "--crop", "36", "--epochs", "1",
                   "--steps-per-epoch", "1"])
    assert status == 2
    one_error_line(capsys.readouterr().err, "cig main: error: ", "--crop 36 is not a multiple of 32")
    assert not (out / "run").exists()
    assert mlflow_runs(store) == []


def test_data_without_val_trains_judges_and_evaluates(no_val_shards, tmp_path, caplog):
    """The rule for data without val fields: validate on nothing, and say so (README)."""
    import json

    from cig_k3.commands.evaluate import get_judge

    run = tmp_path / "run"
    caplog.set_level(logging.WARNING)
    values = tiny_values(no_val_shards, run)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(values))
    assert main(["train", "--tracking", "none", "--data", str(no_val_shards), "--config", str(config)]) == 0
    assert f"{no_val_shards} has no val split: training without validation metrics" in caplog.text
    history = json.loads((run / "history.json").read_text())
    assert [entry["epoch"] for entry in history] == [1]  # no epoch-0 validation, and no val_ metrics
    assert not any(key.startswith("val_") for key in history[-1])

    caplog.clear()
    assert main(["evaluate", "--model", str(run), "--data", str(no_val_shards), "--tracking", "none",
                 "--out", str(tmp_path / "evaluation"), "--max-images", "2", "--samples", "2",
                 "--judge-steps", "2", "--realism", "off"]) == 0
    assert f"{no_val_shards} has no val split: the judge segmenter trains without validation" in caplog.text
    assert (no_val_shards / "judge" / "judge.keras").is_file()
    assert final_outputs(tmp_path / "evaluation")

    # benchmarks/quality.py asks for the judge the same way; a fresh one, for a fresh path.
    judge, path = get_judge(no_val_shards, tmp_path / "judge" / "judge.keras", 32, 2)
    assert path.is_file() and judge.output_shape[-1] == 3
