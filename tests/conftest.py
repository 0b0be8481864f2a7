import functools

import pytest

from api import create_app
from hybrid.data import load_bundled
from hybrid.model import HybridRecommender


@functools.cache
def train_bundled_model():
    """Train the default configuration on the bundled data once per test run."""
    return HybridRecommender().fit(load_bundled())


@pytest.fixture(scope="session")
def bundled_data():
    return load_bundled()


@pytest.fixture(scope="session")
def bundled_model():
    return train_bundled_model()


@pytest.fixture(scope="session")
def app(bundled_model):
    return create_app({"MODEL": bundled_model, "TESTING": True})


@pytest.fixture()
def client(app):
    return app.test_client()
