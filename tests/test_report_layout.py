"""report.html's numbers and layout: sizes of every file of an artifact, files others may read, a difference matrix
whose colours say better or worse, QAT's epochs after training's, the gate's figures per evaluation, a phone-width
page, and browser latencies that a 100 us clock cannot round to 0 or 200 us."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest
from support import ARTIFACTS

from toolkit.report.html import BETTER, WORSE, _matrices, curve_lines, gzip_size, rewrite_html
from toolkit.run import Run, atomic_write_bytes

WEB_DEMO = Path(__file__).resolve().parent.parent / "web_demo"


@pytest.mark.unit
def test_run_files_get_the_mode_an_ordinary_write_gives(tmp_path):
    previous = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "report.html", b"<html>")
        os.umask(0o027)
        atomic_write_bytes(tmp_path / "report.json", b"{}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "report.html").stat().st_mode) == 0o644  # readable by a web server, not 0600
    assert stat.S_IMODE((tmp_path / "report.json").stat().st_mode) == 0o640  # and the umask respected


def test_every_file_a_run_writes_is_readable_by_others_under_umask_022(tiny_run):
    mask = os.umask(0o022)
    os.umask(mask)
    if mask != 0o022:
        pytest.skip(f"the tests run with umask {mask:03o}")
    private = [p for p in tiny_run.rglob("*") if p.is_file() and not p.stat().st_mode & stat.S_IROTH]
    assert private == []


def test_sizes_count_every_file_of_a_directory_artifact(tiny_run_copy):
    run = Run.open(tiny_run_copy)
    saved = next(a for a in run.artifacts() if a.name == "saved_model-float")
    directory = run.artifact_dir(saved)
    files = [p for p in directory.rglob("*") if p.is_file() and p.name != "contract.json"]
    assert any(p.parent.name == "variables" for p in files)
    expected = sum(len(gzip.compress(p.read_bytes(), 6)) for p in files)
    top_level = sum(len(gzip.compress(p.read_bytes(), 6)) for p in files if p.parent == directory)
    assert gzip_size(directory, saved) == expected > top_level
    html = rewrite_html(tiny_run_copy).read_text()
    row = re.search(r"<tr><td>saved_model-float</td>.*?</tr>", html, re.S).group()
    assert f"{saved.size_bytes / 1024:.1f} KB" in row and f"{expected / 1024:.1f} KB" in row


def test_the_page_shows_each_evaluations_gate_figures(tiny_run_copy):
    html = rewrite_html(tiny_run_copy).read_text()
    table = html[html.index("<h2>The gate's figures</h2>") : html.index("<h2>Latency and memory</h2>")]
    for entry in Run.open(tiny_run_copy).report()["artifacts"]:
        low, high = entry["delta_ci95"]
        cells = rf"<tr><td>{entry['name']}</td><td>{entry['runtime']}(<br>.*?)?</td>.*?</tr>"  # engine under runtime
        row = re.search(cells, table, re.S).group()
        assert f"{low:+.2f} to {high:+.2f}" in row and f"{entry['tolerance']:.2f}" in row
        assert f"{entry['mcnemar_p_drop']:.3g}" in row and f"{entry['detectable_drop']:.2f}" in row
        assert entry["verdict"] in row


@pytest.mark.unit
def test_a_difference_matrix_is_coloured_by_better_or_worse_not_by_sign():
    difference = np.array([[2, -1, 0], [0, -1, 1], [0, 0, 0]])
    (table,) = _matrices([("diff", difference, True)], ["a", "b", "c"])
    cells = [[c for c in row["cells"]] for row in table["rows"]]
    assert BETTER in cells[0][0]["style"] and cells[0][0]["value"] == "+2"  # more right: a gain
    assert BETTER in cells[0][1]["style"] and cells[0][1]["value"] == "-1"  # fewer of a mistake: a gain
    assert WORSE in cells[1][1]["style"] and cells[1][1]["value"] == "-1"  # fewer right: a loss
    assert WORSE in cells[1][2]["style"] and cells[1][2]["value"] == "+1"  # more of a mistake: a loss
    assert cells[2][2] == {"value": "", "style": ""}


@pytest.mark.unit
def test_qat_curves_continue_trainings_epochs():
    steps = {
        "train": {"history": {"loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.6, 0.5], "lr": [1e-3, 5e-4, 1e-4]}},
        "qat": {"history": {"loss": [0.45, 0.42], "val_loss": [0.5, 0.49]}},
    }
    epochs = {(step, key): e for step, key, e, _ in curve_lines(steps)}
    assert epochs[("train", "loss")] == [1, 2, 3] and epochs[("train", "lr")] == [1, 2, 3]
    assert epochs[("qat", "loss")] == [4, 5] and epochs[("qat", "val_loss")] == [4, 5]
    assert [e for s, _, e, _ in curve_lines({"qat": steps["qat"]}) if s == "qat"][0] == [1, 2]


@pytest.mark.node
def test_browser_latency_comes_from_runs_timed_together():
    """web_demo/test/bench.test.mjs: on a clock that ticks in 100 us (a page that is not cross-origin isolated), a
    30 us inference still reads as about 30 us."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js not found on PATH")
    done = subprocess.run(
        [node, "--test", "test/bench.test.mjs"], cwd=WEB_DEMO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.search(r"^# pass 2$", done.stdout, re.M), done.stdout


# Every element's right edge, except inside a box that scrolls sideways itself (or is its own scroll box).
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.getBoundingClientRect().right <= width + 0.5) continue;
    let box = el.parentElement;
    while (box && box !== document.body && !scrolls(box)) box = box.parentElement;
    if (!box || box === document.body || box.getBoundingClientRect().right > width + 0.5) {
      wide.push(`${el.tagName.toLowerCase()}.${el.className}: ${Math.round(el.getBoundingClientRect().right)}`);
    }
  }
  return { page: document.documentElement.scrollWidth, width, wide };
}"""


@pytest.mark.browser
def test_report_fits_a_phone_screen(tiny_run_copy):
    from playwright.sync_api import sync_playwright

    from toolkit.bench.benchmark import benchmark
    from toolkit.runtimes.tfjs_browser import launch_chromium, unavailable

    if unavailable():
        pytest.skip(unavailable())
    # The widest table is the benchmark's: a short real one fills it.
    benchmark(tiny_run_copy, runs=20, warmup=2, rounds=1, batch=4, runtimes=["litert"])
    page_file = rewrite_html(tiny_run_copy)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=1)
            page.goto(page_file.as_uri())
            page.wait_for_load_state("load")
            layout = page.evaluate(OVERFLOW)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report-phone.png"), full_page=True)
            scroll_boxes = page.evaluate("() => document.querySelectorAll('.wide').length")
        finally:
            browser.close()
    assert layout["page"] <= 390 and layout["width"] == 390, layout
    assert layout["wide"] == [], layout["wide"][:20]
    assert scroll_boxes >= 4  # the wide tables scroll inside their boxes instead
