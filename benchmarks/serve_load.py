"""Load-test `edgekit serve` on 127.0.0.1: throughput, starvation by keep-alive clients, memory under fat headers
and under many idle connections.

    uv run python benchmarks/serve_load.py [--tree LABEL=PATH ...] [--modes reused,fresh,starve,rss,idle] [--rounds 3]

Each --tree is a source checkout of edgekit (default: this one) whose server runs in its own process on a synthetic
run (two small TF.js artifacts that passed a gate, no TensorFlow); rounds interleave the trees and modes so that their
figures share the machine's load. Modes:
  reused  N clients x M requests each over kept-alive connections (req/s, p50/p99 latency, server CPU per request)
  fresh   the same with a new connection per request
  starve  K keep-alive clients each sending one request every T s, while one more client times requests on new
          connections (its latency, and how many of its requests time out)
  rss     C clients each sending H headers of B bytes at once to a fresh server: its peak RSS (VmHWM)
  idle    I idle connections held for a while, then one normal request: the server's RSS and that request's latency
Every figure goes to 127.0.0.1 only, with bounded counts and times (see the argument limits).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from exporters.base import Format, TensorSpec, Variant, finish_artifact  # noqa: E402

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
    """A run directory with two TF.js-shaped artifacts with contracts, and a report saying that they passed."""
    run = base / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"steps": {}}))
    entries = []
    for name in ("tfjs-a", "tfjs-b"):
        folder = run / "artifacts" / name
        folder.mkdir(parents=True)
        (folder / "model.json").write_text(json.dumps({"format": "layers-model", "weights": ["x" * 40] * 40}))
        (folder / "group1-shard1of1.bin").write_bytes(os.urandom(16384))
        spec = TensorSpec(shape=[784], dtype="float32")
        fields = {"format": Format.TFJS, "variant": Variant.FLOAT32, "source": "float", "main_file": "model.json"}
        artifact = finish_artifact(folder, run, name=name, input=spec, output=spec, **fields)
        entries.append(
            {"name": name, "runtime": "tfjs-node-wasm", "passed": True, "verdict": "passed", "digest": artifact.digest}
        )
    (run / "report.json").write_text(json.dumps({"passed": True, "artifacts": entries}))
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


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc): the server's cost, whatever the machine's load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int, field: str) -> float:
    """VmRSS (now) or VmHWM (peak so far) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def quantile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def timed_get(port: int, path: str, timeout: float, connection: http.client.HTTPConnection | None = None):
    """(milliseconds, status or the exception's name) of one GET; a new connection unless one is given."""
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    began = time.perf_counter()
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        outcome = response.status
    except (OSError, http.client.HTTPException) as error:
        outcome = type(error).__name__
        connection.close()
    if own:
        connection.close()
    return (time.perf_counter() - began) * 1000, outcome


def load(port: int, clients: int, requests: int, reuse: bool, deadline_s: float) -> dict:
    """Run `clients` threads of `requests` GETs each; latency per request in ms, errors counted, never raised."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.monotonic() + deadline_s
    start = threading.Barrier(clients + 1)

    def client(number: int) -> None:
        mine, failed = [], 0
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30) if reuse else None
        start.wait()
        for i in range(requests):
            if time.monotonic() > stop_at:
                failed += requests - i
                break
            ms, outcome = timed_get(port, PATHS[(number + i) % len(PATHS)], 30, connection)
            if outcome == 200:
                mine.append(ms)
            else:
                failed += 1
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
    return {
        "ok": len(latencies),
        "errors": errors[0],
        "rps": len(latencies) / seconds,
        "p50": quantile(latencies, 0.5),
        "p99": quantile(latencies, 0.99),
    }


def starve(port: int, clients: int, interval: float, seconds: float, timeout: float) -> dict:
    """`clients` keep-alive clients each sending a request every `interval` s; one more client on new connections
    times its requests (one after another, `timeout` each) for `seconds`."""
    stop = threading.Event()
    trickle_errors = [0]

    def trickle(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        stop.wait(interval * number / clients)  # spread over the interval, as independent clients would be
        while not stop.is_set():
            if timed_get(port, PATHS[number % len(PATHS)], 60, connection)[1] != 200:
                trickle_errors[0] += 1
            stop.wait(interval)
        connection.close()

    threads = [threading.Thread(target=trickle, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(interval + 0.5)  # every trickling client has its connection and has sent a request
    waits, timeouts = [], 0
    stop_at = time.monotonic() + seconds
    while time.monotonic() < stop_at:
        ms, outcome = timed_get(port, "/models/index.json", timeout)
        if outcome == 200:
            waits.append(ms)
        else:
            timeouts += 1
        time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join(timeout=70)
    return {
        "ok": len(waits),
        "timeouts": timeouts,
        "p50": quantile(waits, 0.5),
        "max": max(waits, default=float("nan")),
        "errors": trickle_errors[0],
    }


def fat_headers(port: int, pid: int, clients: int, headers: int, size: int) -> dict:
    """`clients` connections at once, each sending one GET with `headers` headers of `size` bytes."""
    head = b"GET /models/index.json HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += b"".join(b"X-Fat-%d: %s\r\n" % (i, b"a" * size) for i in range(headers)) + b"\r\n"
    statuses: list[str] = []
    baseline = memory_mb(pid, "VmRSS")

    def client() -> None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
                try:
                    connection.sendall(head)
                except OSError:
                    pass  # a server that stops reading closes: its answer may be there all the same
                statuses.append(connection.recv(12).decode(errors="replace")[9:12] or "closed")
        except OSError as error:
            statuses.append(type(error).__name__)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    time.sleep(0.5)
    outcomes = {s: statuses.count(s) for s in sorted(set(statuses))}
    return {"baseline": baseline, "peak": memory_mb(pid, "VmHWM"), "seconds": seconds, "outcomes": outcomes}


def idle(port: int, pid: int, count: int, hold: float) -> dict:
    """Open `count` connections that send nothing, hold them `hold` s, then time one normal request."""
    baseline = memory_mb(pid, "VmRSS")
    held = []
    for _ in range(count):
        try:
            held.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        except OSError:
            break
    time.sleep(hold)
    ms, outcome = timed_get(port, "/models/index.json", 10)
    rss = memory_mb(pid, "VmRSS")
    for connection in held:
        connection.close()
    return {"opened": len(held), "rss_delta": rss - baseline, "ms": ms, "outcome": outcome}


def describe(result: dict, mode: str) -> str:
    if mode in ("reused", "fresh"):
        return (
            f"{result['rps']:7.0f} req/s  p50 {result['p50']:6.1f} ms  p99 {result['p99']:7.1f} ms  "
            f"errors {result['errors']}  server CPU {result['cpu_us']:4.0f} us/request"
        )
    if mode == "starve":
        return (
            f"new client: {result['ok']} answered, {result['timeouts']} timed out, p50 {result['p50']:.1f} ms, "
            f"max {result['max']:.1f} ms; trickling clients' errors {result['errors']}"
        )
    if mode == "rss":
        return (
            f"peak RSS {result['peak']:.0f} MB (at start {result['baseline']:.0f} MB) in {result['seconds']:.1f} s; "
            f"answers {result['outcomes']}"
        )
    return (
        f"{result['opened']} idle: RSS +{result['rss_delta']:.1f} MB; then a new request: {result['outcome']} in "
        f"{result['ms']:.1f} ms"
    )


def measure(mode: str, tree: Path, run: Path, server: tuple[subprocess.Popen, int], args) -> dict:
    """One mode against one tree; rss and idle get a fresh server process, so that its memory is theirs alone."""
    if mode in ("reused", "fresh"):
        process, port = server
        cpu = cpu_seconds(process.pid)
        result = load(port, args.clients, args.requests, mode == "reused", args.max_seconds)
        result["cpu_us"] = (cpu_seconds(process.pid) - cpu) / max(result["ok"], 1) * 1e6
        return result
    if mode == "starve":
        return starve(server[1], args.starve_clients, args.starve_interval, args.starve_seconds, args.timeout)
    process, port = start_server(tree, run)
    try:
        if mode == "rss":
            return fat_headers(port, process.pid, args.fat_clients, args.fat_headers, args.fat_bytes)
        return idle(port, process.pid, args.idle, args.idle_hold)
    finally:
        stop_server(process)


SPREAD_KEYS = {
    "reused": ("rps", "p50", "p99", "cpu_us"),
    "fresh": ("rps", "p50", "p99", "cpu_us"),
    "starve": ("p50", "max", "timeouts"),
    "rss": ("peak",),
    "idle": ("rss_delta", "ms"),
}


def summary(results: dict[tuple[str, str], list[dict]]) -> None:
    print("\nmedian [min-max] over rounds")
    for (label, mode), runs in results.items():

        def spread(key: str, runs=runs) -> str:
            values = [r[key] for r in runs]
            return f"{key} {statistics.median(values):.1f} [{min(values):.1f}-{max(values):.1f}]"

        errors = sum(r.get("errors", 0) for r in runs)
        print(f"{label:>8} {mode:>6}: {'  '.join(spread(k) for k in SPREAD_KEYS[mode])}  errors {errors}")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", default=[], help="LABEL=PATH of an edgekit checkout (repeatable)")
    parser.add_argument("--modes", default="reused,fresh", help="comma-separated: reused, fresh, starve, rss, idle")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=50, help="reused/fresh: concurrent clients")
    parser.add_argument("--requests", type=int, default=200, help="reused/fresh: requests per client")
    parser.add_argument("--max-seconds", type=float, default=120, help="reused/fresh: per run; the rest are errors")
    parser.add_argument("--starve-clients", type=int, default=70)
    parser.add_argument("--starve-interval", type=float, default=4.0, help="seconds between one client's requests")
    parser.add_argument("--starve-seconds", type=float, default=20.0, help="how long the new client measures")
    parser.add_argument("--timeout", type=float, default=10.0, help="starve: the new client's timeout per request")
    parser.add_argument("--fat-clients", type=int, default=64)
    parser.add_argument("--fat-headers", type=int, default=95)
    parser.add_argument("--fat-bytes", type=int, default=65_000, help="bytes per fat header's value")
    parser.add_argument("--idle", type=int, default=1200, help="idle connections to hold")
    parser.add_argument("--idle-hold", type=float, default=2.0)
    args = parser.parse_args()
    if max(args.clients, args.starve_clients, args.fat_clients) > 500 or args.requests > 10_000:
        parser.error("at most 500 clients and 10,000 requests each: this is a loopback benchmark, not a flood")
    if args.idle > 5000 or args.fat_headers > 200 or args.fat_bytes > 65_500 or args.starve_seconds > 120:
        parser.error("at most 5,000 idle connections, 200 headers of 65,500 bytes, 120 s of starve")
    return args


def main() -> int:
    args = arguments()
    trees = {label: Path(path) for label, path in (item.split("=", 1) for item in args.tree)} or {"this": HERE}
    modes = args.modes.split(",")
    results: dict[tuple[str, str], list[dict]] = {}
    print(f"modes {modes}, {args.rounds} rounds, trees {', '.join(f'{k}={v}' for k, v in trees.items())}")
    with tempfile.TemporaryDirectory(prefix="edgekit-serve-load-") as tmp:
        run = synthetic_run(Path(tmp))
        servers = {label: start_server(tree, run) for label, tree in trees.items()}
        try:
            for number in range(1, args.rounds + 1):
                for mode in modes:
                    for label, tree in trees.items():
                        result = measure(mode, tree, run, servers[label], args)
                        results.setdefault((label, mode), []).append(result)
                        print(f"round {number} {label:>8} {mode:>6}: {describe(result, mode)}", flush=True)
        finally:
            for process, _ in servers.values():
                stop_server(process)
    summary(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
