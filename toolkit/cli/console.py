"""What edgekit prints: one line per step or evaluation, and on a terminal a progress bar under the lines of a long
loop (the gate's evaluations, the benchmark's measurements) until its last line."""

from __future__ import annotations

import logging
import re
import sys
import time

import typer

# A loop's progress lines start with "[done/total]" (the gate, the benchmark).
PROGRESS = re.compile(r"\[(\d+)/(\d+)\]")
BAR_WIDTH = 24


class ProgressLines:
    """Echo lines; on a terminal, after a "[i/n]" line with i < n, a bar that the next line replaces."""

    def __init__(self) -> None:
        self.bar_shown = False
        self.started: dict[int, float] = {}  # loop size -> when its first line came

    def __call__(self, line: str) -> None:
        stream = sys.stdout
        if self.bar_shown:
            typer.echo("\r\033[K", nl=False)
            self.bar_shown = False
        typer.echo(line)
        found = PROGRESS.match(line)
        if found is None or not stream.isatty():
            return
        done, total = int(found[1]), int(found[2])
        start = self.started.setdefault(total, time.monotonic())
        if done >= total:
            self.started.pop(total, None)
            return
        filled = round(BAR_WIDTH * done / total)
        elapsed = time.monotonic() - start
        typer.echo(f"  [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}  {elapsed:.0f} s", nl=False)
        self.bar_shown = True


echo_progress = ProgressLines()


class Echo(logging.Handler):
    """Log lines to the current stdout (typer.echo), so they interleave with Keras' own output."""

    def emit(self, record: logging.LogRecord) -> None:
        echo_progress(self.format(record))
