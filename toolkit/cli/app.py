"""The root Typer app: --version, --verbose, and the one place where toolkit errors become exit codes."""

from __future__ import annotations

import functools
import inspect
import logging
import os
import warnings
from typing import Annotated

import typer

import toolkit
from exporters.native_log import native_stderr_to_debug_log
from toolkit.errors import EdgekitError

app = typer.Typer(
    name="edgekit",
    help="Train an MNIST classifier, quantize it, export it for phones and browsers, and prove nothing was lost.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
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


class _Echo(logging.Handler):
    """Log lines to the current stdout (typer.echo), so progress interleaves with Keras' own output."""

    def emit(self, record: logging.LogRecord) -> None:
        typer.echo(self.format(record))


def _setup_logging(verbose: bool) -> None:
    logger = logging.getLogger("edgekit")
    logger.handlers[:] = [_Echo()]
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
    if not verbose:
        # TensorFlow, tf-keras and tensorflowjs warn about their own deprecations on every run; users can't act on it.
        warnings.filterwarnings("ignore")
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        logging.getLogger("tensorflow").setLevel(logging.ERROR)


def command(func=None, *, uses_tensorflow: bool = False):
    """Register `func` as a subcommand whose toolkit errors end in one red line and the error's exit code.

    With `uses_tensorflow=True` TensorFlow is imported up front, its native start-up chatter kept for --verbose.
    """
    if func is None:
        return functools.partial(command, uses_tensorflow=uses_tensorflow)

    @functools.wraps(func)
    def run(*args, **kwargs):
        try:
            if uses_tensorflow:
                import_tensorflow()
            return func(*args, **kwargs)
        except EdgekitError as error:
            if state["verbose"]:
                raise
            typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
            raise typer.Exit(error.exit_code) from None

    return app.command(no_args_is_help=_has_required_args(func))(run)


def import_tensorflow() -> None:
    """Import TensorFlow now, its native start-up chatter kept for --verbose."""
    if state["verbose"]:
        import tensorflow  # noqa: F401
    else:
        with native_stderr_to_debug_log():
            import tensorflow  # noqa: F401


def _has_required_args(func) -> bool:
    return any(p.default is inspect.Parameter.empty for p in inspect.signature(func).parameters.values())
