import functools
import json

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


# Two taste groups on six movies: users 1-4 love the animated films (1-3) and
# dislike the crime films (4-6); users 5-8 the other way round.
TINY_MOVIES = """movieId,title,genres
1,Toy Story (1995),Animation|Children|Comedy
2,Toy Story 2 (1999),Animation|Children|Comedy
3,"Bug's Life, A (1998)",Animation|Children|Comedy
4,Heat (1995),Action|Crime|Thriller
5,Casino (1995),Crime|Drama
6,"Usual Suspects, The (1995)",Crime|Mystery|Thriller
7,Empty Film (2000),(no genres listed)
"""

TINY_RATINGS = """userId,movieId,rating,timestamp
1,1,5.0,100
1,2,4.5,101
1,4,1.0,102
2,1,4.5,103
2,3,5.0,104
2,5,1.5,105
3,2,5.0,106
3,3,4.5,107
3,6,1.0,108
4,1,5.0,109
4,2,5.0,110
5,4,5.0,111
5,5,4.5,112
5,1,1.0,113
6,4,4.5,114
6,6,5.0,115
6,2,1.5,116
7,5,5.0,117
7,6,4.5,118
7,3,1.0,119
8,4,5.0,120
8,5,5.0,121
"""


# Settings under which recommendations on the tiny data above follow each
# user's own ratings. The defaults were tuned on thousands of users: ALS is
# strongly regularized and users with few ratings lean on popularity, which on
# seven movies would drown the two taste groups that these tests check.
TINY_PERSONAL_CONFIG = {
    "als": {"factors": 64, "regularization": 0.05, "alpha": 2.0, "iterations": 15},
    "blend": {
        "cold": {"collaborative": 0.25, "content": 0.45, "popularity": 0.3},
        "warm": {"collaborative": 0.75, "content": 0.1, "popularity": 0.15},
        "cold_max_ratings": 3,
        "warm_min_ratings": 20,
    },
}


def write_tiny_config(model_dir):
    """Write TINY_PERSONAL_CONFIG as the model directory's config.json, which training reads."""
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "config.json").write_text(json.dumps(TINY_PERSONAL_CONFIG), encoding="utf-8")
    return model_dir


@pytest.fixture()
def tiny_files(tmp_path):
    """Paths of a tiny MovieLens-format ratings.csv and movies.csv."""
    ratings = tmp_path / "ratings.csv"
    movies = tmp_path / "movies.csv"
    ratings.write_text(TINY_RATINGS, encoding="utf-8")
    movies.write_text(TINY_MOVIES, encoding="utf-8")
    return ratings, movies
