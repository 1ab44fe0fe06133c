"""Load-test `edgekit serve` on 127.0.0.1: N clients x M requests over kept-alive and fresh connections.

    uv run python benchmarks/serve_load.py [--tree LABEL=PATH ...] [--clients 50] [--requests 200] [--rounds 3]

Each --tree is a source checkout of edgekit (default: this one) whose server runs in its own process on a synthetic
run (two small TF.js models, no TensorFlow); rounds interleave the trees and modes so that their figures share the
machine's load. Prints one line per run (req/s, p50/p99 latency, errors) and the median and range over rounds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PATHS = ["/models/index.json", "/models/tfjs-a/model.json", "/style.css", "/models/tfjs-a/group1-shard1of1.bin"]
SERVER = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from toolkit.serve.demo import make_server
server = make_server(Path(sys.argv[2]), port=0)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def synthetic_run(base: Path) -> Path:
    """A run directory with two TF.js-shaped artifacts (the server only reads their files)."""
    run = base / "run"
    for name in ("tfjs-a", "tfjs-b"):
        folder = run / "artifacts" / name
        folder.mkdir(parents=True)
        (folder / "model.json").write_text(json.dumps({"format": "layers-model", "weights": ["x" * 40] * 40}))
        (folder / "group1-shard1of1.bin").write_bytes(os.urandom(16384))
        contract = {"name": name, "format": "tfjs", "variant": "float32", "main_file": "model.json"}
        (folder / "contract.json").write_text(json.dumps(contract))
    return run


def start_server(tree: Path, run: Path) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tree), str(run)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    line = process.stdout.readline()
    if not line.strip().isdigit():
        process.kill()
        raise SystemExit(f"server from {tree} did not start: {line}{process.stderr.read()[-2000:]}")
    return process, int(line)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc): the server's cost, whatever the machine's load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(port: int, clients: int, requests: int, reuse: bool, deadline_s: float) -> dict:
    """Run `clients` threads of `requests` GETs each; latency per request in ms, errors counted, never raised."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + deadline_s
    start = threading.Barrier(clients + 1)

    def client(number: int) -> None:
        mine, failed = [], 0
        connection = None
        start.wait()
        for i in range(requests):
            if time.monotonic() > stop_at:
                failed += requests - i
                break
            path = PATHS[(number + i) % len(PATHS)]
            began = time.perf_counter()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                headers = {} if reuse else {"Connection": "close"}
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    failed += 1
                if not reuse or response.will_close:
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException):
                failed += 1
                if connection is not None:
                    connection.close()
                connection = None
                continue
            mine.append((time.perf_counter() - began) * 1000)
        if connection is not None:
            connection.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    latencies.sort()

    def quantile(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")

    return {
        "ok": len(latencies),
        "errors": errors[0],
        "rps": len(latencies) / seconds,
        "p50": quantile(0.50),
        "p99": quantile(0.99),
        "seconds": seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", default=[], help="LABEL=PATH of an edgekit checkout (repeatable)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200, help="per client")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default="reused,fresh", help="comma-separated: reused, fresh")
    parser.add_argument("--max-seconds", type=float, default=120, help="per run; requests not sent count as errors")
    args = parser.parse_args()
    if args.clients > 500 or args.requests > 10_000:
        parser.error("at most 500 clients and 10,000 requests each: this is a loopback benchmark, not a flood")
    trees = dict(item.split("=", 1) for item in args.tree) or {"this": str(HERE)}
    modes = args.modes.split(",")
    results: dict[tuple[str, str], list[dict]] = {}
    print(f"{args.clients} clients x {args.requests} requests, {args.rounds} rounds, paths {PATHS}")
    with tempfile.TemporaryDirectory(prefix="edgekit-serve-load-") as tmp:
        run = synthetic_run(Path(tmp))
        servers = {label: start_server(Path(path), run) for label, path in trees.items()}
        try:
            for number in range(1, args.rounds + 1):
                for mode in modes:
                    for label, (process, port) in servers.items():
                        cpu = cpu_seconds(process.pid)
                        result = load(port, args.clients, args.requests, mode == "reused", args.max_seconds)
                        result["cpu_us"] = (cpu_seconds(process.pid) - cpu) / max(result["ok"], 1) * 1e6
                        results.setdefault((label, mode), []).append(result)
                        print(
                            f"round {number} {label:>8} {mode:>6}: {result['rps']:7.0f} req/s  "
                            f"p50 {result['p50']:6.1f} ms  p99 {result['p99']:7.1f} ms  errors {result['errors']}  "
                            f"server CPU {result['cpu_us']:4.0f} us/request",
                            flush=True,
                        )
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait(timeout=10)
    print("\nmedian [min-max] over rounds")
    for (label, mode), runs in results.items():

        def spread(key: str, runs=runs) -> str:
            values = [r[key] for r in runs]
            return f"{statistics.median(values):.1f} [{min(values):.1f}-{max(values):.1f}]"

        print(
            f"{label:>8} {mode:>6}: req/s {spread('rps')}  p50 ms {spread('p50')}  p99 ms {spread('p99')}  "
            f"server CPU us/request {spread('cpu_us')}  errors {sum(r['errors'] for r in runs)}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
