"""One LiteRT benchmark in a process of its own, so that its peak memory is the interpreter's: JSON in argv, JSON out.

python -m toolkit.bench.worker '{"model": "m.tflite", "threads": 1, "xnnpack": true, "runs": 1000, ...}'
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the process's own address space; getrusage's maxrss
    would also carry the parent's peak across fork and exec on Linux."""
    try:
        for line in open("/proc/self/status").read().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(nanoseconds: list[int]) -> dict[str, float]:
    """p50, p90 and p99 in microseconds."""
    p50, p90, p99 = np.percentile(np.asarray(nanoseconds, dtype=np.float64) / 1000, [50, 90, 99])
    return {"p50_us": float(p50), "p90_us": float(p90), "p99_us": float(p99)}


def measure(job: dict) -> dict:
    """Load time, first inference, warm single-image latency over `runs` invokes, batched throughput, peak RSS."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    rss_before = peak_rss_mb()
    resolver = OpResolverType.AUTO if job["xnnpack"] else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    start = time.perf_counter_ns()
    interpreter = Interpreter(
        model_path=job["model"], num_threads=job["threads"], experimental_op_resolver_type=resolver
    )
    interpreter.allocate_tensors()
    load_ns = time.perf_counter_ns() - start
    detail = interpreter.get_input_details()[0]
    index, shape = detail["index"], list(detail["shape"][1:])
    image = np.load(job["image"], allow_pickle=False).astype(detail["dtype"]).reshape([1, *shape])
    interpreter.set_tensor(index, image)
    start = time.perf_counter_ns()
    interpreter.invoke()
    first_ns = time.perf_counter_ns() - start
    for _ in range(job["warmup"]):
        interpreter.invoke()
    times = []
    for _ in range(job["runs"]):
        start = time.perf_counter_ns()
        interpreter.invoke()
        times.append(time.perf_counter_ns() - start)
    # A fixed-batch file (a pixels artifact) is measured at its own batch: a Reshape in it may hold that batch.
    batch = job["batch"] if detail["shape_signature"][0] == -1 else int(detail["shape"][0])
    interpreter.resize_tensor_input(index, [batch, *shape], strict=True)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, np.repeat(image, batch, axis=0))
    interpreter.invoke()  # warm-up at the new size
    start = time.perf_counter_ns()
    repeats = job["batch_repeats"]
    for _ in range(repeats):
        interpreter.invoke()
    batch_seconds = (time.perf_counter_ns() - start) / 1e9
    return {
        "load_ms": load_ns / 1e6,
        "first_ms": first_ns / 1e6,
        **percentiles(times),
        "throughput_ips": batch * repeats / batch_seconds,
        "peak_rss_mb": peak_rss_mb(),
        "baseline_rss_mb": rss_before,  # the interpreter process before the model: Python and LiteRT
        "ops": [op["op_name"] for op in interpreter._get_ops_details()],  # the execution plan, DELEGATE included
    }


if __name__ == "__main__":
    print(json.dumps(measure(json.loads(sys.argv[1]))))
