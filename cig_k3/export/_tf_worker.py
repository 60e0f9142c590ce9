"""TensorFlow-side export, run as a subprocess with KERAS_BACKEND=tensorflow.

`python -m cig_k3.export._tf_worker export FORMAT MODEL.keras OUT IN.npy OUT.npy`
    loads the backend-independent `.keras` file, exports it as "savedmodel" or "onnx" to OUT,
    and writes the export's output on IN.npy (SavedModel) or Keras' (ONNX) to OUT.npy.
`python -m cig_k3.export._tf_worker run-savedmodel DIR IN.npy OUT.npy`
    runs a SavedModel's `serve` endpoint.
"""

import sys

import numpy as np


def main(argv):
    import keras

    if keras.backend.backend() != "tensorflow":
        raise SystemExit("the export worker must run with KERAS_BACKEND=tensorflow")
    from cig_k3.export import formats
    from cig_k3.export.loading import exportable_generator, load_generator

    if argv[0] == "run-savedmodel":
        _, path, inputs, outputs = argv
        np.save(outputs, formats.run_savedmodel(path, np.load(inputs, allow_pickle=False)))
        return 0
    _, fmt, model_path, out, inputs, outputs = argv
    model = exportable_generator(load_generator(model_path))
    condition = np.load(inputs, allow_pickle=False)
    if fmt == "savedmodel":
        model.export(out, format="tf_saved_model", verbose=False)
        result = formats.run_savedmodel(out, condition)
    elif fmt == "onnx":
        formats._tensorflow_onnx(model, out)
        result = keras.ops.convert_to_numpy(model(condition, training=False))
    else:
        raise SystemExit(f"unknown format {fmt!r}")
    np.save(outputs, result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
