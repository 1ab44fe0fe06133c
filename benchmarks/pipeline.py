"""Benchmark of the main job: `edgekit pipeline` with its defaults, the gate's wall clock, then `edgekit benchmark`.

    uv run python benchmarks/pipeline.py                 # runs the default pipeline first (~5 min on an idle machine)
    uv run python benchmarks/pipeline.py --run runs/X    # measures an existing run directory
    uv run python benchmarks/pipeline.py --run runs/X --gates 5 --rounds 0   # the gate only, five times

The gate is timed as a user waits for it: `edgekit validate RUN` from start to exit (Python start, data, every
evaluation, report.html), repeated, with the 1-minute load average before each repetition, and inside
`edgekit pipeline` from its `parity gate:` line to the end. Each `edgekit validate` also reports the CPU time the
whole machine spent meanwhile (Linux's /proc/stat, so Node's and Chromium's processes count; run it alone):
divided by the cores, the shortest wall clock that work allows. Latency, throughput and memory come from
`edgekit benchmark` (see toolkit/benchmark.py for the method).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import toolkit  # noqa: F401
from toolkit.flow.train import default_run_dir
from toolkit.run import Run


def spread(values: list[float]) -> str:
    """Median and range of repeated measurements in seconds."""
    return f"median {statistics.median(values):.1f} s (min {min(values):.1f}, max {max(values):.1f}, n={len(values)})"


def machine_cpu_seconds() -> float | None:
    """CPU time every process on the machine has used since boot (user, nice, system, irq, softirq); None off Linux."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(value) for value in fields)
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def timed_pipeline(edgekit: list[str], run_dir: Path) -> tuple[int, float, float | None]:
    """Run `edgekit pipeline`, echoing its output; returns (exit status, wall clock, gate step's wall clock)."""
    start = time.perf_counter()
    gate_start = None
    with subprocess.Popen(
        [*edgekit, "pipeline", "--out", str(run_dir)], stdout=subprocess.PIPE, text=True, bufsize=1
    ) as process:
        for line in process.stdout:
            if gate_start is None and line.startswith("parity gate:"):
                gate_start = time.perf_counter()
            print(line, end="", flush=True)
    end = time.perf_counter()
    return process.returncode, end - start, None if gate_start is None else end - gate_start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="measure this run instead of running the pipeline")
    parser.add_argument("--pipelines", type=int, default=1, help="times the pipeline is run (without --run)")
    parser.add_argument("--gates", type=int, default=3, help="times `edgekit validate` is run (wall clock each)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of `edgekit benchmark` (0: no benchmark)")
    args = parser.parse_args()
    edgekit = [sys.executable, "-m", "toolkit"]

    run_dir = args.run
    if run_dir is None:
        in_pipeline = []
        for _ in range(args.pipelines):
            run_dir = default_run_dir()
            load = os.getloadavg()[0]
            status, wall, gate = timed_pipeline(edgekit, run_dir)
            steps = {k: v.get("seconds") for k, v in Run.open(run_dir).manifest["steps"].items()}
            print(
                f"edgekit pipeline (defaults), wall clock: {wall:.0f} s (load average before: {load:.2f}); "
                f"steps: {steps}"
            )
            if status != 0:
                return status
            in_pipeline.append(gate)
            print(f"gate step inside the pipeline, `parity gate:` line to exit: {gate:.1f} s")
            time.sleep(1)  # each run directory is named after the second it starts
        print(f"gate step inside `edgekit pipeline`: {spread(in_pipeline)}")
    walls, loads, cpus = [], [], []
    for _ in range(args.gates):
        loads.append(os.getloadavg()[0])
        cpu_start, start = machine_cpu_seconds(), time.perf_counter()
        status = subprocess.call([*edgekit, "validate", str(run_dir)], stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
        cpu = None if cpu_start is None else machine_cpu_seconds() - cpu_start
        report = Run.open(run_dir).report()
        work = ""
        if cpu is not None:
            cpus.append(cpu)
            work = f", {cpu:.1f} s of CPU on the machine ({cpu / os.cpu_count():.1f} s per core)"
        print(
            f"`edgekit validate`: {walls[-1]:.1f} s wall clock ({report['gate_seconds']} s inside the gate){work}, "
            f"load average before {loads[-1]:.2f}"
        )
        if status != 0:
            print(f"gate failed (exit {status})")
            return status
    if walls:
        report = Run.open(run_dir).report()
        kept = sum(1 for e in report["artifacts"] if e.get("kept_from"))
        print(
            f"gate: PASSED, {len(report['artifacts'])} evaluations on {report['artifacts'][0]['images']} images "
            f"({kept} of them outputs kept from the previous gate); `edgekit validate` wall clock {spread(walls)}; "
            f"load average before each {min(loads):.2f}-{max(loads):.2f} on {os.cpu_count()} cores"
        )
        if cpus:
            print(f"CPU on the machine per gate: {spread(cpus)} of CPU time")
    if args.rounds <= 0:
        return 0
    return subprocess.call([*edgekit, "benchmark", str(run_dir), "--rounds", str(args.rounds)])


if __name__ == "__main__":
    sys.exit(main())
