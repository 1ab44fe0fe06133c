"""QAT preparation: folding Dense -> BatchNormalization pairs exactly, so the QAT model converts to integer ops."""

from __future__ import annotations

import numpy as np

from toolkit.config import Architecture
from toolkit.modeling.architectures import build_model
from toolkit.modeling.qat import fold_dense_batch_norm


def test_fold_is_exact_and_removes_batch_norm():
    import tf_keras as keras

    model = build_model(Architecture.CNN_BN)
    norm = next(layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization))
    rng = np.random.default_rng(0)
    # Statistics far from the initial identity, as after training.
    norm.set_weights([rng.uniform(0.5, 2, 128), rng.normal(0, 1, 128), rng.normal(0, 1, 128), rng.uniform(0.1, 3, 128)])
    folded = fold_dense_batch_norm(model)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    assert len(folded.layers) == len(model.layers) - 1
    images = rng.random((16, 28, 28, 1)).astype(np.float32)
    np.testing.assert_allclose(folded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-5)


def test_models_without_the_pair_are_left_alone():
    model = build_model(Architecture.CNN)
    assert fold_dense_batch_norm(model) is model
