"""Full tier: TF.js in Node and in Chromium agree with Keras on real MNIST, and the demo reads real digits right."""

from __future__ import annotations

import json

import numpy as np
import pytest
from support import DIGIT_STROKES, PageErrors, draw_strokes, save_screenshot, skip_unless

from toolkit.runtimes import tfjs_browser, tfjs_node

pytestmark = pytest.mark.mnist

# Top-1 agreement with Keras on the 10k test images: float32 must be the same model; quantized weights may flip
# near-ties (measured on 3-epoch CNN runs: float16 none of 10k, uint8 0 to 2).
MIN_AGREEMENT = {"float32": 0.999, "float16": 0.999, "uint8": 0.995}
RENDERED_DIGITS = 500  # MNIST test digits drawn into the demo's canvas and read back through its preprocessing
MIN_RENDERED_ACCURACY = 0.96
MIN_MOUSE_CORRECT = len(DIGIT_STROKES) - 1  # of the fixed mouse-drawn digits


@pytest.fixture(scope="module")
def mnist_test():
    from toolkit.data.datasets import load_data

    data = load_data()
    return data.x_test.astype(np.float32) / 255.0, data.y_test.astype(np.int64)


@pytest.mark.parametrize("runtime", [tfjs_node, tfjs_browser], ids=["node", "browser"])
def test_tfjs_agrees_with_keras_on_10k_mnist(mnist_run, runtime):
    """The gate of the real pipeline evaluated every TF.js variant on all 10k images in this JavaScript runtime."""
    skip_unless(runtime.unavailable())
    report = json.loads((mnist_run / "report.json").read_text())
    entries = {a["variant"]: a for a in report["artifacts"] if a["runtime"] == runtime.NAME}
    assert set(entries) == set(MIN_AGREEMENT)
    for variant, entry in entries.items():
        print(
            f"{runtime.NAME} {entry['name']}: agreement {entry['agreement']:.2f}%, "
            f"max |delta p| {entry['max_abs_prob_delta']:.2e}, {entry['seconds']:.1f} s"
        )
        assert entry["passed"] and entry["images"] == 10000
        assert entry["agreement"] >= 100 * MIN_AGREEMENT[variant], entry["name"]
    assert entries["float32"]["max_abs_prob_delta"] <= 1e-4


def test_demo_classifies_real_digits_and_mouse_drawings(mnist_run, mnist_test):
    skip_unless(tfjs_browser.unavailable())
    from playwright.sync_api import sync_playwright

    from toolkit.serve.demo import make_server, running

    images, labels = mnist_test
    pixels = np.round(images[:RENDERED_DIGITS] * 255).astype(np.uint8)
    with running(make_server(mnist_run, port=0)) as url, sync_playwright() as playwright:
        browser = tfjs_browser.launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            errors = PageErrors(page)
            page.goto(url)
            page.evaluate("() => window.edgekitDemo.ready")
            assert page.locator("#backend").inner_text() == "wasm"
            # Each digit goes through the canvas: upscaled into the pad, read back as ink, preprocessed, classified.
            predicted = np.array(
                page.evaluate(
                    """([pixels, count]) => Array.from({length: count}, (_, k) => {
                const p = window.edgekitDemo.drawImage(pixels.slice(k * 784, (k + 1) * 784), 28, 28).probabilities;
                return p.indexOf(Math.max(...p));
            })""",
                    [pixels.ravel().tolist(), RENDERED_DIGITS],
                )
            )
            rendered_accuracy = (predicted == labels[:RENDERED_DIGITS]).mean()
            print(f"rendered MNIST digits: {rendered_accuracy:.1%} right")
            assert rendered_accuracy >= MIN_RENDERED_ACCURACY

            correct = []
            for digit, strokes in DIGIT_STROKES.items():
                page.click("#clear")
                draw_strokes(page, strokes)
                page.evaluate("() => window.edgekitDemo.classify()")  # the whole drawing, not a frame mid-stroke
                shown = page.locator("#top-label").inner_text()
                correct.append(shown == str(digit))
                save_screenshot(page, f"web-demo-mnist-drawn-{digit}.png")
            print(f"mouse-drawn digits: {sum(correct)} of {len(correct)} right")
            assert sum(correct) >= MIN_MOUSE_CORRECT
            assert errors.messages == []
        finally:
            browser.close()


def lite_and_full_probabilities(run_dir, pixels: np.ndarray) -> dict[str, np.ndarray]:
    """The served page's probabilities of digits drawn into its pad, with the lite TF.js and with ?tfjs=full."""
    from playwright.sync_api import sync_playwright

    from toolkit.serve.demo import make_server, running

    shown = {}
    with running(make_server(run_dir, port=0)) as url, sync_playwright() as playwright:
        browser = tfjs_browser.launch_chromium(playwright)
        try:
            for query in ("", "?tfjs=full"):
                page = browser.new_page()
                errors = PageErrors(page)
                page.goto(url + query)
                page.evaluate("() => window.edgekitDemo.ready")
                assert page.evaluate("() => window.tf.lite === true") == (query == ""), query
                shown[query] = np.array(
                    page.evaluate(
                        """([pixels, count]) => Array.from({length: count}, (_, k) => Array.from(window.edgekitDemo
                            .drawImage(pixels.slice(k * 784, (k + 1) * 784), 28, 28).probabilities))""",
                        [pixels.ravel().tolist(), len(pixels)],
                    )
                )
                assert errors.messages == []
                page.close()
        finally:
            browser.close()
    return shown


def test_the_default_page_takes_the_lite_tfjs_and_predicts_what_the_full_one_does(mnist_run, mnist_test):
    """The real pipeline's graphs (fused convolutions and dense layers) in the lite build: the same probabilities."""
    skip_unless(tfjs_browser.unavailable())
    images, labels = mnist_test
    pixels = np.round(images[:40] * 255).astype(np.uint8)
    shown = lite_and_full_probabilities(mnist_run, pixels)
    np.testing.assert_array_equal(shown[""], shown["?tfjs=full"])
    assert (shown[""].argmax(1) == labels[:40]).mean() >= MIN_RENDERED_ACCURACY
