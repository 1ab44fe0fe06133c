"""The root Typer app: --version, --verbose, and the one place where toolkit errors become exit codes."""

from __future__ import annotations

import errno
import functools
import logging
import os
import sys
import warnings
from typing import Annotated

import typer
from typer.core import TyperGroup

import toolkit
from toolkit.cli.console import Echo
from toolkit.cli.help import Command, HelpContext
from toolkit.errors import EdgekitError


class _OneLineErrors(TyperGroup):
    """Usage errors (a bad option value, a missing argument) as one line and exit 2, like every other bad input."""

    context_class = HelpContext

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        args = sys.argv[1:] if args is None else list(args)
        try:
            # `edgekit` alone shows the help; a command missing its argument says so in one line.
            result = super().main(args or ["--help"], prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as error:
            command = f" {error.ctx.command_path}" if getattr(error, "ctx", None) else ""
            hint = f" (see `{command.strip()} --help`)" if command else ""
            typer.secho(f"error: {error.format_message()}{hint}", fg=typer.colors.RED, err=True)
            sys.exit(error.exit_code)
        except typer.Abort:
            typer.secho("aborted", fg=typer.colors.RED, err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    name="edgekit",
    help="Train or import an image classifier, quantize it, export it for phones and browsers, and prove on the "
    "whole test set, in each runtime, that nothing was lost.",
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)

state = {"verbose": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"edgekit {toolkit.__version__}")
        raise typer.Exit()


@app.callback()
def root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks and TensorFlow's logs.")] = False,
    version: Annotated[
        bool | None, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = None,
) -> None:
    """edgekit: from training to deployment on phones and in browsers, with a parity gate on every artifact."""
    state["verbose"] = verbose
    _setup_logging(verbose)


def _setup_logging(verbose: bool) -> None:
    logger = logging.getLogger("edgekit")
    logger.handlers[:] = [Echo()]
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"  # read at TensorFlow's first import, which comes later
    else:
        # TensorFlow, tf-keras and tensorflowjs warn about their own deprecations on every run; users can't act on it.
        warnings.filterwarnings("ignore")
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        logging.getLogger("tensorflow").setLevel(logging.ERROR)


# A file system that says no is the user's environment, not a bug: one line, like any other bad input.
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR}


def command(func):
    """Register `func` as a subcommand whose toolkit errors end in one red line and the error's exit code.

    TensorFlow is not imported here: the library imports it once the inputs are checked
    (exporters.native_log.import_tensorflow), so a bad option or file fails in a fraction of a second.
    """

    @functools.wraps(func)
    def run(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except EdgekitError as error:
            if state["verbose"]:
                raise
            if getattr(error, "verdict", None):  # the gate's last word, `FAILED (n)`, after the reason
                typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
                typer.secho(error.verdict, fg=typer.colors.RED)
                raise typer.Exit(error.exit_code) from None
            _fail(str(error), error.exit_code)
        except OSError as error:
            if state["verbose"] or error.errno not in _ENVIRONMENT_ERRNOS:
                raise
            where = f"{error.filename}: " if error.filename else ""
            _fail(f"{where}{os.strerror(error.errno)}", 2)

    return app.command(cls=Command)(run)


def _fail(message: str, exit_code: int):
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(exit_code) from None
