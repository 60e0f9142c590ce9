"""Export (.keras, SavedModel, ONNX) and loading of trained generators.

Public API:
    load_generator(path)                       a generator .keras file or run folder -> model
    export_model(model_path, fmt, out)         -> ExportResult(path, format, route, max_abs_diff)

Generation, tiled inference and mask sampling are `cig_k3.inference`'s.
"""

from cig_k3.export.formats import FORMATS, ExportResult, export_model, export_route, run_onnx, run_savedmodel
from cig_k3.export.loading import cig_version, load_generator, load_run_manifest, run_id_of

__all__ = [
    "FORMATS", "ExportResult", "export_model", "export_route", "run_onnx", "run_savedmodel",
    "cig_version", "load_generator", "load_run_manifest", "run_id_of",
]
