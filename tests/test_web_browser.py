"""The demo and the tfjs-browser-wasm runtime in headless Chromium, on the tiny run's TF.js artifacts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import (
    DIGIT_STROKES,
    TINY_ARTIFACTS,
    PageErrors,
    build_tiny_run,
    draw_strokes,
    keras_probabilities,
    sample_images,
    save_screenshot,
    skip_unless,
)

from exporters.base import read_contract
from toolkit.preprocess import preprocess_digit
from toolkit.runtimes import tfjs_browser

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def tiny_web_run(tmp_path_factory):
    skip_unless(tfjs_browser.unavailable())
    return build_tiny_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def demo_url(tiny_web_run):
    from toolkit.serve import make_server, running

    with running(make_server(tiny_web_run[0], port=0)) as url:
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
    }
    assert page.locator(".variant input:checked").get_attribute("value") == "tfjs-float32"

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
