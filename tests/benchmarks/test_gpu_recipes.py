"""Every GPU recipe names a preset and settings that `cig train` accepts."""


import pytest

from tests.benchmarks import load_script

from cig_k3.config import config_from_preset



def load_recipes():
    return load_script("gpu_recipes")


@pytest.mark.backend_independent
def test_every_recipe_is_a_valid_bf16_config():
    recipes = load_recipes()
    assert {"realistic", "pix2pixhd", "regression"} <= set(recipes.RECIPES)
    for preset, (kind, crop, batch_size, epochs, steps) in recipes.RECIPES.items():
        config = config_from_preset(preset, {"data": {"crop": crop, "batch_size": batch_size}, "epochs": epochs,
                                             "steps_per_epoch": steps, "precision": "mixed_bfloat16"})
        assert (config.data.crop, config.data.batch_size) == (crop, batch_size), preset
        train, evaluate = recipes.command(preset)
        assert train[train.index("--preset") + 1] == preset and "mixed_bfloat16" in train
        assert evaluate[evaluate.index("--model") + 1] == train[train.index("--out") + 1]
