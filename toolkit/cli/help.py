"""Help that reads at 80 columns and on wider terminals: click's plain layout, words kept whole, arguments and
options named by placeholders in words."""

from __future__ import annotations

import textwrap

import typer
from typer._click.formatting import HelpFormatter  # typer >= 0.26 vendors click (the pin in pyproject.toml)
from typer.core import TyperCommand

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


class HelpContext(typer.Context):
    formatter_class = _Help

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_content_width", HELP_WIDTH)
        super().__init__(*args, **kwargs)


class Command(TyperCommand):
    """A command whose help names its arguments by placeholder alone (`RUN_DIR`, `[RUN_DIR]` when optional), without
    typer's type labels (`<path>`) or braces."""

    context_class = HelpContext

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
