"""Multi-worker training: a MultiWorkerMirroredStrategy from TF_CONFIG, or TF_CONFIG built from --workers options."""

from __future__ import annotations

import json
import os

from toolkit.errors import InputError


def tf_config(workers: list[str], index: int) -> str:
    """The TF_CONFIG of worker `index` in a cluster of `workers` (host:port each; worker 0 is the chief)."""
    if not workers:
        raise InputError("--workers needs at least one host:port")
    for worker in workers:
        host, sep, port = worker.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise InputError(f"--workers {worker!r}: expected HOST:PORT")
    if not 0 <= index < len(workers):
        raise InputError(f"--worker-index {index}: must be between 0 and {len(workers) - 1}")
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})


def _cluster() -> dict | None:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        config = json.loads(raw)
        workers = config["cluster"]["worker"] + config["cluster"].get("chief", [])
        task = config["task"]["type"], int(config["task"]["index"])
    except (ValueError, KeyError, TypeError):
        raise InputError("TF_CONFIG is not a JSON cluster spec with cluster.worker and task.type/index") from None
    return {"workers": len(workers), "task": task, "has_chief": "chief" in config["cluster"]}


def cluster_strategy():
    """(strategy, is_chief): MultiWorkerMirroredStrategy under TF_CONFIG, else (None, True).

    The chief is the "chief" task if the cluster has one, else worker 0 (TensorFlow's convention). Create the
    strategy before any other TensorFlow op: its collectives configure the runtime at start-up.
    """
    cluster = _cluster()
    if cluster is None:
        return None, True
    import tensorflow as tf

    kind, index = cluster["task"]
    chief = kind == "chief" or (kind == "worker" and index == 0 and not cluster["has_chief"])
    return tf.distribute.MultiWorkerMirroredStrategy(), chief
