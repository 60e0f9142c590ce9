"""Loading a trained generator and what its run left beside it (manifest, run id)."""

import json
import os
import zipfile
from importlib import metadata
from pathlib import Path

GENERATOR_FILE = "generator.keras"


def cig_version():
    """The installed CIG version, or "unknown" when running from an uninstalled tree."""
    try:
        return metadata.version("cig")
    except metadata.PackageNotFoundError:
        return "unknown"


def resolve_model_path(path):
    """A `.keras` file, or a run folder holding `generator.keras`."""
    path = Path(path)
    if path.is_dir():
        path = path / GENERATOR_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: give a generator .keras file or a run folder holding one.")
    return path


def load_generator(path):
    """Load a generator saved by `cig train` (a `.keras` file or its run folder).

    Uses `keras.saving.load_model` with CIG's custom objects and `safe_mode=True`.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: one line naming the file when it is truncated or not a Keras model.
    """
    import keras

    from cig_k3.models import CUSTOM_OBJECTS

    path = resolve_model_path(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a Keras model file (not a .keras zip archive: truncated or corrupt?).")
    check_model_config(path)
    try:
        return keras.saving.load_model(path, custom_objects=CUSTOM_OBJECTS, safe_mode=True, compile=False)
    except (zipfile.BadZipFile, EOFError, KeyError, OSError, ValueError, TypeError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if len(message) > MAX_MESSAGE:  # Keras may quote a whole model config
            message = message[:MAX_MESSAGE] + "..."
        raise ValueError(f"{path} could not be loaded as a CIG model (truncated or corrupt?): {message}") from error


# Modules a CIG model file may name; anything else (os, builtins, subprocess, ...) is code
# that loading the file would import and could run.
SAFE_MODULES = ("keras", "cig_k3")
MAX_MESSAGE = 300


def _references(node):
    """Every {"module": ..., "class_name": ...} object in a Keras config, depth first."""
    if isinstance(node, dict):
        if "class_name" in node:
            yield node
        for value in node.values():
            yield from _references(value)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value)


def check_model_config(path):
    """Read config.json of a `.keras` file (never executing anything) and refuse what a CIG
    generator file never holds: references to other modules' functions or classes, Lambda
    layers, or a model that is not a generator (a discriminator, a whole GAN).

    Keras' safe_mode refuses much of this too; checking first gives a message that says
    what was found, and does not rely on one Keras version's rules.
    """
    from cig_k3.models import EXPORTED_GENERATORS, GENERATORS

    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, ValueError) as error:
        raise ValueError(f"{path} has no readable config.json (truncated or corrupt?): {error}") from None
    for reference in _references(config):
        module, class_name = reference.get("module") or "", reference.get("class_name")
        # A function is stored as {"class_name": "function", "config": its name}.
        name = reference.get("config") if class_name == "function" else class_name
        if module and module.split(".")[0] not in SAFE_MODULES:
            raise ValueError(f"{path} refers to {module}.{name}, which is neither Keras nor CIG code: refused "
                             "(model files are untrusted and never import other code).")
        if class_name in ("Lambda", "TFOpLambda"):
            raise ValueError(f"{path} holds a Lambda layer (Python code): refused (model files are untrusted).")
    top = config.get("class_name") if isinstance(config, dict) else None
    generators = sorted({cls.__name__ for cls in (*GENERATORS.values(), *EXPORTED_GENERATORS)})
    if top not in generators:
        raise ValueError(f"{path} holds a {top} ({config.get('module') if isinstance(config, dict) else '?'}), "
                         f"not a CIG generator ({', '.join(generators)}): give a run's generator.keras.")


def size_multiple(model):
    """Height and width of the model's inputs must be multiples of this."""
    return int(getattr(model, "size_multiple", 1) or 1)


def load_run_manifest(model_path, manifest_path=None):
    """The data manifest of the run that trained `model_path` (RUN_DIR/manifest.json).

    Raises FileNotFoundError naming the file and how to point at another one.
    """
    model_path = resolve_model_path(model_path)
    path = Path(manifest_path) if manifest_path else model_path.parent / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: the intensity scale of the training data is unknown; "
                                "pass --manifest with the data's manifest.json.")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except ValueError as error:
        raise ValueError(f"{path} is not valid JSON: {error}") from error


def run_id_of(model_path):
    """The MLflow run id recorded beside the model (RUN_DIR/run_id.txt), or None."""
    run_file = resolve_model_path(model_path).parent / "run_id.txt"
    try:
        text = run_file.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def atomic_target(out):
    """A temporary name beside `out` (same folder, so that `os.replace` is atomic).

    The suffix is kept (`model.keras` -> `.model.partial-123.keras`): Keras insists on it.
    """
    out = Path(out)
    return out.with_name(f".{out.stem}.partial-{os.getpid()}{out.suffix}")


def exportable_generator(model, seed=0):
    """`model`, or for a generator that takes an instance map and per-instance features
    (`instance_unet`) its one-input graph (`InstanceFieldGenerator`): the label's channels then
    one channel of instance ids in, each id's feature drawn as `cig generate --seed seed` draws
    it. The exports and `cig main` export this."""
    from cig_k3.models.instance_encoder import takes_instances
    from cig_k3.models.instance_field import InstanceFieldGenerator

    return InstanceFieldGenerator.from_instance_generator(model, seed=seed) if takes_instances(model) else model


def refuse_instance_generator(model, model_path, what):
    """One line for a generator that takes an instance map and per-instance features drawn
    from its clusters (`instance_unet`) where one encoded label image is all that is fed (a
    bioimage.io package), before anything is written."""
    from cig_k3.models.instance_encoder import takes_instances

    if takes_instances(model):
        raise ValueError(f"{model_path}: {what} feeds a generator one label image, but this instance_unet generator "
                         "also takes an instance map; export it as keras, savedmodel or onnx (label and instance ids "
                         "in), or draw it with `cig generate`")
