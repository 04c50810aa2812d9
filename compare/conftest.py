"""Shared fixtures of the differential suite: built models (cached) and inputs."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the differential suite needs the [all] extra")
pytest.importorskip("ai_edge_litert", reason="the differential suite needs ai-edge-litert")


@pytest.fixture(scope="session")
def seed_models() -> dict[str, bytes]:
    from compare.zoo.seed_cnn import seed_cnn_models

    return seed_cnn_models()


@pytest.fixture(scope="session")
def seed_heldout() -> tuple[np.ndarray, np.ndarray]:
    from compare.zoo.seed_cnn import seed_cnn_heldout

    return seed_cnn_heldout()


@pytest.fixture(scope="session")
def seed_inputs(seed_models, seed_heldout) -> dict[str, np.ndarray]:
    """All held-out images in each variant's input dtype."""
    from compare.demo import model_inputs

    x, _ = seed_heldout
    return {v: model_inputs(m, x) for v, m in seed_models.items()}
