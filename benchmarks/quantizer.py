"""The converter's int8 PTQ against the LiteRT quantizer's int8 and int16x8 on corpus models, then `--fix`.

    uv run python benchmarks/quantizer.py [--models squeeze-excite-32 relu6-hswish-32] [--out DIR] [--benchmark]

Per model: train it as tests/corpus.py does, `edgekit export --model` it with the quantizer's artifacts
(`[export] quantizer = ["int8", "int16x8"]`, LiteRT only), then again with `--fix` on the same model file. Prints
a markdown table per artifact (accuracy, delta, agreement, mean probability error, verdict, size) and the ladder's
steps; with --benchmark, `edgekit benchmark` of the first run (1 thread, XNNPACK on and off).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from corpus import CORPUS, train_and_save, write_dataset  # noqa: E402

CONFIG = """[export]
tfjs = false
saved_model = false
quantizer = ["int8", "int16x8"]
[parity]
runtimes = ["litert"]
"""
HEAD = "| artifact | variant | accuracy % (delta) | agreement % | prob error | verdict | bytes |\n" + "|---" * 7 + "|"


def edgekit(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "toolkit", *map(str, args)], capture_output=True, text=True)


def rows(report: dict) -> list[str]:
    out = []
    for a in report["artifacts"]:
        if a["name"].startswith("tflite"):
            out.append(
                f"| {a['name']} | {a['variant']} | {a['accuracy']:.2f} ({a['accuracy_delta']:+.2f}) | "
                f"{a['agreement']:.2f} | {a['mean_abs_prob_delta']:.4f} | {a.get('verdict') or a['passed']} | "
                f"{a['size_bytes']} |"
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["squeeze-excite-32", "relu6-hswish-32"])
    parser.add_argument("--out", type=Path, default=Path("runs") / time.strftime("quantizer-%Y%m%d-%H%M%S"))
    parser.add_argument("--benchmark", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True)
    (args.out / "q.toml").write_text(CONFIG)
    for entry in [e for e in CORPUS if e.name in args.models]:
        data = write_dataset(entry.data, args.out)
        model = train_and_save(entry, args.out)
        common = ["export", "--model", model, "--data", data, "--config", args.out / "q.toml", *entry.options]
        print(f"\n## {entry.name}\n\n{HEAD}")
        for label, extra in (("plain", []), ("fix", ["--fix"])):
            run = args.out / f"{entry.name}-{label}"
            start = time.perf_counter()
            done = edgekit(*common, "--out", run, *extra)
            seconds = time.perf_counter() - start
            report = json.loads((run / "report.json").read_text())
            print(*rows(report) if label == "plain" else [], sep="\n")
            if label == "fix":
                for fix in report.get("fixes", []):
                    print(f"\n--fix on {fix['artifact']} (exit {done.returncode}, {seconds:.0f} s):")
                    for step in fix["tried"]:
                        print(f"- {step['remedy']}: {step.get('verdict')} {step.get('reasons') or ''}")
                    print(f"- recipe: {json.dumps(fix.get('recipe'))}")
                    print(f"- latency ms/image: {fix.get('latency_ms_per_image')}")
                print(*[r for r in rows(report) if "int8-ptq" in r], sep="\n")
        if args.benchmark:
            print(edgekit("benchmark", args.out / f"{entry.name}-plain", "--runtime", "litert").stdout)


if __name__ == "__main__":
    main()
