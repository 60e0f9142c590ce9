"""Where a GAN training step's time goes: an op-level profile of `fit` per backend.

Each backend runs in a fresh process: the preset's GAN as `cig train` compiles it, a warm-up
`fit`, then `--steps` steps under the backend's own profiler:
- torch: `torch.profiler` (CPU, and CUDA when present), self time per aten op;
- tensorflow: `tf.profiler` trace, converted by TensorFlow's own op-stats tool, self time per op type;
- jax: `jax.profiler` trace (with XLA:CPU per-thunk trace events); the XSpace protobuf is read
  with the parser TensorFlow ships, self time per HLO instruction kind.
Ops are also summed into classes (convolution, matmul, layout copies, elementwise, norm,
optimizer, other) so backends can be compared. Prints one table per backend and appends them
to RESULTS.md.

    python benchmarks/profile_step.py --backends tensorflow jax torch --preset pix2pix --batch 1
"""

import argparse
import collections
import glob
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

# First matching pattern (on the lower-cased op name or type) gives the class.
CLASSES = [
    ("convolution", r"conv|cudnn|winograd|gemm_conv|im2col|mkldnn_convolution|onednn"),
    ("matmul", r"matmul|dot|gemm|addmm|\bmm\b"),
    ("layout copies", r"transpose|permute|copy|contiguous|clone|reshape|concat|cat\b|slice|pad|broadcast|_to_copy"),
    ("normalization", r"batch_norm|batchnorm|fusedbatchnorm|instance|moments|mean|var\b|reduce|sum"),
    ("optimizer", r"adam|applyadam|_foreach|assign|resourceapply|lerp|sqrt|addcdiv"),
    ("elementwise", r"relu|leaky|tanh|sigmoid|mul|add|sub|div|abs|exp|log|where|select|max|min|fusion|neg|pow|"
                    r"square|cast|convert|compare|greater|less|fill|zeros|ones|dropout|random|rng|bernoulli"),
]


def op_class(name):
    lowered = name.lower()
    for label, pattern in CLASSES:
        if re.search(pattern, lowered):
            return label
    return "other"


def _torch_profile(gan, batches, steps):
    import torch

    activities = [torch.profiler.ProfilerActivity.CPU]
    if torch.cuda.is_available():
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as profile:
        gan.fit(batches(), steps_per_epoch=steps, epochs=1, verbose=0)
    device = torch.cuda.is_available()
    times = collections.Counter()
    for event in profile.key_averages():
        self_time = event.self_device_time_total if device else event.self_cpu_time_total
        if self_time > 0:
            times[event.key] += self_time
    return times, "self CUDA time" if device else "self CPU time"


def _tensorflow_profile(gan, batches, steps, logdir):
    import tensorflow as tf
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin

    tf.profiler.experimental.start(logdir)
    gan.fit(batches(), steps_per_epoch=steps, epochs=1, verbose=0)
    tf.profiler.experimental.stop()
    files = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)
    data = json.loads(_pywrap_profiler_plugin.xspace_to_tools_data(files, "framework_op_stats", {})[0])
    table = data[0] if isinstance(data, list) else data
    columns = [column["id"] for column in table["cols"]]
    times = collections.Counter()
    for row in table["rows"]:
        values = dict(zip(columns, [cell.get("v") if cell else None for cell in row["c"]]))
        if values["type"] not in ("IDLE", None):
            times[values["type"]] += values["total_self_time"] or 0.0
    return times, "self time per TF op type"


def _jax_profile(gan, batches, steps, logdir):
    import jax

    try:
        from tsl.profiler.protobuf import xplane_pb2
    except ImportError:
        from tensorflow.tsl.profiler.protobuf import xplane_pb2

    jax.profiler.start_trace(logdir)
    gan.fit(batches(), steps_per_epoch=steps, epochs=1, verbose=0)
    jax.profiler.stop_trace()
    times = collections.Counter()
    for path in glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True):
        space = xplane_pb2.XSpace()
        space.ParseFromString(Path(path).read_bytes())
        for plane in space.planes:
            names = {key: meta.name for key, meta in plane.event_metadata.items()}
            for line in plane.lines:
                if line.name == "python" or line.name.startswith("tf_XLAPjRt"):
                    continue  # Python frames and the client's waits overlap the kernels
                for event in line.events:
                    name = names.get(event.metadata_id, "?")
                    if name.startswith(("ThunkExecutor", "$")):
                        continue
                    times[re.sub(r"\.\d+$", "", name)] += event.duration_ps / 1e6  # microseconds
    return times, "per HLO instruction kind (XLA thunk events)"


def worker(backend, preset, batch, precision, jit, steps, crop):
    from train_step import compiled_gan

    gan, batches, flops = compiled_gan(preset, batch, precision, jit, crop)
    gan.fit(batches(), steps_per_epoch=2, epochs=1, verbose=0)  # compile + warm-up
    start = time.perf_counter()
    gan.fit(batches(), steps_per_epoch=steps, epochs=1, verbose=0)
    step_seconds = (time.perf_counter() - start) / steps
    with tempfile.TemporaryDirectory() as logdir:
        if backend == "torch":
            times, what = _torch_profile(gan, batches, steps)
        elif backend == "tensorflow":
            times, what = _tensorflow_profile(gan, batches, steps, logdir)
        else:
            times, what = _jax_profile(gan, batches, steps, logdir)
    total = sum(times.values()) or 1.0
    classes = collections.Counter()
    for name, value in times.items():
        classes[op_class(name)] += value
    return {
        "step_ms": step_seconds * 1e3, "images_per_second": batch / step_seconds, "what": what,
        "profiled_ms_per_step": total / 1e3 / steps,
        "classes": {k: v / total for k, v in classes.most_common()},
        "top": [(name, value / total, op_class(name)) for name, value in times.most_common(15)],
        "gflop_per_image": flops / 1e9,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax", "torch"])
    parser.add_argument("--preset", default="pix2pix")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--jit", default="auto")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args, rest = parser.parse_known_args()
    if args.worker:
        backend, preset, batch, precision, jit, steps, crop = rest
        print(json.dumps(worker(backend, preset, int(batch), precision, jit, int(steps), int(crop))))
        return
    sections = []
    for backend in args.backends:
        env = {"KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        if backend == "jax":
            env["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_xprof_traceme=true").strip()
        result = _common.run_worker(__file__, [backend, args.preset, args.batch, args.precision, args.jit,
                                               args.steps, args.crop], env=env)
        if "error" in result:
            sections.append(f"**{backend}**: error {result['error']}")
            print(sections[-1], flush=True)
            continue
        classes = " · ".join(f"{k} {v:.0%}" for k, v in result["classes"].items())
        rows = [{"op": name, "share": share, "class": label} for name, share, label in result["top"]]
        sections.append(
            f"**{backend}** ({args.preset}, {args.precision}, jit {args.jit}, batch {args.batch}): "
            f"{result['step_ms']:.0f} ms/step, {result['images_per_second']:.2f} img/s; profile "
            f"{result['what']}, {result['profiled_ms_per_step']:.0f} ms/step profiled (all threads).\n"
            f"Classes: {classes}\n\n" + _common.table(rows, ["op", "share", "class"])
        )
        print(sections[-1] + "\n", flush=True)
    if not args.no_record:
        _common.append_results(f"Step profile, {args.preset} at {args.crop}x{args.crop}", "\n\n".join(sections),
                               "python " + " ".join(["benchmarks/profile_step.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
