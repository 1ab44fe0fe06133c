"""The demo and the tfjs-browser-wasm runtime in headless Chromium, on the tiny run's TF.js artifacts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from support import (
    DIGIT_STROKES,
    GRAPH_ARTIFACT,
    GRAPH_LABELS,
    GRAPH_NORMALIZATION,
    SIGN_LABELS,
    TINY_ARTIFACTS,
    PageErrors,
    build_graph_run,
    build_signs_run,
    build_tiny_run,
    draw_strokes,
    keras_probabilities,
    sample_images,
    save_screenshot,
    skip_unless,
)

from exporters.base import read_contract
from toolkit.data.run_data import load_run_data
from toolkit.pixels.digit import area_weights, preprocess_digit
from toolkit.run import Run
from toolkit.runtimes import tfjs_browser
from toolkit.runtimes.tfjs_browser import CHROMIUM_ARGS, chromium_executable

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
def signs_run(tmp_path_factory):
    skip_unless(tfjs_browser.unavailable())
    return build_signs_run(tmp_path_factory.getbasetemp())


def served(run):
    """`edgekit serve RUN`'s page for one run (its models, its name and its test images), without the check that
    each model passed the gate: these runs are never gated, the page is what is tested."""
    from toolkit.serve.demo import make_model_server, running, tfjs_models

    return running(make_model_server(tfjs_models(run), port=0, run_dir=run))


@pytest.fixture(scope="module")
def digits_url(tiny_web_run):
    with served(tiny_web_run[0]) as url:
        yield url


@pytest.fixture(scope="module")
def shapes_url(graph_run):
    with served(graph_run[0]) as url:
        yield url


@pytest.fixture(scope="module")
def signs_url(signs_run):
    with served(signs_run[0]) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    skip_unless(tfjs_browser.unavailable())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # A fake camera (a test pattern) for getUserMedia; a context grants or refuses it with its permissions.
        args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream"]
        chromium = playwright.chromium.launch(executable_path=chromium_executable(), args=args, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def pages(browser):
    """New pages of `width` x `height` CSS pixels, each in a context of its own (closed after the test)."""
    contexts = []

    def new_page(width: int = 1100, height: int = 800, **options):
        contexts.append(browser.new_context(viewport={"width": width, "height": height}, **options))
        return contexts[-1].new_page()

    yield new_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(pages):
    return pages()


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


LAYOUT_PROBLEMS = (Path(__file__).parent / "web_layout.js").read_text()  # a function of the page: a list of sentences


def layout_problems(page) -> list[str]:
    return page.evaluate(LAYOUT_PROBLEMS)


def page_words(page) -> str:
    """Everything the page says: its visible text, title, and the labels, titles and alt texts of its elements."""
    return page.evaluate("""() => [document.title, document.body.innerText, ...[...document.querySelectorAll(
        '[aria-label], [title], [alt]')].flatMap((e) => [e.getAttribute('aria-label'), e.title, e.alt])].join(' ')""")


def shown_sources(page) -> list[str]:
    return [b.inner_text() for b in page.locator(".source").all() if b.is_visible()]


def wait_for_source(page, source: str) -> dict:
    """The prediction the page made from `source` ('draw', 'upload', 'sample', 'camera')."""
    page.wait_for_function(f"() => window.edgekitDemo.state.last?.source === '{source}'")
    return page.evaluate("() => window.edgekitDemo.state.last")


def png(pixels: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def drop_file(page, body: bytes, name: str, mime: str) -> None:
    """Drop a file on the image panel as a drag from the desktop does: a drop event carrying a DataTransfer."""
    transfer = page.evaluate_handle(
        """([bytes, name, type]) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([Uint8Array.from(bytes)], name, { type }));
            return transfer;
        }""",
        [list(body), name, mime],
    )
    page.dispatch_event("#image-panel", "drop", {"dataTransfer": transfer})


def shown_samples(page) -> list[dict]:
    return page.evaluate("() => fetch('samples/index.json').then((r) => r.json()).then((index) => index.samples)")


def graph_probabilities(model, pixels: np.ndarray) -> np.ndarray:
    """The colour model's probabilities of pixels (N, 32, 32, 3) in 0..255, normalized as its contract says."""
    scale, offset = (np.asarray(GRAPH_NORMALIZATION[k], np.float32) for k in ("scale", "offset"))
    logits = model.predict(pixels.astype(np.float32) * scale + offset, verbose=0)
    exp = np.exp(logits - logits.max(1, keepdims=True))
    return exp / exp.sum(1, keepdims=True)


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
    # A digit model: the pad with MNIST's preprocessing, in words about digits; no run named, so the model is.
    assert page.locator("#title").inner_text() == "Digit classifier"
    assert page.locator("#tagline").inner_text().startswith("Handwritten digits")
    assert page.locator("#input-title").inner_text() == "Draw a digit"
    assert shown_sources(page) == ["Draw a digit", "Image"]
    assert "MNIST" in page.locator("#preview-caption").inner_text()

    draw_strokes(page, DIGIT_STROKES[7])
    page.wait_for_function("() => window.edgekitDemo.state.last !== null")
    last = page.evaluate("() => window.edgekitDemo.classify()")
    probabilities = np.array(last["probabilities"], dtype=np.float32)
    shown = page.locator("#top-label").inner_text()
    assert shown == str(int(probabilities.argmax()))
    assert page.locator(".prediction.top .prediction-label").inner_text() == shown
    # The five most probable of the ten digits, most probable first, each with its probability.
    ranked = np.argsort(-probabilities, kind="stable")[:5]
    assert page.locator(".prediction-label").all_inner_texts() == [str(k) for k in ranked]
    assert page.locator(".prediction-value").all_inner_texts() == [f"{100 * probabilities[k]:.1f} %" for k in ranked]
    assert page.locator("#ranking-title").inner_text() == "Top 5 of 10 classes"
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


def test_digit_test_images_reach_the_model_unchanged_and_fit_a_phone(pages, digits_url, tiny_web_run):
    """`edgekit serve RUN` of a digit run at phone width: the run's name, the pad, and its test digits to click."""
    run, models = tiny_web_run
    data = load_run_data(Run.open(run))
    page = pages(390, 844)
    errors = open_demo(page, digits_url)
    assert page.locator("#title").inner_text() == run.name and page.title() == f"{run.name} · edgekit"
    assert page.locator("#draw-panel").is_visible() and shown_sources(page) == ["Draw a digit", "Image"]
    samples = shown_samples(page)
    assert len(samples) == page.locator(".sample").count() == 24
    assert [s["label"] for s in samples[:10]] == [str(k) for k in range(10)]  # one of each class first
    page.locator(".sample").nth(13).click()
    last = wait_for_source(page, "sample")
    test_index = samples[13]["test_index"]
    # A grey PNG, decoded by the browser, read back through a canvas: the very test image, no resampling.
    np.testing.assert_array_equal(np.array(last["input"]).reshape(28, 28), data.x_test[test_index])
    reference = keras_probabilities(models["cnn"], data.x_test[test_index][None].astype(np.float32), "probabilities")
    assert np.abs(np.array(last["probabilities"]) - reference[0]).max() <= 1e-5
    assert last["truth"] == samples[13]["label"] == str(data.y_test[test_index])
    assert page.locator("#truth").inner_text().startswith(f"true label: {samples[13]['label']} ")
    assert page.locator("#image-panel").is_visible() and page.locator("#draw-panel").is_hidden()
    save_screenshot(page, "web-demo-digits-test-image-390.png")
    assert layout_problems(page) == []
    page.locator(".source", has_text="Draw").click()
    draw_strokes(page, DIGIT_STROKES[3])
    assert wait_for_source(page, "draw")["model"] == "tfjs-float32"
    assert layout_problems(page) == []
    save_screenshot(page, "web-demo-digits-drawn-390.png")
    assert errors.messages == []


def test_clear_empties_the_pad_and_the_prediction(page, demo_url):
    errors = open_demo(page, demo_url)
    draw_strokes(page, DIGIT_STROKES[1])
    page.wait_for_function("() => window.edgekitDemo.state.last !== null")
    page.click("#clear")
    page.wait_for_function("() => window.edgekitDemo.state.last === null")
    assert page.locator("#top-label").inner_text() == "–"
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
    assert page.locator("#top-label").inner_text() in list("0123456789")


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


def test_switching_between_a_digit_and_a_colour_variant_changes_the_inputs_and_the_words(
    page, demo_url, graph_run, tmp_path
):
    """Contract v2 in the page: a graph model of 32x32x3 pictures with mean/std normalization gets pictures, not the
    pad, and no word about digits; back on the digit model the pad and its drawing return."""
    _, model = graph_run
    errors = open_demo(page, demo_url)
    draw_strokes(page, DIGIT_STROKES[2])
    wait_for_source(page, "draw")
    page.locator(".variant", has_text=GRAPH_ARTIFACT).click()
    page.wait_for_function(f"() => window.edgekitDemo.state.model?.spec.name === '{GRAPH_ARTIFACT}'")
    assert page.locator("#draw-panel").is_hidden() and page.locator("#image-panel").is_visible()
    assert shown_sources(page) == ["Image", "Camera"]
    assert page.locator("#title").inner_text() == "3-class colour image classifier"
    assert "digit" not in page_words(page).lower()
    assert page.evaluate("() => window.edgekitDemo.state.last") is None
    assert page.locator("#ranking-title").inner_text() == "All 3 classes"
    pixels = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    (tmp_path / "picture.png").write_bytes(png(pixels))
    page.set_input_files("#file", str(tmp_path / "picture.png"))
    last = wait_for_source(page, "upload")
    np.testing.assert_array_equal(np.array(last["input"]).reshape(32, 32, 3), pixels)  # the model's size: as it is
    assert np.abs(np.array(last["probabilities"]) - graph_probabilities(model, pixels[None])[0]).max() <= 1e-5
    assert sorted(page.locator(".prediction-label").all_inner_texts()) == sorted(GRAPH_LABELS)
    preview = page.evaluate(
        "() => [document.getElementById('preview').height, document.getElementById('preview').width]"
    )
    assert preview == [32, 32]
    assert (
        "graph-model, 32×32×3 input (float32, mean_std normalization), 3 classes as logits"
        in page.locator("#model-info").inner_text()
    )
    page.locator(".variant", has_text="tfjs-float32").click()
    page.wait_for_function("() => window.edgekitDemo.state.model?.spec.name === 'tfjs-float32'")
    # The picture stays the chosen input: the digit model classifies it in grey, at its own size.
    assert wait_for_source(page, "upload")["model"] == "tfjs-float32"
    assert len(page.evaluate("() => window.edgekitDemo.state.last.input")) == 28 * 28
    page.locator(".source", has_text="Draw").click()
    assert wait_for_source(page, "draw")["model"] == "tfjs-float32"  # the drawing was kept
    assert page.locator("#input-title").inner_text() == "Draw a digit"
    assert errors.messages == []


def test_colour_model_classifies_uploads_drops_and_test_images_on_wide_and_phone_screens(
    pages, shapes_url, graph_run, tmp_path
):
    """A 3-class RGB model served with its run: pictures from the file picker, a drop and the run's test images,
    each cropped, resized and normalized as Python would, every label shown and nothing overflowing."""
    run, model = graph_run
    data = load_run_data(Run.open(run))
    rng = np.random.default_rng(9)
    wide = rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)  # cropped to its centre 64x64, halved
    (tmp_path / "wide.png").write_bytes(png(wide))
    tall = rng.integers(0, 256, (50, 40, 3), dtype=np.uint8)  # cropped to 40x40 (rows 5..44), resized by 0.8
    weights = area_weights(40, 32)
    for width in (1280, 390):
        page = pages(width, 900)
        errors = open_demo(page, shapes_url)
        assert page.locator("#title").inner_text() == run.name
        assert "3 classes (circle, line, cross)" in page.locator("#tagline").inner_text()
        assert "digit" not in page_words(page).lower()
        assert shown_sources(page) == ["Image", "Camera"] and page.locator("#draw-panel").is_hidden()
        assert (
            "cropped to the model's aspect and resized to 32×32, in colour"
            in page.locator("#preview-caption").inner_text()
        )

        page.set_input_files("#file", str(tmp_path / "wide.png"))
        last = wait_for_source(page, "upload")
        expected = wide[:, 16:80].reshape(32, 2, 32, 2, 3).astype(np.float64).mean(axis=(1, 3))
        np.testing.assert_allclose(np.array(last["input"]).reshape(32, 32, 3), expected, atol=1e-4)
        reference = graph_probabilities(model, expected[None])[0]
        assert np.abs(np.array(last["probabilities"]) - reference).max() <= 1e-5
        assert page.locator("#ranking-title").inner_text() == "All 3 classes"
        assert page.locator(".prediction-label").all_inner_texts() == [r["label"] for r in last["top"]]
        assert sorted(page.locator(".prediction-label").all_inner_texts()) == sorted(GRAPH_LABELS)
        assert page.locator("#top-label").inner_text() == last["top"][0]["label"]

        before = page.evaluate("() => window.edgekitDemo.state.predictions")
        drop_file(page, png(tall), "tall.png", "image/png")
        page.wait_for_function(f"() => window.edgekitDemo.state.predictions > {before}")
        last = page.evaluate("() => window.edgekitDemo.state.last")
        assert last["source"] == "upload"
        expected = np.einsum("ij,jkc,lk->ilc", weights, tall[5:45].astype(np.float64), weights)
        np.testing.assert_allclose(np.array(last["input"]).reshape(32, 32, 3), expected, atol=1e-3)
        drop_file(page, b"not a picture", "notes.txt", "text/plain")
        page.wait_for_selector("#input-message:has-text('not a picture this browser can read')")

        samples = shown_samples(page)
        assert page.locator(".sample").count() == len(samples) == 24
        assert {s["label"] for s in samples} == set(GRAPH_LABELS)
        page.locator(".sample").nth(4).click()
        last = wait_for_source(page, "sample")
        test_index = samples[4]["test_index"]
        np.testing.assert_array_equal(np.array(last["input"]).reshape(32, 32, 3), data.x_test[test_index])
        reference = graph_probabilities(model, data.x_test[test_index][None])[0]
        assert np.abs(np.array(last["probabilities"]) - reference).max() <= 1e-5
        assert page.locator("#truth").inner_text().startswith(f"true label: {samples[4]['label']} ")
        assert page.locator(".sample.chosen").count() == 1
        assert layout_problems(page) == []
        save_screenshot(page, f"web-demo-rgb-{width}.png")
        assert errors.messages == []


def test_camera_frames_are_classified_and_a_refused_camera_is_explained(pages, shapes_url):
    page = pages(1280, 900, permissions=["camera"])
    errors = open_demo(page, shapes_url)
    page.locator(".source", has_text="Camera").click()
    last = wait_for_source(page, "camera")  # Chromium's fake camera: a moving test pattern
    assert len(last["input"]) == 32 * 32 * 3 and last["top"][0]["label"] in GRAPH_LABELS
    assert page.evaluate("() => !document.getElementById('camera').paused")
    assert page.locator("#input-title").inner_text() == "Camera"
    page.wait_for_function("() => window.edgekitDemo.state.predictions > 3")  # frame after frame
    save_screenshot(page, "web-demo-rgb-camera.png")
    assert layout_problems(page) == []
    page.locator(".source", has_text="Image").click()
    assert page.evaluate("() => document.getElementById('camera').srcObject") is None  # the camera is off
    assert page.evaluate("() => window.edgekitDemo.state.last") is None
    assert errors.messages == []

    refused = pages(1280, 900)  # no camera permission in this context
    errors = open_demo(refused, shapes_url)
    refused.locator(".source", has_text="Camera").click()
    message = refused.locator("#input-message")
    message.wait_for()
    assert message.inner_text().startswith("Camera access was denied.")
    assert refused.evaluate("() => window.edgekitDemo.state.last") is None
    assert errors.messages == []


def test_43_long_class_names_fit_a_ranked_list_on_wide_and_phone_screens(pages, signs_url, signs_run):
    """A grey sketch model with 43 long class names: the pad scaled as drawn (no MNIST centring), the five most
    probable classes listed, long names wrapped or cut with their whole in a title, nothing overflowing."""
    run, model = signs_run
    longest = max(SIGN_LABELS, key=len)
    for width in (1280, 390):
        page = pages(width, 900)
        errors = open_demo(page, signs_url)
        assert "digit" not in page_words(page).lower()
        assert page.locator("#input-title").inner_text() == "Draw" and shown_sources(page) == ["Draw", "Image"]
        assert "as drawn" in page.locator("#preview-caption").inner_text()
        draw_strokes(page, DIGIT_STROKES[4])
        last = wait_for_source(page, "draw")
        page.wait_for_timeout(100)  # a stroke's last frame
        last = page.evaluate("() => window.edgekitDemo.classify()")
        weights = area_weights(280, 32)
        expected = weights @ (canvas_ink(page) / 255.0) @ weights.T
        np.testing.assert_allclose(np.array(last["input"]).reshape(32, 32), expected, atol=1e-6)
        reference = model.predict(expected[None, ..., None].astype(np.float32), verbose=0)[0]
        assert np.abs(np.array(last["probabilities"]) - reference).max() <= 1e-5
        assert page.locator("#ranking-title").inner_text() == "Top 5 of 43 classes"
        labels = page.locator(".prediction-label")
        assert labels.count() == 5 and labels.all_inner_texts() == [r["label"] for r in last["top"]]
        assert [labels.nth(k).get_attribute("title") for k in range(5)] == [r["label"] for r in last["top"]]
        assert page.locator("#top-label").get_attribute("title") == longest  # its biases put it on top
        # Wrapped, at most two lines a row and three for the top label.
        line = float(
            page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.prediction-label')).lineHeight)")
        )
        assert max(box["height"] for box in (labels.nth(k).bounding_box() for k in range(5))) <= 2 * line + 1
        assert layout_problems(page) == []
        save_screenshot(page, f"web-demo-43-classes-drawn-{width}.png")
        page.locator(".sample", has_text="No passing for vehicles").click()
        assert wait_for_source(page, "sample")["truth"] == "No passing for vehicles over 3.5 metric tons"
        assert layout_problems(page) == []
        save_screenshot(page, f"web-demo-43-classes-{width}.png")
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


@pytest.fixture(scope="module")
def lite_run(tiny_web_run, tmp_path_factory):
    """A copy of the tiny run with only its graph models (ops the lite TF.js has), and a report that says they
    passed on Chromium's wasm only: the page of an exported CNN, as `edgekit serve` shows it after the default gate."""
    import shutil

    from support import passed_report

    run = tmp_path_factory.mktemp("lite") / "run"
    shutil.copytree(tiny_web_run[0], run)
    passed_report(run, runtime="tfjs-chromium-wasm")
    return run


@pytest.fixture(scope="module")
def lite_url(lite_run):
    from toolkit.serve.demo import make_model_server, running, tfjs_models

    graphs = {name: path for name, path in tfjs_models(lite_run).items() if name != "tfjs-flat-logits"}
    with running(make_model_server(graphs, port=0, run_dir=lite_run)) as url:
        yield url


def test_lite_tfjs_predicts_what_the_full_tfjs_does_and_fetches_the_wasm_once(pages, lite_url):
    """The page's small TF.js build (web_demo/lite/) against the full TF.js scripts (`?tfjs=full`), on digits."""
    digits = np.round(sample_images(12, seed=11)).astype(np.uint8)
    outputs, fetched = {}, {}
    for query in ("", "?tfjs=full"):
        page = pages()
        errors = open_demo(page, lite_url + query)
        outputs[query] = np.array(
            page.evaluate(
                """([pixels, count]) => Array.from({length: count}, (_, k) => Array.from(
                    window.edgekitDemo.drawImage(pixels.slice(k * 784, (k + 1) * 784), 28, 28).probabilities))""",
                [digits.ravel().tolist(), len(digits)],
            )
        )
        fetched[query] = page.evaluate(
            "() => performance.getEntriesByType('resource').map((r) => new URL(r.name).pathname.slice(1))"
        )
        assert page.evaluate("() => [window.tf.lite === true, window.edgekitDemo.state.backend]") == [not query, "wasm"]
        assert errors.messages == []
    np.testing.assert_array_equal(outputs[""], outputs["?tfjs=full"])
    assert "tfjs-lite/tf-lite.js" in fetched[""] and not any(f.startswith("tfjs-core/") for f in fetched[""])
    assert "tfjs-core/tf-core.es2017.min.js" in fetched["?tfjs=full"]
    for query, files in fetched.items():  # the backend takes boot.js's bytes: the binary is downloaded once
        assert [f for f in files if f.endswith(".wasm")] == ["tfjs-backend-wasm/tfjs-backend-wasm-simd.wasm"], query


def test_backend_picker_switches_backends_and_shows_each_ones_verdict(page, lite_url):
    """The report says the models passed on Chromium's wasm only: wasm is "verified", WebGL "not verified"."""
    errors = open_demo(page, lite_url)
    digit = np.round(sample_images(1, seed=4)[0]).astype(np.uint8).ravel().tolist()
    draw = "(pixels) => window.edgekitDemo.drawImage(Float32Array.from(pixels), 28, 28).probabilities"
    shown = {}
    for backend, verdict, words in (("wasm", "passed", "verified"), ("webgl", "none", "not verified")):
        if backend != "wasm":
            with page.expect_navigation():
                page.select_option("#backend-picker", backend)
            page.evaluate("() => window.edgekitDemo.ready")
        assert page.locator("#backend").inner_text() == backend
        assert page.locator("#backend-picker").input_value() == backend
        badge = page.locator("#backend-verdict")
        assert (badge.inner_text(), badge.get_attribute("data-verdict")) == (words, verdict)
        assert (f"tfjs-chromium-{backend}" in badge.get_attribute("title")) and badge.is_visible()
        # only the default wasm page takes the lite TF.js: another backend loads the full one, on demand
        assert page.evaluate("() => window.tf.lite === true") == (backend == "wasm")
        shown[backend] = np.array(page.evaluate(draw, digit))
    assert page.url.endswith("?backend=webgl")
    assert shown["webgl"].argmax() == shown["wasm"].argmax() and np.abs(shown["webgl"] - shown["wasm"]).max() < 1e-4
    with page.expect_navigation():
        page.select_option("#backend-picker", "wasm")
    page.evaluate("() => window.edgekitDemo.ready")
    assert "backend=" not in page.url and page.locator("#backend-verdict").inner_text() == "verified"
    assert layout_problems(page) == []
    assert errors.messages == []


@pytest.fixture(scope="module")
def litert_url(tiny_run, tmp_path_factory):
    """A copy of the tiny run (it has the pixels artifacts) whose report also says LiteRT.js in Chromium passed its
    float32 pixels file, and not the uint8 one (as after `edgekit validate RUN --targets litertjs-chromium-wasm` had
    judged one file only); served with its TF.js models and the pixels .tflite files."""
    import shutil

    from toolkit.serve.demo import litertjs_models, make_model_server, running, tfjs_models

    skip_unless(tfjs_browser.unavailable())
    run = Path(shutil.copytree(tiny_run, tmp_path_factory.mktemp("litert") / "run"))
    report = json.loads((run / "report.json").read_text())
    entries = {(e["name"], e["runtime"]): e for e in report["artifacts"]}
    assert not any(runtime == "litertjs-chromium-wasm" for _, runtime in entries)  # not in the default gate
    litert_entry = entries[("tflite-pixels-float32", "litert")]
    assert litert_entry["passed"]
    report["artifacts"].append(litert_entry | {"runtime": "litertjs-chromium-wasm"})
    (run / "report.json").write_text(json.dumps(report))
    assert Run.open(run).report() == report  # still a report edgekit reads
    models = {**tfjs_models(run), **litertjs_models(run)}
    assert set(litertjs_models(run)) == {"tflite-pixels-float32", "tflite-pixels-uint8"}
    with running(make_model_server(models, port=0, run_dir=run)) as url:
        yield url, run


def test_litertjs_runs_the_pixels_tflite_and_predicts_what_tfjs_does(pages, litert_url):
    """?backend=litertjs (the runtime picker's LiteRT.js entry) runs the run's pixels .tflite files in @litertjs/core:
    a drawn digit gets the TF.js float32 model's probabilities from the float32 file, the LiteRT interpreter's from
    the uint8 file, an uploaded picture goes in as RGB; the badge shows litertjs-chromium-wasm's verdict of the file
    shown, and the default page never fetches LiteRT.js."""
    from toolkit.runtimes import litert

    url, run = litert_url
    digits = np.round(sample_images(3, seed=21)).astype(np.uint8)
    draw = "([pixels]) => window.edgekitDemo.drawImage(Float32Array.from(pixels), 28, 28)"
    page = pages()
    errors = open_demo(page, url)
    page.evaluate("() => window.edgekitDemo.selectModel('tfjs-float32')")
    tfjs = [page.evaluate(draw, [d.ravel().tolist()]) for d in digits]
    rgb = png(np.repeat(digits[0][..., None], 3, axis=-1))
    drop_file(page, rgb, "digit.png", "image/png")
    page.wait_for_function("() => window.edgekitDemo.state.last?.source === 'upload'")
    tfjs_upload = page.evaluate("() => window.edgekitDemo.state.last")
    fetched = page.evaluate("() => performance.getEntriesByType('resource').map((r) => new URL(r.name).pathname)")
    assert not any(path.startswith("/litertjs") for path in fetched)  # the default page is as before
    with page.expect_navigation():
        page.select_option("#backend-picker", "litertjs")
    page.evaluate("() => window.edgekitDemo.ready")
    assert page.url.endswith("?backend=litertjs") and page.locator("#backend").inner_text() == "litertjs"
    assert page.evaluate("() => window.tf === undefined")  # no TF.js on this page
    variants = page.locator(".variant input").evaluate_all("(inputs) => inputs.map((i) => i.value)")
    assert sorted(variants) == ["tflite-pixels-float32", "tflite-pixels-uint8"]
    badge = page.locator("#backend-verdict")
    for name, words in (("tflite-pixels-uint8", "not verified"), ("tflite-pixels-float32", "verified")):
        page.evaluate("(name) => window.edgekitDemo.selectModel(name)", name)
        assert badge.inner_text() == words and "litertjs-chromium-wasm" in badge.get_attribute("title"), name
        assert page.locator("#input-title").inner_text() == "Draw a digit"  # the gray model's pad, RGB inside
        assert page.locator("#tagline").inner_text().endswith("by the exported .tflite in LiteRT.js.")
        shown = [page.evaluate(draw, [d.ravel().tolist()]) for d in digits]
        assert all(s["model"] == name for s in shown)
        got = np.array([s["probabilities"] for s in shown])
        if name == "tflite-pixels-float32":
            expected = np.array([t["probabilities"] for t in tfjs])
            assert (got.argmax(1) == expected.argmax(1)).all() and np.abs(got - expected).max() < 1e-4
        else:  # the integer file: what the LiteRT interpreter gives for the same RGB pixels
            artifact = Run.open(run).artifact(name)
            pixels = np.array([s["input"] for s in shown], np.float64).reshape(-1, 28, 28) * 255
            expected = litert.load(run / "artifacts" / name, artifact).predict(pixels)
            assert np.abs(got - expected).max() <= 1e-6
    # An uploaded picture reaches the file in RGB (three values a pixel), classified as TF.js classifies it.
    drop_file(page, rgb, "digit.png", "image/png")
    page.wait_for_function("() => window.edgekitDemo.state.last?.source === 'upload'")
    upload = page.evaluate("() => window.edgekitDemo.state.last")
    assert len(upload["input"]) == 28 * 28 * 3 and upload["model"] == "tflite-pixels-float32"
    assert len(tfjs_upload["input"]) == 28 * 28 and tfjs_upload["model"] == "tfjs-float32"
    assert np.abs(np.array(upload["probabilities"]) - tfjs_upload["probabilities"]).max() < 1e-4
    assert page.evaluate("() => window.edgekitDemo.state.backend") == "litertjs"
    # LiteRT's wasm writes its own INFO and WARNING log lines (no NPU here ...) to stderr, shown as console errors
    assert [m for m in errors.messages if not re.match(r"console: (INFO|WARNING): ", m)] == []
