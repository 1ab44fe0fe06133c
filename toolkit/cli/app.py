"""The root Typer app: --version, --verbose, and the one place where toolkit errors become exit codes."""

from __future__ import annotations

import errno
import functools
import logging
import os
import sys
import textwrap
import warnings
from typing import Annotated

import typer
from typer._click.formatting import HelpFormatter  # typer >= 0.26 vendors click (the pin in pyproject.toml)
from typer.core import TyperCommand, TyperGroup

import toolkit
from toolkit.errors import EdgekitError

# Help is drawn by click's plain formatter (rich's panels leave ~20 columns for text on an 80-column terminal), up
# to this width on a wider one: longer lines are harder to read.
HELP_WIDTH = 100


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most `width` characters, never breaking inside a word or at its hyphens (`cnn3-bn`, `tfjs-uint8`);
    a word longer than the line gets a line of its own."""
    return textwrap.wrap(" ".join(text.split()), max(width, 20), break_long_words=False, break_on_hyphens=False)


class _Help(HelpFormatter):
    """click's layout (usage, text, option list), with words kept whole when lines wrap."""

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        paragraphs = [_wrap(p, self.width - self.current_indent) for p in textwrap.dedent(text).split("\n\n")]
        self.write("\n\n".join("\n".join(indent + line for line in lines) for lines in paragraphs if lines) + "\n")

    def write_dl(self, rows, col_max: int = 30, col_spacing: int = 2) -> None:
        rows = list(rows)
        column = min(max((len(term) for term, _ in rows), default=0), col_max) + col_spacing
        left = " " * self.current_indent
        for term, text in rows:
            lines = _wrap(text, self.width - self.current_indent - column) if text.strip() else []
            if len(term) + col_spacing > column or not lines:  # the term on a line of its own, text below
                self.write(f"{left}{term}\n")
                lines = [" " * column + line for line in lines]
            else:
                lines[0] = term.ljust(column) + lines[0]
                lines[1:] = [" " * column + line for line in lines[1:]]
            self.write("".join(f"{left}{line}\n" for line in lines))


class _Context(typer.Context):
    formatter_class = _Help

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_content_width", HELP_WIDTH)
        super().__init__(*args, **kwargs)


class _Command(TyperCommand):
    """A command whose help names its arguments by placeholder alone (`RUN_DIR`, `[RUN_DIR]` when optional), without
    typer's type labels (`<path>`) or braces."""

    context_class = _Context

    def collect_usage_pieces(self, ctx) -> list[str]:
        arguments = [p for p in self.get_params(ctx) if p.param_type_name == "argument"]
        return [self.options_metavar, *(p.metavar if p.required else f"[{p.metavar}]" for p in arguments)]

    def format_options(self, ctx, formatter) -> None:
        params = [p for p in self.get_params(ctx) if not p.hidden]
        arguments = [(p.metavar, p.help or "") for p in params if p.param_type_name == "argument"]
        options = [r for p in params if p.param_type_name == "option" and (r := p.get_help_record(ctx))]
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)


class _OneLineErrors(TyperGroup):
    """Usage errors (a bad option value, a missing argument) as one line and exit 2, like every other bad input."""

    context_class = _Context

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

    return app.command(cls=_Command)(run)


def _fail(message: str, exit_code: int):
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(exit_code) from None
