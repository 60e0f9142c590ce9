"""The tiny run folder of the export tests (a U-Net generator and a manifest), shared."""

from tests.cig_k3.export.conftest import run_dir, tiny_generator  # noqa: F401 - fixtures and helpers
