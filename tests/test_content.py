import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from content.tfidf import ContentModel

TITLES = [
    "Toy Story (1995)",
    "Toy Story 2 (1999)",
    "Heat (1995)",
    "Casino (1995)",
    "Unknown Film (2010)",
]
GENRES = [
    ("Animation", "Children", "Comedy"),
    ("Animation", "Children", "Comedy"),
    ("Action", "Crime", "Thriller"),
    ("Crime", "Drama"),
    (),
]
YEARS = [1995, 1999, 1995, 1995, 2010]


def fitted(**arguments):
    return ContentModel(**arguments).fit(TITLES, GENRES, YEARS, mean_rating=3.0)


def test_genres_are_features_and_no_genres_is_no_feature():
    model = fitted()

    assert model.vocabularies_["genres"] == ["action", "animation", "children", "comedy", "crime", "drama", "thriller"]
    assert model.vocabularies_["decade"] == ["1990s", "2010s"]


def test_titles_drop_the_trailing_year():
    assert "1995" not in fitted().vocabularies_["title"]
    assert "toy" in fitted().vocabularies_["title"]


def test_identical_descriptions_have_similarity_one():
    model = fitted(title_weight=0.0, decade_weight=0.0)

    similarities = model.similarities(0)

    assert similarities[1] == pytest.approx(1.0)
    assert similarities[4] == pytest.approx(0.0)
    assert similarities[3] == pytest.approx(0.0)


def test_rows_are_unit_length():
    norms = np.sqrt(np.asarray(fitted().item_matrix_.multiply(fitted().item_matrix_).sum(axis=1))).ravel()

    np.testing.assert_allclose(norms, 1.0, rtol=1e-6)


def test_profile_from_one_high_rating_prefers_similar_movies():
    model = fitted()

    scores = model.score(model.fold_in([0], [5.0]))

    assert scores[1] > scores[2]
    assert scores[1] > scores[3]


def test_profile_weights_are_ratings_minus_damped_mean():
    model = fitted(profile_damping=2.0)

    profile = model.fold_in([2, 3], [5.0, 1.0])

    # Damped mean (5 + 1 + 2 * 3) / (2 + 2) = 3, so weights are +2 and -2.
    expected = 2.0 * model.item_matrix_[2].toarray().ravel() - 2.0 * model.item_matrix_[3].toarray().ravel()
    np.testing.assert_allclose(profile, expected, rtol=1e-6)


def test_transform_of_a_known_item_matches_its_row():
    model = fitted()

    row = model.transform([TITLES[2]], [GENRES[2]], [YEARS[2]])

    np.testing.assert_allclose(row.toarray(), model.item_matrix_[2].toarray(), rtol=1e-6)


def test_added_item_gets_a_vector_and_similar_neighbours():
    model = fitted(title_weight=0.0)

    [index] = model.add_items(["Toy Story 3 (2010)"], [("Animation", "Children", "Comedy")], [2010])

    assert index == 5
    assert model.similarities(5)[0] > model.similarities(5)[2]


def test_tags_add_a_field():
    tags = [["pixar"], ["pixar"], [], ["scorsese"], []]

    model = ContentModel().fit(TITLES, GENRES, YEARS, tags)

    assert model.vocabularies_["tags"] == ["pixar", "scorsese"]


def test_mismatched_lengths_are_rejected():
    with pytest.raises(ValueError, match=r"titles, genres and years must have the same length, got 5, 4 and 5"):
        ContentModel().fit(TITLES, GENRES[:4], YEARS)


def test_negative_field_weight_is_rejected():
    with pytest.raises(ValueError, match=r"genre_weight must be >= 0, got -1"):
        ContentModel(genre_weight=-1).fit(TITLES, GENRES, YEARS)


def test_unfitted_model_raises_not_fitted():
    with pytest.raises(NotFittedError):
        ContentModel().similarities(0)


def test_explain_splits_the_profile_score_by_rated_item():
    model = fitted(profile_damping=2.0)

    terms = model.explain([0, 2], [5.0, 1.0], [1, 3])

    # Weights +2 and -2 as above; each term is weight times cosine similarity.
    similarities = (model.item_matrix_[[0, 2]] @ model.item_matrix_[[1, 3]].T).toarray()
    np.testing.assert_allclose(terms, similarities * np.array([[2.0], [-2.0]]), rtol=1e-6)
    scores = model.score(model.fold_in([0, 2], [5.0, 1.0]), [1, 3])
    np.testing.assert_allclose(terms.sum(axis=0), scores, rtol=1e-5)


def test_profile_weights_of_one_rating_shrink_toward_the_mean():
    model = fitted(profile_damping=1.0)

    # Damped mean (5 + 1 * 3) / (1 + 1) = 4.
    assert model.profile_weights([5.0]).tolist() == [1.0]
