"""Plain Keras loading: after `import cig_k3`, `keras.saving.load_model(path)` opens CIG
generator and GAN files without `custom_objects`, safe_mode on, in a fresh process;
`import cig_k3` alone does not import Keras; a file naming other code is still refused."""

import json
import os
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest

from cig_k3._keras_registration import REGISTERING_MODULES
from cig_k3.export import load_generator
from cig_k3.models import CUSTOM_OBJECTS, UNetGenerator
from cig_k3.training.gan import Networks
from cig_k3.training.gans import GAN_CUSTOM_OBJECTS, Pix2PixGAN

# A new process, as a user starts one: a CIG import first (IMPORT_CIG), then Keras.
PLAIN_LOAD = """
import sys
import numpy as np
IMPORT_CIG
print("keras imported by cig_k3:", "keras" in sys.modules)
import keras
generator = keras.saving.load_model(sys.argv[1])
gan = keras.saving.load_model(sys.argv[2], compile=False)
np.save(sys.argv[4], keras.ops.convert_to_numpy(generator(np.load(sys.argv[3]), training=False)))
print(type(generator).__name__, type(gan).__name__, type(gan.discriminator).__name__)
"""


def tiny_gan():
    networks = Networks("unet", {"base_filters": 2, "depth": 2, "dropout_layers": 0}, "patchgan",
                        {"base_filters": 2, "num_downsamples": 1, "padding": "same"}, condition_channels=3,
                        target_channels=1, image_size=16)
    return Pix2PixGAN.build(networks, adversarial="bce", l1_weight=3.0)


def test_every_cig_class_is_registered_with_keras():
    classes = {*CUSTOM_OBJECTS.values(), *GAN_CUSTOM_OBJECTS.values()}
    for cls in classes:
        assert keras.saving.get_registered_name(cls) == f"cig_k3>{cls.__name__}", cls
        assert keras.saving.get_registered_object(f"cig_k3>{cls.__name__}") is cls
    assert len(REGISTERING_MODULES) == len(set(REGISTERING_MODULES))


# `import cig_k3` leaves Keras alone; a CIG module that imports Keras itself (here before any
# other) must not make the registration meet a half-imported CIG package.
@pytest.mark.parametrize("import_cig", ["import cig_k3", "from cig_k3.layers import MCDropout"])
def test_files_load_the_keras_way_in_a_fresh_process(tmp_path, import_cig):
    generator = UNetGenerator(in_channels=3, out_channels=1, base_filters=4, depth=2, seed=3)
    condition = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)
    expected = keras.ops.convert_to_numpy(generator(condition, training=False))
    generator.save(tmp_path / "generator.keras")
    tiny_gan().save(tmp_path / "gan.keras")
    np.save(tmp_path / "condition.npy", condition)

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    script = PLAIN_LOAD.replace("IMPORT_CIG", import_cig)
    result = subprocess.run([sys.executable, "-c", script, tmp_path / "generator.keras", tmp_path / "gan.keras",
                             tmp_path / "condition.npy", tmp_path / "out.npy"],
                            env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert f"keras imported by cig_k3: {import_cig != 'import cig_k3'}" in lines
    assert lines[-1] == "UNetGenerator Pix2PixGAN PatchGANDiscriminator"
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-5)


def _rewrite_config(source, target, change):
    """Copy a .keras archive with its config.json passed through `change`."""
    with zipfile.ZipFile(source) as archive_in, zipfile.ZipFile(target, "w") as archive_out:
        for item in archive_in.infolist():
            data = archive_in.read(item.filename)
            if item.filename == "config.json":
                data = json.dumps(change(json.loads(data))).encode()
            archive_out.writestr(item, data)


def test_a_file_naming_other_code_is_still_refused(tmp_path):
    generator = UNetGenerator(in_channels=3, out_channels=1, base_filters=4, depth=2)
    generator(np.zeros((1, 16, 16, 3), np.float32))
    generator.save(tmp_path / "generator.keras")

    def other_module(config):
        return {**config, "module": "os", "class_name": "system", "registered_name": "system"}

    _rewrite_config(tmp_path / "generator.keras", tmp_path / "evil.keras", other_module)
    with pytest.raises(TypeError, match="system"):
        keras.saving.load_model(tmp_path / "evil.keras")
    with pytest.raises(ValueError, match=r"evil.keras refers to os.system, which is neither Keras nor CIG"):
        load_generator(tmp_path / "evil.keras")
    # The registered CIG classes load through the project's loader as before.
    assert isinstance(load_generator(tmp_path / "generator.keras"), UNetGenerator)
