"""The demo's test images (toolkit/serve/samples.py): the run's own test pictures with their true labels, served."""

from __future__ import annotations

import io
import json
import urllib.request

import numpy as np
import pytest
from support import make_run, record_run_data, skip_unless

from toolkit.serve.samples import SAMPLE_COUNT, pick_samples, sample_entities

pytestmark = pytest.mark.unit

NAMES = ["a cat on a mat", "dog", "bird", "fish", "a very long class name that no box could hold on one line"]


def write_data(path, channels: int, test: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    shape = (32, 24) if channels == 1 else (32, 24, 3)
    x = rng.integers(0, 256, (test, *shape), dtype=np.uint8)
    y = (np.arange(test) * 3) % len(NAMES)  # every class, not in order
    np.savez(path, x_train=x, y_train=y, x_test=x, y_test=y, class_names=np.array(NAMES))
    return path


def decoded(entity) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(entity.body)))


def test_samples_take_each_class_in_turn_as_far_as_the_count_allows():
    labels = np.array([2, 0, 0, 1, 2, 0, 1, 1, 0])
    assert pick_samples(labels, 5) == [1, 3, 0, 2, 6]  # the first 0, 1, 2, then the second 0, 1
    assert pick_samples(labels, 100) == [1, 3, 0, 2, 6, 4, 5, 7, 8]
    assert pick_samples(np.array([], int), 5) == []


@pytest.mark.parametrize("channels", [1, 3])
def test_samples_are_the_run_test_images_exactly_with_their_labels(tmp_path, channels):
    run = make_run(tmp_path / "my-run").path
    data = write_data(tmp_path / "data.npz", channels)
    record_run_data(run, data)
    entities = sample_entities(run)
    index = json.loads(entities["/samples/index.json"].body)
    with np.load(data) as arrays:
        x_test, y_test = arrays["x_test"], arrays["y_test"]
    assert index["run"] == "my-run" and index["note"] is None
    assert index["image"] == {"height": 32, "width": 24, "channels": channels}
    assert len(index["samples"]) == min(SAMPLE_COUNT, len(x_test))
    assert [s["label"] for s in index["samples"][: len(NAMES)]] == NAMES  # one of each class first
    for k, sample in enumerate(index["samples"]):
        assert sample["url"] == f"samples/{k}.png"
        assert (
            sample["label"] == NAMES[y_test[sample["test_index"]]] and sample["class"] == y_test[sample["test_index"]]
        )
        entity = entities[f"/{sample['url']}"]
        assert entity.content_type == "image/png" and entity.gzip_body is None  # PNG is compressed already
        np.testing.assert_array_equal(decoded(entity), x_test[sample["test_index"]])
    # Random pixels are no drawing: hardly any pure black or white.
    assert 0 <= index["background"] < 0.05


def test_drawings_are_mostly_background(tmp_path):
    run = make_run(tmp_path / "run").path
    path = tmp_path / "drawings.npz"
    x = np.zeros((10, 28, 28), np.uint8)
    x[:, 10:14, 5:20] = 255
    y = np.arange(10) % 2
    np.savez(path, x_train=x, y_train=y, x_test=x, y_test=y)
    record_run_data(run, path)
    index = json.loads(sample_entities(run)["/samples/index.json"].body)
    assert index["background"] == pytest.approx(1 - 4 * 15 / 28**2, abs=1e-4)
    assert [s["label"] for s in index["samples"]] == ["0", "1"] * 5  # no class names: the class numbers


def test_without_a_run_or_its_data_the_index_is_empty_and_says_why(tmp_path):
    assert json.loads(sample_entities(None)["/samples/index.json"].body)["samples"] == []
    run = make_run(tmp_path / "run").path
    assert json.loads(sample_entities(run)["/samples/index.json"].body)["note"] == "the run records no data set"
    data = write_data(tmp_path / "data.npz", 3)
    record_run_data(run, data)
    write_data(data, 3, seed=1)  # the test set changed since the run was made
    entities = sample_entities(run)
    assert list(entities) == ["/samples/index.json"]
    index = json.loads(entities["/samples/index.json"].body)
    assert index["samples"] == [] and index["note"] == "the run's test data could not be loaded"
    assert str(tmp_path) not in json.dumps(index)  # no local path goes to the page
    data.unlink()
    assert json.loads(sample_entities(run)["/samples/index.json"].body)["samples"] == []


def test_the_demo_server_serves_the_samples(tmp_path):
    from toolkit.serve.demo import make_model_server, running, web_demo_missing

    skip_unless(web_demo_missing())
    run = make_run(tmp_path / "run").path
    data = write_data(tmp_path / "data.npz", 3)
    record_run_data(run, data)
    with running(make_model_server({}, port=0, run_dir=run)) as url:
        with urllib.request.urlopen(f"{url}samples/index.json") as response:
            index = json.load(response)
        with urllib.request.urlopen(f"{url}{index['samples'][0]['url']}") as response:
            assert response.headers["Content-Type"] == "image/png"
            png = response.read()
    with np.load(data) as arrays:
        expected = arrays["x_test"][index["samples"][0]["test_index"]]
    from PIL import Image

    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), expected)
