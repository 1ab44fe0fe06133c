"""Kill `edgekit train` with SIGKILL mid-training, `--resume` it, and compare with an uninterrupted run.

    uv run python benchmarks/resume.py --epochs 4 --kill-after 2 [--data PATH] [--out DIR]

Both runs use the same settings (patience above the epoch count, so both train every epoch). Prints the test
accuracy of each and the difference in percentage points.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from pathlib import Path


def edgekit(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "toolkit", *map(str, args)], stdout=subprocess.DEVNULL)


def epochs_done(run: Path) -> int:
    try:
        return json.loads((run / "checkpoints" / "state.json").read_text())["epochs_done"]
    except (OSError, ValueError):
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--kill-after", type=int, default=2, help="kill once this many epochs are checkpointed")
    parser.add_argument("--data", type=Path, help="default: MNIST")
    parser.add_argument("--out", type=Path, default=Path("runs") / time.strftime("resume-%Y%m%d-%H%M%S"))
    args = parser.parse_args()
    args.out.mkdir(parents=True)
    config = args.out / "edgekit.toml"
    config.write_text(f"[train]\nepochs = {args.epochs}\npatience = {args.epochs + 1}\n")
    common = ["-c", config] + (["--data", args.data] if args.data else [])

    killed = args.out / "killed"
    start = time.perf_counter()
    process = edgekit("train", "--out", killed, *common)
    while epochs_done(killed) < args.kill_after and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    at = epochs_done(killed)
    print(f"killed (SIGKILL) after {at} of {args.epochs} epochs, {time.perf_counter() - start:.0f} s")
    start = time.perf_counter()
    assert edgekit("train", "--resume", killed).wait() == 0, "resume failed"
    print(f"resumed to the end in {time.perf_counter() - start:.0f} s")
    start = time.perf_counter()
    plain = args.out / "uninterrupted"
    assert edgekit("train", "--out", plain, *common).wait() == 0, "uninterrupted run failed"
    print(f"uninterrupted run: {time.perf_counter() - start:.0f} s")
    resumed = json.loads((killed / "manifest.json").read_text())["steps"]["train"]
    reference = json.loads((plain / "manifest.json").read_text())["steps"]["train"]
    delta = resumed["test_accuracy"] - reference["test_accuracy"]
    print(
        f"test accuracy: resumed {resumed['test_accuracy']:.2f}% ({resumed['epochs_run']} epochs), "
        f"uninterrupted {reference['test_accuracy']:.2f}% ({reference['epochs_run']} epochs), "
        f"difference {delta:+.2f} points"
    )


if __name__ == "__main__":
    main()
