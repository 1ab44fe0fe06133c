"""Full tier: TF.js in Node and in Chromium agree with Keras on real MNIST, and the demo reads real digits right."""

from __future__ import annotations

import numpy as np
import pytest

from exporters.base import read_contract
from test_web_support import DIGIT_STROKES, PageErrors, draw_strokes, save_screenshot, skip_unless
from toolkit.runtimes import tfjs_browser, tfjs_node

pytestmark = pytest.mark.full

# Top-1 agreement with Keras on the 10k test images: float32 must be the same model; quantized weights may flip
# near-ties (measured on 3-epoch CNN runs: float16 none of 10k, uint8 0 to 2).
MIN_AGREEMENT = {"float32": 0.999, "float16": 0.999, "uint8": 0.995}
RENDERED_DIGITS = 500  # MNIST test digits drawn into the demo's canvas and read back through its preprocessing
MIN_RENDERED_ACCURACY = 0.96
MIN_MOUSE_CORRECT = len(DIGIT_STROKES) - 1  # of the fixed mouse-drawn digits


@pytest.fixture(scope="module")
def mnist_test():
    from toolkit.data import load_data

    data = load_data()
    return data.x_test.astype(np.float32) / 255.0, data.y_test.astype(np.int64)


@pytest.fixture(scope="module")
def keras_reference(mnist_run, mnist_test):
    """Keras probabilities of each reference model (by contract source), on all 10k test images."""
    from toolkit.keras_model import load_keras_model
    from toolkit.run import Run
    from toolkit.runtimes.keras import KerasPredictor

    run = Run.open(mnist_run)
    cache = {}

    def probabilities(source: str) -> np.ndarray:
        if source not in cache:
            cache[source] = KerasPredictor(load_keras_model(run.model_path(source))).predict(mnist_test[0])
        return cache[source]

    return probabilities


def tfjs_artifacts(run_dir):
    artifacts = sorted((run_dir / "artifacts").glob("tfjs-*/contract.json"))
    assert artifacts, f"{run_dir} has no TF.js artifact"
    return [(path.parent, read_contract(path.parent)) for path in artifacts]


@pytest.mark.parametrize("runtime", [tfjs_node, tfjs_browser], ids=["node", "browser"])
def test_tfjs_agrees_with_keras_on_10k_mnist(mnist_run, mnist_test, keras_reference, runtime):
    skip_unless(runtime.unavailable())
    images, labels = mnist_test
    for directory, artifact in tfjs_artifacts(mnist_run):
        predictor = runtime.load(directory, artifact)
        count = predictor.max_images or len(images)
        probabilities = predictor.predict(images[:count])
        reference = keras_reference(artifact.source)[:count]
        agreement = (probabilities.argmax(1) == reference.argmax(1)).mean()
        accuracy = (probabilities.argmax(1) == labels[:count]).mean()
        print(f"{runtime.RUNTIME} {artifact.name}: {count} images, agreement {agreement:.4%}, accuracy {accuracy:.4%}, "
              f"max |delta p| {np.abs(probabilities - reference).max():.2e}, {predictor.last_run['seconds']:.1f} s")
        assert count == len(images)
        assert agreement >= MIN_AGREEMENT[artifact.variant.value], artifact.name
        if artifact.variant.value == "float32":
            assert np.abs(probabilities - reference).max() <= 1e-4


def test_demo_classifies_real_digits_and_mouse_drawings(mnist_run, mnist_test, keras_reference):
    skip_unless(tfjs_browser.unavailable())
    from playwright.sync_api import sync_playwright

    from toolkit.serve import make_server, running

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
            predicted = np.array(page.evaluate("""([pixels, count]) => Array.from({length: count}, (_, k) => {
                const p = window.edgekitDemo.drawImage(pixels.slice(k * 784, (k + 1) * 784), 28, 28).probabilities;
                return p.indexOf(Math.max(...p));
            })""", [pixels.ravel().tolist(), RENDERED_DIGITS]))
            rendered_accuracy = (predicted == labels[:RENDERED_DIGITS]).mean()
            keras_accuracy = (keras_reference("float").argmax(1)[:RENDERED_DIGITS] == labels[:RENDERED_DIGITS]).mean()
            print(f"rendered MNIST digits: {rendered_accuracy:.1%} right (Keras on the raw digits: {keras_accuracy:.1%})")
            assert rendered_accuracy >= MIN_RENDERED_ACCURACY

            correct = []
            for digit, strokes in DIGIT_STROKES.items():
                page.click("#clear")
                draw_strokes(page, strokes)
                page.evaluate("() => window.edgekitDemo.classify()")  # the whole drawing, not a frame mid-stroke
                shown = page.locator("#top-digit").inner_text()
                correct.append(shown == str(digit))
                save_screenshot(page, f"web-demo-mnist-drawn-{digit}.png")
            print(f"mouse-drawn digits: {sum(correct)} of {len(correct)} right")
            assert sum(correct) >= MIN_MOUSE_CORRECT
            assert errors.messages == []
        finally:
            browser.close()
