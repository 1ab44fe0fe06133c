"""`edgekit benchmark`: latency, throughput and memory of a run's artifacts in every runtime available here."""

from __future__ import annotations

from typing import Annotated

import typer

from toolkit.cli.app import command
from toolkit.cli.console import echo_progress
from toolkit.cli.options import RunDir


@command
def benchmark(
    run_dir: RunDir,
    runs: Annotated[
        int, typer.Option("--runs", metavar="N", help="Timed single-image inferences per measurement.")
    ] = 1000,
    warmup: Annotated[int, typer.Option("--warmup", metavar="N", help="Untimed inferences before them.")] = 100,
    rounds: Annotated[int, typer.Option("--rounds", metavar="N", help="Interleaved rounds over all settings.")] = 3,
    batch: Annotated[
        int, typer.Option("--batch", metavar="N", help="Images per batch for the throughput figure.")
    ] = 100,
    runtime: Annotated[
        list[str] | None,
        typer.Option(
            "--runtime",
            "-r",
            metavar="NAME",
            help=(
                "Only this runtime: litert, tfjs-node-wasm, or a browser target as the gate names it "
                "(tfjs-chromium-wasm, -webgl, -webgl-f16, -webgpu; tfjs-firefox-wasm, -webgl; tfjs-webkit-wasm, "
                "-webgl), or litertjs-chromium-wasm (the pixels .tflite files in LiteRT.js); repeatable. Default: "
                "litert, tfjs-node-wasm, tfjs-chromium-wasm."
            ),
        ),
    ] = None,
) -> None:
    """Measure latency, throughput and memory of every artifact.

    LiteRT with 1 and 2 threads, with and without XNNPACK; TF.js in Node and Chromium, and on request on every
    browser target of the gate (load, first prediction, p50/p99, page weight). Prints a table, writes
    RUN_DIR/benchmark.json and redraws report.html.
    """
    from toolkit.bench.benchmark import benchmark as run_benchmark
    from toolkit.bench.benchmark import render_table
    from toolkit.report.html import rewrite_html
    from toolkit.run import Run

    result = run_benchmark(run_dir, runs, warmup, rounds, batch, runtime or None, progress=echo_progress)
    typer.echo(render_table(result))
    if Run.open(run_dir).report() is not None:
        typer.echo(f"report: {rewrite_html(run_dir)}")
