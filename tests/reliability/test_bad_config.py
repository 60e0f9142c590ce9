"""Bad training options through `cig train`: one line naming the option, checked before training,
and no model or checkpoint written."""

import json

import pytest

from cig_k3.cli import main
from tests.reliability.conftest import final_outputs, one_error_line, tiny_config, tiny_values

TRAIN = ["train", "--tracking", "none"]


def _train(shards, out, *flags):
    return main([*TRAIN, "--data", str(shards), "--out", str(out), *map(str, flags)])


OPTION_CASES = {
    "unknown preset": (["--preset", "nope"], "unknown preset 'nope'; choose one of"),
    "unknown loss": (["--adversarial", "l7"], "adversarial loss 'l7': choose one of"),
    "batch size 0": (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    "negative learning rate": (["--g-lr", "-0.001"], "generator learning rate must be positive, got -0.001"),
    "negative D learning rate": (["--d-lr", "-1"], "discriminator learning rate must be positive, got -1.0"),
    "unknown nan policy": (["--nan-policy", "retry"], "nan_policy 'retry': choose one of"),
}


@pytest.mark.backend_independent
@pytest.mark.parametrize("case", sorted(OPTION_CASES))
def test_bad_option_is_one_line(case, small_shards, tmp_path, capsys):
    flags, message = OPTION_CASES[case]
    assert _train(small_shards, tmp_path / "run", *flags) == 2
    one_error_line(capsys.readouterr().err, "cig train: error: ", message)
    assert final_outputs(tmp_path / "run") == []


@pytest.mark.backend_independent
def test_bad_on_error_value_is_refused_by_the_parser(small_shards, tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        _train(small_shards, tmp_path / "run", "--on-error", "ignore")
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "argument --on-error: invalid choice: 'ignore'" in err and "Traceback" not in err


@pytest.mark.backend_independent
def test_crop_larger_than_the_fields_fails_before_training(small_shards, tmp_path, capsys):
    run = tmp_path / "run"
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tiny_values(small_shards, run, data={"crop": 96})))
    assert _train(small_shards, run, "--config", config) == 2
    one_error_line(capsys.readouterr().err, "cig train: error: ", "is 64x64, smaller than the 96x96 crop",
                   "choose crop <= 64")
    assert not run.exists()  # checked before the run folder is made


@pytest.mark.backend_independent
def test_unknown_config_key_and_bad_json(small_shards, tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**tiny_values(small_shards, tmp_path / "run"), "epochz": 3}))
    assert _train(small_shards, tmp_path / "run", "--config", config) == 2
    one_error_line(capsys.readouterr().err, "cig train: error: ", "unknown config option(s) ['epochz']")
    config.write_text("{not json")
    assert _train(small_shards, tmp_path / "run", "--config", config) == 2
    one_error_line(capsys.readouterr().err, "cig train: error: ", str(config), "not a JSON config")


@pytest.mark.backend_independent
@pytest.mark.parametrize("section, name, value, kind", [
    ("generator_args", "in_channels", 2, "condition"),
    ("discriminator_args", "image_channels", 3, "target"),
])
def test_config_channels_that_disagree_with_the_shards(section, name, value, kind, small_shards, tmp_path, capsys):
    run = tmp_path / "run"
    values = tiny_values(small_shards, run)
    values["model"][section][name] = value
    config = tmp_path / "config.json"
    config.write_text(json.dumps(values))
    assert _train(small_shards, run, "--config", config) == 2
    wanted = 3 if kind == "condition" else 1
    one_error_line(capsys.readouterr().err, "cig train: error: ",
                   f"model.{section}.{name} is {value} but the shards in {small_shards} give {wanted} {kind} channel(s)")
    assert final_outputs(run) == []


def test_resume_with_shards_of_another_channel_count(run_copy, binary_shards, capsys):
    """RUN was trained on semantic3 shards (3 condition channels); the binary shards give 2."""
    before = (run_copy / "checkpoint.npz").read_bytes()
    assert main([*TRAIN, "--data", str(binary_shards), "--resume", str(run_copy), "--epochs", "2"]) == 2
    one_error_line(capsys.readouterr().err, "cig train: error: ", f"--resume {run_copy}",
                   "built for 3 condition channel(s)", f"the shards in {binary_shards} give 2 condition")
    assert (run_copy / "checkpoint.npz").read_bytes() == before


@pytest.mark.backend_independent
def test_overrides_merge_deeply_and_a_bang_replaces():
    """Overriding one generator argument keeps the preset's others (it used to drop them);
    a key ending in "!" replaces the dict whole."""
    from cig_k3.config import PRESETS, config_from_preset

    merged = config_from_preset("pix2pix", {"model": {"generator_args": {"depth": 6}}})
    assert merged.model.generator_args == {**PRESETS["pix2pix"]["model"]["generator_args"], "depth": 6}
    extra = config_from_preset("pix2pixhd", {"loss": {"extra": {"vgg_weight": 0.0}}}).loss.extra
    assert extra == {"feature_matching_weight": 10.0, "vgg_weight": 0.0}
    replaced = config_from_preset("pix2pix", {"model": {"generator_args!": {"depth": 6},
                                                        "discriminator_args!": {}}})
    assert replaced.model.generator_args == {"depth": 6} and replaced.model.discriminator_args == {}
    assert replaced.model.discriminator == "patchgan"  # the rest of the section still merges


def test_a_replaced_generator_args_trains_what_it_says(small_shards, tmp_path):
    """The merged config is what is built: a depth given alone over the cig preset keeps
    base_filters 32 unless replaced."""
    from cig_k3.training.run import prepare_run

    kept = prepare_run(tiny_config(small_shards, tmp_path / "kept", model={"generator_args": {"depth": 3}}))
    assert kept.gan.generator.base_filters == 32 and kept.gan.generator.depth == 3
    replaced = tiny_config(small_shards, tmp_path / "replaced", model={"generator_args!": {"depth": 3, "base_filters": 4}})
    assert prepare_run(replaced).gan.generator.base_filters == 4
    assert not (tmp_path / "kept").exists() and not (tmp_path / "replaced").exists()  # prepare_run writes nothing
