"""Make CIG's classes known to Keras as soon as Keras is imported, without importing it.

Every CIG layer, model and GAN carries `@keras.saving.register_keras_serializable(
package="cig_k3")`; the registration happens when its module is imported. Importing those
modules imports Keras and its backend (seconds), which `import cig_k3` must not do: the CLI
picks when Keras loads, and `cig prepare` never loads it. So `register_when_keras_loads()`
imports them now if Keras is loaded already, and otherwise puts a finder on `sys.meta_path`
that lets imports run as usual and imports them, once, after the first import that leaves
Keras loaded and no CIG module half-imported.

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

# "cig_k3", not spelled out: a literal here would read as an import of the package itself
# (tests/test_import_graph.py counts every module name this file spells as a possible import).
PACKAGE = __name__.partition(".")[0]

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


def _importing(name):
    """True while module `name` runs its import (it is in sys.modules but not finished)."""
    module = sys.modules.get(name)
    return module is not None and bool(getattr(getattr(module, "__spec__", None), "_initializing", False))


def _ready(finished):
    """Keras is loaded and no CIG module is half-imported (`finished` has just run its body):
    importing the registering modules now cannot meet a partially initialised one."""
    if "keras" not in sys.modules or (finished != "keras" and _importing("keras")):
        return False
    return not any(_importing(name) for name in list(sys.modules)
                   if name != finished and (name == PACKAGE or name.startswith(PACKAGE + ".")))


class _RegisteringLoader(importlib.abc.Loader):
    """A module's own loader, then `register()` as soon as that is safe."""

    def __init__(self, loader, finder):
        self.loader = loader
        self.finder = finder

    def __getattr__(self, name):
        # Everything else (get_code for `python -m`, resource readers, ...) is the real loader's.
        if name == "loader":  # not set yet (a copy being built): no recursion
            raise AttributeError(name)
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        # Hand the module its real loader first: resource readers and reloads use that.
        module.__spec__.loader = module.__loader__ = self.loader
        self.loader.exec_module(module)
        if self.finder in sys.meta_path and _ready(module.__name__):
            _remove(self.finder)
            register()


class _AfterKerasImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: for Keras and for CIG's own modules it asks the other finders
    and wraps the loader, so that `register()` runs after the first import that leaves Keras
    loaded and no CIG module half-imported. A CIG module that imports Keras first (`from
    cig_k3.models import UNetGenerator` before `import keras`) thus registers everything once
    its own import is done, not in the middle of it."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" and not fullname.startswith(PACKAGE + "."):
            return None
        # Off the path while searching, so that the search does not come back here.
        index = sys.meta_path.index(self)
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(index, self)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _RegisteringLoader(spec.loader, self)
        return spec


def _remove(finder):
    if finder in sys.meta_path:
        sys.meta_path.remove(finder)


def register_when_keras_loads():
    """Register CIG's classes now if Keras is loaded, else as soon as it is."""
    if "keras" in sys.modules and not _importing("keras"):
        register()
        return
    if not any(isinstance(finder, _AfterKerasImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterKerasImport())
