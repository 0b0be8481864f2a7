"""Reasons for recommendations: which liked movie explains each recommended movie."""

import numpy as np
import pytest

from hybrid.config import HybridConfig
from hybrid.data import load_movielens_csv
from hybrid.model import HybridRecommender
from hybrid.reasons import explain
from tests.conftest import TINY_PERSONAL_CONFIG
from tests.test_model import TINY_CONFIG


@pytest.fixture()
def tiny_model(tiny_files):
    return HybridRecommender(HybridConfig.from_dict(TINY_CONFIG)).fit(load_movielens_csv(*tiny_files))


def reasons_by_movie(result):
    return {item["movie_id"]: item["reason"] for item in result.items}


def test_liked_animation_explains_the_other_animated_films(tiny_model):
    result = tiny_model.recommend_for_ratings([(1, 5.0), (4, 1.0)], n=5)

    reasons = reasons_by_movie(result)
    for movie_id in (2, 3):
        assert reasons[movie_id]["movie_id"] == 1
        assert reasons[movie_id]["title"] == "Toy Story (1995)"
        assert reasons[movie_id]["rating"] == 5.0
        assert reasons[movie_id]["kind"] in ("content", "collaborative", "ease", "rp3beta")
        assert 0.0 < reasons[movie_id]["share"] <= 1.0


def test_disliked_movie_is_never_a_reason(tiny_model):
    result = tiny_model.recommend_for_ratings([(1, 5.0), (4, 1.0)], n=5)

    named = {reason["movie_id"] for reason in reasons_by_movie(result).values() if reason is not None}
    assert named == {1}


def test_only_low_ratings_give_no_reasons(tiny_model):
    result = tiny_model.recommend_for_ratings([(4, 1.0), (5, 1.5)], n=5)

    assert result.items
    assert [item["reason"] for item in result.items] == [None] * len(result.items)


def test_popularity_fallback_has_no_reasons(tiny_model):
    result = tiny_model.recommend_for_ratings([], n=3)

    assert result.fallback == "popularity"
    assert [item["reason"] for item in result.items] == [None, None, None]


def test_known_user_gets_a_reason_from_their_history(tiny_files):
    # User 4 rated movies 1 and 2 (both 5.0); movie 3 is the remaining animated
    # film. The default cold weights lean on popularity and RP3beta, which
    # ignore genres, so this test weighs content and ALS instead.
    config = HybridConfig.from_dict({**TINY_CONFIG, "blend": TINY_PERSONAL_CONFIG["blend"]})
    model = HybridRecommender(config).fit(load_movielens_csv(*tiny_files))

    item = model.recommend(4, n=1).items[0]

    assert item["movie_id"] == 3
    assert item["reason"]["movie_id"] in (1, 2)
    assert item["reason"]["rating"] == 5.0


def test_reason_kind_follows_the_dominant_component(tiny_model):
    # With only content weighted, every reason is a content reason; with only
    # collaborative, a collaborative one.
    ratings = np.array([5.0, 4.5], dtype=np.float32)
    items = np.array([tiny_model.movie_index(1), tiny_model.movie_index(6)])
    recommended = np.array([tiny_model.movie_index(2), tiny_model.movie_index(4)])
    parts = {"collaborative": np.ones(7, dtype=np.float32), "content": np.ones(7, dtype=np.float32)}

    content_only = explain(recommended, items, ratings, parts, {"content": 1.0}, content=tiny_model.content, als=tiny_model.als)
    collaborative_only = explain(
        recommended, items, ratings, parts, {"collaborative": 1.0}, content=tiny_model.content, als=tiny_model.als
    )

    assert [reason.kind for reason in content_only] == ["content", "content"]
    assert [reason.kind for reason in collaborative_only] == ["collaborative", "collaborative"]
    # Toy Story 2 shares Toy Story's genres and title words; Heat shares the
    # crime genre and thriller with The Usual Suspects.
    assert [reason.rated_index for reason in content_only] == list(items)


def test_share_is_the_reasons_part_of_the_positive_terms(tiny_model):
    items = np.array([tiny_model.movie_index(1), tiny_model.movie_index(3)])
    ratings = np.array([5.0, 4.0], dtype=np.float32)
    recommended = np.array([tiny_model.movie_index(2)])
    parts = {"content": np.ones(7, dtype=np.float32)}

    (reason,) = explain(recommended, items, ratings, parts, {"content": 1.0}, content=tiny_model.content)

    terms = tiny_model.content.explain(items, ratings, recommended)[:, 0]
    assert reason.rated_index == items[int(np.argmax(terms))]
    assert reason.share == pytest.approx(terms.max() / terms[terms > 0].sum())


def test_ease_reasons_split_the_ease_score(tiny_model):
    items = np.array([tiny_model.movie_index(1), tiny_model.movie_index(6)])
    ratings = np.array([5.0, 4.5], dtype=np.float32)
    recommended = np.array([tiny_model.movie_index(2), tiny_model.movie_index(4)])
    parts = {"ease": np.ones(7, dtype=np.float32), "content": np.ones(7, dtype=np.float32)}

    reasons = explain(recommended, items, ratings, parts, {"ease": 1.0}, content=tiny_model.content, ease=tiny_model.ease)

    terms = tiny_model.ease.explain(items, ratings, recommended)
    scores = tiny_model.ease.score(tiny_model.ease.fold_in(items, ratings))
    np.testing.assert_allclose(terms.sum(axis=0), scores[recommended], rtol=1e-5, atol=1e-6)
    for position, reason in enumerate(reasons):
        assert reason.kind == "ease"
        assert reason.rated_index == items[int(np.argmax(terms[:, position]))]


def test_rp3beta_reason_names_largest_weight(tiny_model):
    items = np.array([tiny_model.movie_index(1), tiny_model.movie_index(6)])
    ratings = np.array([5.0, 4.5], dtype=np.float32)
    recommended = np.array([tiny_model.movie_index(2), tiny_model.movie_index(4)])
    parts = {"rp3beta": np.ones(7, dtype=np.float32), "content": np.ones(7, dtype=np.float32)}

    reasons = explain(
        recommended, items, ratings, parts, {"rp3beta": 1.0}, content=tiny_model.content, rp3beta=tiny_model.rp3beta
    )

    weights = tiny_model.rp3beta.item_weights_.toarray()[np.ix_(items, recommended)]
    assert (weights.max(axis=0) > 0).all()
    for position, reason in enumerate(reasons):
        if weights[:, position].max() > 0:
            assert reason.kind == "rp3beta"
            assert reason.rated_index == items[int(np.argmax(weights[:, position]))]
            assert reason.share == pytest.approx(weights[:, position].max() / weights[weights[:, position] > 0, position].sum())
        else:
            assert reason is None
