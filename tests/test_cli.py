"""The command line as a new user meets it: help that reads at 80 and 120 columns, and options that cannot apply
refused with one line and exit 2 instead of being ignored."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import typer
from support import write_npz
from typer.testing import CliRunner

from toolkit.cli import app
from toolkit.config import PRESETS, load_config

pytestmark = pytest.mark.unit
runner = CliRunner()
ROOT = typer.main.get_command(app)
COMMANDS = sorted(ROOT.commands)
DOCS = Path(__file__).resolve().parent.parent / "docs"
# Python type names typer prints when an option has no placeholder of its own: <bool>, <str>, <list[str]>, <path>...
TYPE_PLACEHOLDER = re.compile(r"<(bool|str|int|float|path|file|dir|text|list\[[^\]]*\]|\w+ range|[a-z|_-]+)>")


def help_at(columns: int, *command: str) -> str:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.output


def unwrapped_help(*command: str) -> str:
    """The same help on a line as long as it needs: every word whole, whatever wrapping does."""
    root = ROOT.make_context("edgekit", [], resilient_parsing=True, terminal_width=10**6, max_content_width=10**6)
    if not command:
        return ROOT.get_help(root)
    cmd = ROOT.commands[command[0]]
    ctx = cmd.make_context(
        command[0], [], parent=root, resilient_parsing=True, terminal_width=10**6, max_content_width=10**6
    )
    return cmd.get_help(ctx)


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("command", [(), *[(c,) for c in COMMANDS]], ids=lambda c: " ".join(c) or "edgekit")
def test_help_keeps_words_whole_and_names_placeholders_in_words(command, columns):
    text = help_at(columns, *command)
    words = set(unwrapped_help(*command).split())
    broken = [word for word in text.split() if word not in words]
    assert not broken, f"words broken across lines at {columns} columns: {broken}"
    assert not TYPE_PLACEHOLDER.findall(text), TYPE_PLACEHOLDER.findall(text)
    too_long = [line for line in text.splitlines() if len(line) > columns]
    assert not too_long, too_long


def test_every_option_that_takes_a_value_has_a_placeholder_of_its_own():
    missing = []
    for name in COMMANDS:
        for param in ROOT.commands[name].params:
            takes_value = param.param_type_name == "argument" or not getattr(param, "is_flag", False)
            if takes_value and not (param.metavar and param.metavar.upper() == param.metavar or "|" in param.metavar):
                missing.append(f"{name} {param.opts[0]}: {param.metavar!r}")
    assert not missing, missing


def test_each_command_says_in_its_first_line_what_it_does():
    listing = help_at(80)
    commands = listing[listing.index("Commands:") :].splitlines()[1:]
    shown = {line.split()[0]: line.split(maxsplit=1)[1] for line in commands if line.strip()}
    assert sorted(shown) == COMMANDS
    for name, line in shown.items():
        first = ROOT.commands[name].help.split("\n\n")[0]
        assert line == " ".join(first.split()) and line.endswith(".") and not line.endswith("..."), (name, line)
    assert shown["ensemble"].startswith("Train K models, average them into one")


def test_presets_are_described_by_network_epochs_and_measured_figures():
    text = " ".join(unwrapped_help("pipeline").split())
    described = text[text.index("--preset NAME") :]
    described = described[: described.index("--resume")]
    documented = (DOCS / "performance.md").read_text() + (DOCS / "training.md").read_text()
    for name in PRESETS:
        train = load_config(preset=name).train
        part = re.search(rf"\b{name}: ([^;]*)", described)
        assert part, f"preset {name} is not described"
        assert train.architecture.value in part.group(1) and f"{train.epochs} epochs" in part.group(1), part.group(1)
    for figure in re.findall(r"\d+\.\d+(?:-\d+\.\d+)?", described):
        assert figure in documented, f"{figure} is in --preset's help but not in docs/performance.md or training.md"


def test_data_and_model_help_name_image_folders_and_keras_3():
    assert "folder of images" in " ".join(unwrapped_help("pipeline").split())
    export = " ".join(unwrapped_help("export").split())
    assert "Keras 3" in export and "folder of images" in export


# ---- options that cannot apply ------------------------------------------------------------------------------

REFUSED = [
    (["export", "{run}", "--normalization", "raw"], "--normalization"),
    (["export", "{run}", "--mean", "0.5", "--std", "0.2"], "--mean, --std"),
    (["export", "{run}", "--test-fraction", "0.3"], "--test-fraction"),
    (["export", "{run}", "--split-seed", "3"], "--split-seed"),
    (["export", "{run}", "--tolerance", "int8=0.5"], "--fix"),
    (["export", "{run}", "-r", "litert"], "--fix"),
    (["export", "{run}", "--allow-chance-reference"], "--fix"),
    (["export", "{run}", "--qat-epochs", "2"], "--fix"),
    (["export", "--model", "{model}", "--qat-epochs", "2"], "only with --qat or --fix"),
    (["export", "--model", "{model}", "--data", "{data}", "--test-fraction", "0.3"], "image folder"),
    (["pipeline", "--test-fraction", "0.3"], "MNIST has its split"),
    (["train", "--data", "{data}", "--split-seed", "1"], "image folder"),
    (["pipeline", "--data", "{split_folder}", "--test-fraction", "0.3"], "image folder"),
    (["ensemble", "--no-qat", "--qat-epochs", "2"], "only with --qat"),
    (["tune", "--latency-runs", "5"], "--objective pareto"),
    (["tune", "--search-only", "--pick", "1", "-r", "litert"], "--pick, --runtime"),
]


@pytest.mark.parametrize(("args", "expect"), REFUSED, ids=[" ".join(a[:1] + a[2:3]) for a, _ in REFUSED])
def test_an_option_that_cannot_apply_is_refused_in_one_line(tmp_path, monkeypatch, args, expect):
    write_npz(tmp_path / "data.npz", train=20, test=10)
    (tmp_path / "model.h5").write_bytes(b"not read: the options are checked first")
    for part in ("train", "test"):
        (tmp_path / "split" / part / "a").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    had_tensorflow = "tensorflow" in sys.modules
    names = {"run": "no-such-run", "model": "model.h5", "data": "data.npz", "split_folder": "split"}
    result = runner.invoke(app, [a.format(**names) for a in args])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and result.output.startswith("error: "), result.output
    assert expect in result.output, result.output
    assert not Path("runs").exists() and not Path("no-such-run").exists()
    assert had_tensorflow or "tensorflow" not in sys.modules


def test_with_fix_export_run_dir_takes_the_gate_options(tmp_path, monkeypatch):
    """--fix gates the fresh export, so -t/-r/--qat-epochs apply: the command gets past them to the run itself."""
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["export", "no-such-run", "--fix", "-t", "int8=0.5", "-r", "litert"])
    assert result.exit_code == 2 and "no-such-run" in result.output and "--fix" not in result.output, result.output
