"""Export (.keras, SavedModel, ONNX), tiled inference, generation and mask sampling.

Public API:
    load_generator(path)                       a generator .keras file or run folder -> model
    export_model(model_path, fmt, out)         -> ExportResult(path, format, route, max_abs_diff)
    predict_tiled(fn, image, tile, overlap, multiple)   blended tiled inference
"""

from cig_k3.export.formats import FORMATS, ExportResult, export_model, export_route, run_onnx, run_savedmodel
from cig_k3.export.loading import cig_version, load_generator, load_run_manifest, run_id_of
from cig_k3.export.tiling import predict_tiled

__all__ = [
    "FORMATS", "ExportResult", "export_model", "export_route", "run_onnx", "run_savedmodel",
    "cig_version", "load_generator", "load_run_manifest", "run_id_of", "predict_tiled",
]
