"""`edgekit report`: redraw a run's report.html from its report.json, predictions.npz and benchmark.json."""

from __future__ import annotations

from toolkit.cli.app import command
from toolkit.cli.options import RunDir


@command
def report(run_dir: RunDir) -> None:
    """Redraw a run's report.html from what the gate kept.

    Nothing is evaluated again: the gate kept what the page needs (report.json, predictions.npz, benchmark.json).
    """
    import typer

    from toolkit.report.html import rewrite_html

    typer.echo(rewrite_html(run_dir))
