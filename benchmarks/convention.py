"""How long deciding a model's input convention takes (toolkit/modeling/convention.decide), against the gate.

    uv run python benchmarks/convention.py --run runs/X              # five repetitions on the run's float model
    uv run python benchmarks/convention.py --run runs/X --repeats 9

Times `decide` alone, in one process with the model and data already loaded (what `edgekit export --model` adds to an
import), and prints each repetition, the median and the spread, with the CPU's flags and the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from pathlib import Path

import toolkit  # noqa: F401
from toolkit.data.run_data import load_run_data
from toolkit.modeling.convention import decide
from toolkit.modeling.keras_files import load_run_model
from toolkit.run import Run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    run = Run.open(args.run)
    model, data = load_run_model(run, "float"), load_run_data(run)
    flags = subprocess.run(["grep", "-o", "-m1", r"avx512_vnni\|avx2", "/proc/cpuinfo"], capture_output=True, text=True)
    print(f"cpu flags: {flags.stdout.split() or ['none']}; cores: {os.cpu_count()}")
    seconds = []
    for i in range(args.repeats + 1):  # the first call builds Keras' predict function: not counted
        load = os.getloadavg()[0]
        start = time.perf_counter()
        decided = decide(model, data, run.classifier, None)
        took = time.perf_counter() - start
        print(f"{'warm-up' if i == 0 else i}: {took:.2f} s (load {load:.1f}) -> {decided.kind}, {decided.decided}")
        if i:
            seconds.append(took)
    print(f"median {statistics.median(seconds):.2f} s, range {min(seconds):.2f}-{max(seconds):.2f} s")


if __name__ == "__main__":
    main()
