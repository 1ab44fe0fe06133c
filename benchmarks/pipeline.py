"""Benchmark of the main job: `edgekit pipeline` with its defaults, the gate's wall clock, then `edgekit benchmark`.

    uv run python benchmarks/pipeline.py                 # runs the default pipeline first (~5 min on an idle machine)
    uv run python benchmarks/pipeline.py --run runs/X    # measures an existing run directory

Latency, throughput and memory come from `edgekit benchmark` (see toolkit/benchmark.py for the method); this
script adds the timings only a checkout cares about: the whole pipeline, and the gate as a user waits for it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import toolkit  # noqa: F401
from toolkit.flow import default_run_dir
from toolkit.run import Run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="measure this run instead of running the pipeline")
    parser.add_argument("--gates", type=int, default=3, help="times the full gate is run (wall clock each)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of `edgekit benchmark`")
    args = parser.parse_args()
    edgekit = [sys.executable, "-m", "toolkit"]

    run_dir = args.run
    if run_dir is None:
        run_dir = default_run_dir()
        start = time.perf_counter()
        status = subprocess.call([*edgekit, "pipeline", "--out", str(run_dir)])
        print(f"edgekit pipeline (defaults), wall clock: {time.perf_counter() - start:.0f} s")
        if status != 0:
            return status
    walls = []
    for _ in range(args.gates):
        start = time.perf_counter()
        status = subprocess.call([*edgekit, "validate", str(run_dir)], stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        if status != 0:
            print(f"gate failed (exit {status})")
            return status
    report = Run.open(run_dir).report()
    print(
        f"gate: PASSED, {len(report['artifacts'])} evaluations on {report['artifacts'][0]['images']} images; "
        f"`edgekit validate` wall clock {', '.join(f'{w:.1f}' for w in walls)} s "
        f"(last: {report['gate_seconds']} s inside the gate)"
    )
    return subprocess.call([*edgekit, "benchmark", str(run_dir), "--rounds", str(args.rounds)])


if __name__ == "__main__":
    sys.exit(main())
