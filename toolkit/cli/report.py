"""`edgekit report`: redraw a run's report.html from its report.json, predictions.npz and benchmark.json."""

from __future__ import annotations

from toolkit.cli.app import command
from toolkit.cli.options import RunDir


@command
def report(run_dir: RunDir) -> None:
    """Write RUN/report.html again (no evaluation is re-run: the gate kept what the page needs)."""
    import typer

    from toolkit.report.html import rewrite_html

    typer.echo(rewrite_html(run_dir))
