"""Make CIG's classes known to Keras as soon as Keras is imported, without importing it.

Every CIG layer, model and GAN carries `@keras.saving.register_keras_serializable(
package="cig_k3")`; the registration happens when its module is imported. Importing those
modules imports Keras and its backend (seconds), which `import cig_k3` must not do: the CLI
picks when Keras loads, and `cig prepare` never loads it. So `register_when_keras_loads()`
imports them now if Keras is loaded already, and otherwise puts a finder on `sys.meta_path`
that lets the first `import keras` run as usual and then imports them, once.

Example:
    >>> import cig_k3  # cheap: Keras is not imported
    >>> import keras  # CIG's classes are registered as this import finishes
    >>> keras.saving.get_registered_object("cig_k3>UNetGenerator").__name__
    'UNetGenerator'
"""

import importlib
import importlib.abc
import importlib.util
import sys

# The modules whose import registers every class a CIG .keras file may name.
REGISTERING_MODULES = (
    "cig_k3.models",
    "cig_k3.layers.image_pool",
    "cig_k3.losses.adversarial",
    "cig_k3.losses.perceptual",
    "cig_k3.training.gans",
)


def register():
    """Import every module in REGISTERING_MODULES (each import registers its classes)."""
    for name in REGISTERING_MODULES:
        importlib.import_module(name)


class _RegisteringLoader(importlib.abc.Loader):
    """Keras' own loader, followed by `register()` once Keras' package has run."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # Hand the module its real loader first: resource readers and reloads use that.
        module.__spec__.loader = module.__loader__ = self.loader
        self.loader.exec_module(module)
        register()


class _AfterKerasImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: for `keras` it asks the other finders and wraps the loader."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras":
            return None
        # Off the path before searching, so that the search does not come back here, and
        # so that this runs for the first import of Keras only.
        _remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _RegisteringLoader(spec.loader)
        return spec


def _remove(finder):
    if finder in sys.meta_path:
        sys.meta_path.remove(finder)


def register_when_keras_loads():
    """Register CIG's classes now if Keras is imported, else right after it is."""
    keras = sys.modules.get("keras")
    if keras is not None and not getattr(getattr(keras, "__spec__", None), "_initializing", False):
        register()
        return
    if not any(isinstance(finder, _AfterKerasImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterKerasImport())
