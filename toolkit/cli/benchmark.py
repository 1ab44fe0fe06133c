"""`edgekit benchmark`: latency, throughput and memory of a run's artifacts in every runtime available here."""

from __future__ import annotations

from typing import Annotated

import typer

from toolkit.cli.app import command
from toolkit.cli.options import RunDir


@command
def benchmark(
    run_dir: RunDir,
    runs: Annotated[int, typer.Option("--runs", help="Timed single-image inferences per measurement.")] = 1000,
    warmup: Annotated[int, typer.Option("--warmup", help="Untimed inferences before them.")] = 100,
    rounds: Annotated[int, typer.Option("--rounds", help="Interleaved rounds over all settings.")] = 3,
    batch: Annotated[int, typer.Option("--batch", help="Images per batch for the throughput figure.")] = 100,
    runtime: Annotated[
        list[str] | None,
        typer.Option(
            "--runtime", "-r", help="Only these: litert, tfjs-node-wasm, tfjs-browser-wasm, tfjs-browser-webgl."
        ),
    ] = None,
) -> None:
    """Measure every artifact (LiteRT 1/2 threads with and without XNNPACK, TF.js in Node and Chromium), print a
    table, write RUN/benchmark.json and redraw report.html."""
    from toolkit.bench.benchmark import benchmark as run_benchmark
    from toolkit.bench.benchmark import render_table
    from toolkit.report.html import rewrite_html
    from toolkit.run import Run

    result = run_benchmark(run_dir, runs, warmup, rounds, batch, runtime or None, progress=typer.echo)
    typer.echo(render_table(result))
    if Run.open(run_dir).report() is not None:
        typer.echo(f"report: {rewrite_html(run_dir)}")
