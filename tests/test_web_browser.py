"""The demo and the tfjs-browser-wasm runtime in headless Chromium, on the tiny run's TF.js artifacts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import (
    DIGIT_STROKES,
    GRAPH_ARTIFACT,
    GRAPH_IMAGE,
    GRAPH_LABELS,
    GRAPH_NORMALIZATION,
    TINY_ARTIFACTS,
    PageErrors,
    build_graph_run,
    build_tiny_run,
    draw_strokes,
    graph_model_values,
    keras_probabilities,
    sample_images,
    save_screenshot,
    skip_unless,
)

from exporters.base import read_contract
from toolkit.pixels.digit import preprocess_digit
from toolkit.runtimes import tfjs_browser

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def tiny_web_run(tmp_path_factory):
    skip_unless(tfjs_browser.unavailable())
    return build_tiny_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def graph_run(tmp_path_factory):
    skip_unless(tfjs_browser.unavailable())
    return build_graph_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def demo_url(tiny_web_run, graph_run):
    from toolkit.serve.demo import make_model_server, running, tfjs_models

    models = {**tfjs_models(tiny_web_run[0]), **tfjs_models(graph_run[0])}
    with running(make_model_server(models, port=0)) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    skip_unless(tfjs_browser.unavailable())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = tfjs_browser.launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    yield context.new_page()
    context.close()


def open_demo(page, url: str) -> PageErrors:
    errors = PageErrors(page)
    page.goto(url)
    page.evaluate("() => window.edgekitDemo.ready")
    return errors


def canvas_ink(page) -> np.ndarray:
    """The pad's alpha channel (the ink), read back from the page as uint8 (280, 280)."""
    alpha = page.evaluate("""() => {
        const pad = document.getElementById('pad');
        const rgba = pad.getContext('2d').getImageData(0, 0, pad.width, pad.height).data;
        return Array.from(rgba.filter((_, i) => i % 4 === 3));
    }""")
    return np.array(alpha, dtype=np.uint8).reshape(280, 280)


def test_drawn_digit_is_classified_on_the_page_like_python_and_keras(page, demo_url, tiny_web_run):
    run, models = tiny_web_run
    errors = open_demo(page, demo_url)
    assert page.locator("#backend").inner_text() == "wasm"
    sizes = {
        label.locator(".variant-name").inner_text(): int(label.get_attribute("data-size-bytes"))
        for label in page.locator(".variant").all()
    }
    assert sizes == {
        name: json.loads((run / "artifacts" / name / "contract.json").read_text())["size_bytes"]
        for name in TINY_ARTIFACTS
    } | {GRAPH_ARTIFACT: sizes[GRAPH_ARTIFACT]}
    assert list(sizes.values()) == sorted(sizes.values())  # smallest first
    # No gate record in this index: the page starts with the float32 variant and says so.
    assert page.locator(".variant input:checked").get_attribute("value") == "tfjs-float32"
    assert set(page.locator(".variant-gate").all_inner_texts()) == {"gate: not gated"}
    assert page.locator("#report").is_hidden()

    draw_strokes(page, DIGIT_STROKES[7])
    page.wait_for_function("() => window.edgekitDemo.state.last !== null")
    last = page.evaluate("() => window.edgekitDemo.classify()")
    probabilities = np.array(last["probabilities"], dtype=np.float32)
    shown = page.locator("#top-digit").inner_text()
    assert shown == str(int(probabilities.argmax()))
    assert page.locator(".bar.top .bar-label").inner_text() == shown
    assert page.locator(".bar").count() == 10
    assert page.locator("#timing").inner_text().endswith(" ms")
    save_screenshot(page, "web-demo-drawn-7.png")

    # The page's model input is the Python reference's preprocessing of the very ink on the canvas...
    ink = canvas_ink(page)
    assert ink.max() == 255 and (ink > 0).sum() > 1000
    np.testing.assert_allclose(last["input"], preprocess_digit(ink).ravel(), atol=1e-6)
    # ...and its probabilities are Keras's on that input.
    reference = keras_probabilities(
        models["cnn"], np.array(last["input"], np.float32).reshape(1, 28, 28) * 255, "probabilities"
    )
    assert np.abs(probabilities - reference[0]).max() <= 1e-5
    assert errors.messages == []


def test_clear_empties_the_pad_and_the_prediction(page, demo_url):
    errors = open_demo(page, demo_url)
    draw_strokes(page, DIGIT_STROKES[1])
    page.wait_for_function("() => window.edgekitDemo.state.last !== null")
    page.click("#clear")
    page.wait_for_function("() => window.edgekitDemo.state.last === null")
    assert page.locator("#top-digit").inner_text() == "–"
    assert canvas_ink(page).max() == 0
    assert errors.messages == []


def test_switching_to_a_flat_logits_variant_reshapes_and_applies_softmax(page, demo_url, tiny_web_run):
    _, models = tiny_web_run
    errors = open_demo(page, demo_url)
    draw_strokes(page, DIGIT_STROKES[4])
    page.locator(".variant", has_text="tfjs-flat-logits").click()
    page.wait_for_function("() => window.edgekitDemo.state.last?.model === 'tfjs-flat-logits'")
    assert page.locator("#status").inner_text() == "tfjs-flat-logits ready"
    last = page.evaluate("() => window.edgekitDemo.state.last")
    reference = keras_probabilities(
        models["flat"], np.array(last["input"], np.float32).reshape(1, 28, 28) * 255, "logits"
    )
    assert abs(sum(last["probabilities"]) - 1) < 1e-5
    assert np.abs(np.array(last["probabilities"]) - reference[0]).max() <= 1e-5
    assert errors.messages == []


def test_backend_falls_back_when_wasm_cannot_load(page, demo_url):
    page.route("**/*.wasm", lambda route: route.abort())
    open_demo(page, demo_url)
    backend = page.locator("#backend")
    assert backend.inner_text() in ("webgl", "cpu")
    assert "fallback" in backend.get_attribute("class")
    draw_strokes(page, DIGIT_STROKES[0])
    page.wait_for_function("() => window.edgekitDemo.state.last !== null")
    assert page.locator("#top-digit").inner_text() in list("0123456789")


def test_browser_predictor_matches_keras(tiny_web_run):
    run, models = tiny_web_run
    images = sample_images(24, seed=2)
    for name in ["tfjs-float32", "tfjs-flat-logits"]:
        kind, _, output_kind = TINY_ARTIFACTS[name]
        directory = run / "artifacts" / name
        predictor = tfjs_browser.load(directory, read_contract(directory))
        probabilities = predictor.predict(images)
        assert predictor.last_run["backend"] == "wasm" and predictor.last_run["count"] == 24
        assert np.abs(probabilities - keras_probabilities(models[kind], images, output_kind)).max() <= 1e-5


def test_page_starts_with_the_smallest_variant_that_passed_the_gate(page, demo_url, tiny_web_run):
    """The server's index gives sizes and gate results: no contract is fetched before the chosen model's."""
    run, _ = tiny_web_run
    gates = {"tfjs-float32": (True, 99.07), "tfjs-float16": (True, 99.05), "tfjs-uint8": (False, 97.5)}
    models = []
    for name, (passed, accuracy) in gates.items():
        contract = json.loads((run / "artifacts" / name / "contract.json").read_text())
        gate = {"passed": passed, "accuracy": accuracy, "runtime": "tfjs-browser-wasm"}
        models.append(
            {
                "name": name,
                "url": f"models/{name}/",
                "variant": contract["variant"],
                **{"size_bytes": contract["size_bytes"], "gate": gate},
            }
        )
    index = {"models": models, "report": "report.html"}
    page.route("**/models/index.json", lambda route: route.fulfill(json=index))
    contracts = []
    page.on("request", lambda r: r.url.endswith("contract.json") and contracts.append(r.url.split("/")[-2]))
    errors = open_demo(page, demo_url)
    assert page.locator(".variant input:checked").get_attribute("value") == "tfjs-float16"
    assert page.locator("#status").inner_text() == "tfjs-float16 ready"
    assert contracts == ["tfjs-float16"]
    names, gate_texts = page.locator(".variant-name").all_inner_texts(), page.locator(".variant-gate").all_inner_texts()
    shown = dict(zip(names, gate_texts, strict=True))
    assert shown == {
        "tfjs-uint8": "gate: 97.50 % FAILED",
        "tfjs-float16": "gate: 99.05 % passed",
        "tfjs-float32": "gate: 99.07 % passed",
    }
    assert page.locator(".variant.failed .variant-name").inner_text() == "tfjs-uint8"
    assert page.locator("#report").get_attribute("href") == "report.html" and page.locator("#report").is_visible()
    assert errors.messages == []


def test_a_v2_graph_model_of_colour_pictures_classifies_the_drawing(page, demo_url, graph_run):
    """Contract v2 in the page: graph model, the digit fitted into 32x32, replicated in 3 channels, mean/std."""
    _, model = graph_run
    errors = open_demo(page, demo_url)
    draw_strokes(page, DIGIT_STROKES[2])
    page.locator(".variant", has_text=GRAPH_ARTIFACT).click()
    page.wait_for_function(f"() => window.edgekitDemo.state.last?.model === '{GRAPH_ARTIFACT}'")
    last = page.evaluate("() => window.edgekitDemo.classify()")
    assert page.locator(".bar").all_inner_texts()[0].startswith(GRAPH_LABELS[0])
    assert page.locator(".bar").count() == len(GRAPH_LABELS)
    assert page.locator("#top-digit").inner_text() in GRAPH_LABELS
    preview = page.evaluate(
        "() => [document.getElementById('preview').height, document.getElementById('preview').width]"
    )
    assert preview == [GRAPH_IMAGE["height"], GRAPH_IMAGE["width"]]
    grey = preprocess_digit(canvas_ink(page), GRAPH_IMAGE["height"], GRAPH_IMAGE["width"])
    np.testing.assert_allclose(last["input"], grey.ravel(), atol=1e-6)
    logits = model.predict(graph_model_values(grey[None]), verbose=0)
    reference = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert np.abs(np.array(last["probabilities"]) - reference[0]).max() <= 1e-5
    assert (
        "graph-model, 32×32×3 input (float32, mean_std normalization), 3 classes as logits"
        in page.locator("#model-info").inner_text()
    )
    save_screenshot(page, "web-demo-graph-rgb.png")
    assert errors.messages == []


def test_evaluation_page_runs_a_v2_graph_model(graph_run):
    """The tfjs-browser-wasm runtime's page loads a graph model from its contract and returns its raw logits."""
    run, model = graph_run
    directory = run / "artifacts" / GRAPH_ARTIFACT
    pixels = np.random.default_rng(8).integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    # The predictor takes pixels and normalizes them per channel as the contract says (mean/std here).
    probabilities = tfjs_browser.load(directory, read_contract(directory)).predict(pixels)
    scale, offset = (np.asarray(GRAPH_NORMALIZATION[k], np.float32) for k in ("scale", "offset"))
    logits = model.predict(pixels.astype(np.float32) * scale + offset, verbose=0)
    reference = np.exp(logits - logits.max(1, keepdims=True))
    reference /= reference.sum(1, keepdims=True)
    assert probabilities.shape == (6, len(GRAPH_LABELS))
    assert np.abs(probabilities - reference).max() <= 1e-5


def test_chromium_loads_the_demo_gzipped_and_a_reload_downloads_almost_nothing(tmp_path_factory, browser):
    # Served files carry ETag/Last-Modified and go gzipped: a reload revalidates instead of downloading again.
    from support import PageErrors, build_tiny_run

    from toolkit.serve.demo import make_model_server, running, tfjs_models

    run, _ = build_tiny_run(tmp_path_factory.getbasetemp())  # never gated: served as it is, not by make_server
    with running(make_model_server(tfjs_models(run), port=0)) as url:
        page = browser.new_page()
        try:
            errors = PageErrors(page)
            loads: list[list] = []
            page.on("response", lambda r: loads[-1].append(r))

            def load(action) -> tuple[dict, int]:
                loads.append([])
                action()
                page.evaluate("() => window.edgekitDemo.ready")
                page.wait_for_load_state("networkidle")
                statuses = {r.url.removeprefix(url): r.status for r in loads[-1]}
                sizes = [r.request.sizes() for r in loads[-1]]
                return statuses, sum(s["responseBodySize"] for s in sizes)

            first, first_bytes = load(lambda: page.goto(url))
            again, again_bytes = load(lambda: page.reload())
        finally:
            page.close()
    print(f"bytes received: first load {first_bytes}, reload {again_bytes}")
    assert errors.messages == []
    assert first["tfjs-core/tf-core.es2017.min.js"] == 200 and first_bytes < 1_000_000, (first, first_bytes)  # gzipped
    assert again["tfjs-core/tf-core.es2017.min.js"] == 304 and again_bytes < 20_000, (again, again_bytes)
