"""Offline evaluation: the batched ranking path equals the server's, and every split is measured."""

import json

import numpy as np
import pytest
import scipy.sparse as sp

from hybrid.blend import COMPONENTS, BlendWeights
from hybrid.config import HybridConfig
from hybrid.data import DataError
from hybrid.evaluation import (
    evaluate,
    evaluate_model,
    evaluate_new_users,
    format_table,
    load_data_dir,
    mean_evaluation,
    single_component,
)
from hybrid.model import HybridRecommender
from hybrid.splits import new_user_split, random_holdout, temporal_split
from hybrid.tuning import BlendEvaluator, warm_evaluator
from tests.synthetic import taste_groups, write_csv

SMALL = {
    "als": {"factors": 8, "iterations": 10, "regularization": 0.5},
    "mf": {"factors": 8, "epochs": 30},
    "ease": {"regularization": 20.0},
}
# Every component with a share, so that the batched path of each is compared.
ALL_COMPONENTS = BlendWeights(
    cold={"collaborative": 0.3, "ease": 0.2, "content": 0.2, "popularity": 0.2, "rating": 0.1},
    warm={"collaborative": 0.4, "ease": 0.3, "content": 0.1, "popularity": 0.1, "rating": 0.1},
    cold_max_ratings=3,
    warm_min_ratings=20,
)


@pytest.fixture(scope="module")
def dataset():
    return taste_groups()


@pytest.fixture(scope="module")
def model(dataset):
    config = HybridConfig.from_dict({**SMALL, "blend": ALL_COMPONENTS.to_dict()})
    return HybridRecommender(config).fit(dataset)


def history(model, user_index):
    start, end = model.user_items.indptr[user_index], model.user_items.indptr[user_index + 1]
    return model.user_items.indices[start:end], model.user_items.data[start:end]


def test_batched_component_scores_match_single_user(model):
    users = np.array([0, 5, 17])

    batch = model.component_scores_many(model.user_items[users], user_indices=users)

    for row, user in enumerate(users):
        items, ratings = history(model, user)
        single = model.component_scores(items, ratings, user_index=user)
        assert set(batch) == set(COMPONENTS)
        for name in COMPONENTS:
            np.testing.assert_allclose(batch[name][row], single[name], rtol=1e-4, atol=1e-4, err_msg=name)


def test_batched_fold_in_scores_match_single_user(model):
    inputs = model.user_items[[2, 40]]

    batch = model.component_scores_many(inputs)

    for row in range(2):
        items, ratings = inputs[row].indices, inputs[row].data
        single = model.component_scores(items, ratings)
        for name in COMPONENTS:
            np.testing.assert_allclose(batch[name][row], single[name], rtol=1e-4, atol=1e-4, err_msg=name)


def test_recommend_many_ranks_as_recommend(model):
    users = np.arange(len(model.users))

    ranked = model.recommend_many(model.user_items, 10, user_indices=users, batch_size=16)

    for user in users:
        expected = [item["movie_id"] for item in model.recommend(int(model.users.ids[user]), n=10).items]
        assert model.catalogue.movie_ids.ids[ranked[user]].tolist() == expected


def test_recommend_many_folds_in_as_recommend_for_ratings(model):
    inputs = sp.csr_matrix(
        (np.array([5.0, 4.5, 1.0], dtype=np.float32), (np.array([0, 1, 1]), np.array([0, 3, 4]))), shape=(3, len(model.catalogue))
    )

    ranked = model.recommend_many(inputs, 5)

    first = model.recommend_for_ratings([(1, 5.0)], n=5).items
    second = model.recommend_for_ratings([(4, 4.5), (5, 1.0)], n=5).items
    assert model.catalogue.movie_ids.ids[ranked[0]].tolist() == [item["movie_id"] for item in first]
    assert model.catalogue.movie_ids.ids[ranked[1]].tolist() == [item["movie_id"] for item in second]
    # A user without ratings gets the popularity fallback, as recommend_for_ratings([]) does.
    fallback = model.recommend_for_ratings([], n=5).items
    assert model.catalogue.movie_ids.ids[ranked[2]].tolist() == [item["movie_id"] for item in fallback]


def test_recommend_many_pads_short_catalogues(model):
    inputs = model.user_items[:1]
    n_candidates = len(model.catalogue) - inputs.nnz

    ranked = model.recommend_many(inputs, len(model.catalogue))

    assert (ranked[0, :n_candidates] >= 0).all()
    assert (ranked[0, n_candidates:] == -1).all()


def test_blend_evaluator_ranks_as_recommend_many(model, dataset):
    split = random_holdout(dataset.ratings, 0.25, random_state=0)
    evaluator = warm_evaluator(model, split.test, k=10)
    users = model.users.indices_of(np.unique(split.test["user_id"].to_numpy()))

    for weights in (ALL_COMPONENTS, single_component("ease"), BlendWeights(cold={"popularity": 1}, warm={"content": 1})):
        expected = model.recommend_many(model.user_items[users], 10, user_indices=users, weights=weights)
        assert np.array_equal(evaluator.rank(weights), expected)


def test_evaluation_of_a_holdout(dataset):
    split = random_holdout(dataset.ratings, 0.25, random_state=0)

    (result,) = evaluate(dataset, split, HybridConfig.from_dict({**SMALL, "blend": ALL_COMPONENTS.to_dict()}), k=5)

    assert result.n_users == 90
    assert result.n_rated == len(split.test)
    # Each user's taste group is plain to see, so most of the top 5 are held-out movies of that group.
    assert result.precision > 0.5
    assert 0 < result.rmse < 2
    assert result.fit_seconds > 0


def test_hybrid_ranks_better_than_popularity(model, dataset):
    split = random_holdout(dataset.ratings, 0.25, random_state=0)
    fitted = HybridRecommender(model.config).fit(split.train_dataset(dataset))

    hybrid = evaluate_model(fitted, split.test, k=5)
    popular = evaluate_model(fitted, split.test, k=5, weights=single_component("popularity"))

    assert hybrid.ndcg > popular.ndcg + 0.1


def test_temporal_evaluation_notes_users_without_training_ratings(dataset):
    split = temporal_split(dataset.ratings, 0.2)

    (result,) = evaluate(dataset, split, HybridConfig.from_dict(SMALL), k=5)

    # The synthetic timestamps follow user ids, so the last 18 users rated only after the cutoff.
    assert result.notes == ["18 test users have no training ratings and get the popularity fallback"]


def test_new_user_evaluation_has_one_row_per_revealed_count(dataset):
    split = new_user_split(dataset.ratings, 0.2, max_revealed=5, random_state=0)

    results = evaluate(dataset, split, HybridConfig.from_dict(SMALL), k=5, revealed=(1, 5))

    assert [result.revealed for result in results] == [1, 5]
    assert all(result.n_users == 18 for result in results)
    assert results[1].ndcg > results[0].ndcg


def test_new_user_evaluation_rejects_too_many_revealed(model, dataset):
    split = new_user_split(dataset.ratings, 0.2, max_revealed=3, random_state=0)

    with pytest.raises(ValueError, match="the split reveals at most 3 ratings per user, cannot reveal \\[5\\]"):
        evaluate_new_users(model, split, revealed=(1, 5))


def test_mean_evaluation_averages_folds(model, dataset):
    results = [
        evaluate_model(model, random_holdout(dataset.ratings, 0.25, random_state=seed).test, k=5) for seed in (0, 1)
    ]

    mean = mean_evaluation(results)

    assert mean.ndcg == pytest.approx((results[0].ndcg + results[1].ndcg) / 2)
    assert mean.split == "mean of 2"


def test_format_table_has_one_line_per_result(model, dataset):
    result = evaluate_model(model, random_holdout(dataset.ratings, 0.25).test, k=5, label="hybrid", split_name="random")

    lines = format_table([result, result]).splitlines()

    assert lines[0].split()[:5] == ["model", "split", "revealed", "RMSE", "MAE"]
    assert "NDCG@5" in lines[0]
    assert len(lines) == 3
    assert lines[1].split()[0] == "hybrid"


def test_single_component_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown component 'als'; expected one of"):
        single_component("als")


def test_load_data_dir_reads_csv_files(dataset, tmp_path):
    write_csv(dataset, tmp_path)

    loaded = load_data_dir(tmp_path)

    assert len(loaded.ratings) == len(dataset.ratings)
    assert loaded.name == tmp_path.name


def test_load_data_dir_names_what_it_expected(tmp_path):
    (tmp_path / "notes.txt").write_text("nothing here")

    with pytest.raises(DataError, match="contains neither ml-100k files .* nor MovieLens CSV files .*; pass a directory with one of them"):
        load_data_dir(tmp_path)


def test_evaluation_json_round_trips(model, dataset):
    result = evaluate_model(model, random_holdout(dataset.ratings, 0.25).test, k=5)

    document = json.loads(json.dumps(result.to_dict()))

    assert document["k"] == 5
    assert document["ndcg"] == pytest.approx(result.ndcg)


def test_blend_evaluator_popularity_fallback_for_empty_rows(model):
    relevant = sp.csr_matrix(np.eye(2, len(model.catalogue)))
    evaluator = BlendEvaluator(model, sp.csr_matrix((2, len(model.catalogue))), relevant, k=3)

    ranked = evaluator.rank(ALL_COMPONENTS)

    assert ranked.tolist() == [model.popularity.ranking()[:3].tolist()] * 2


def test_recommend_many_ranks_movies_added_after_training_as_recommend(model):
    extended = model.with_movies([1001, 1002], ["Animation Story New (2001)", "Crime Story New (2001)"], [("Animation",), ("Crime",)], [2001, 2001])
    users = np.array([0, 1, 2])

    ranked = extended.recommend_many(extended.user_items[users], 10, user_indices=users)

    shown = set()
    for row, user in enumerate(users):
        expected = [item["movie_id"] for item in extended.recommend(int(extended.users.ids[user]), n=10).items]
        assert extended.catalogue.movie_ids.ids[ranked[row]].tolist() == expected
        shown.update(expected)
    assert shown & {1001, 1002}


def test_bundle_without_ease_loads_and_blends_the_rest(model, tmp_path):
    version = model.save(tmp_path)
    version_dir = tmp_path / "versions" / version
    manifest = json.loads((version_dir / "manifest.json").read_text())
    for name in ("ease_item_weights", "ease_covered_items"):
        del manifest["arrays"][name]
        (version_dir / f"{name}.npy").unlink()
    (version_dir / "manifest.json").write_text(json.dumps(manifest))

    loaded = HybridRecommender.load(tmp_path)

    assert loaded.ease is None
    assert len(loaded.recommend(int(model.users.ids[0]), n=5).items) == 5
    assert loaded.recommend_many(loaded.user_items[:2], 5, user_indices=[0, 1]).shape == (2, 5)


def test_saved_ease_weights_load_unchanged(model, tmp_path):
    model.save(tmp_path)

    loaded = HybridRecommender.load(tmp_path)

    np.testing.assert_array_equal(loaded.ease.item_weights_, model.ease.item_weights_)
    np.testing.assert_array_equal(loaded.ease.covered_items_, model.ease.covered_items_)


def test_bundle_without_rp3beta_loads_and_blends_the_rest(model, tmp_path):
    version = model.save(tmp_path)
    version_dir = tmp_path / "versions" / version
    manifest = json.loads((version_dir / "manifest.json").read_text())
    for name in ("rp3beta_data", "rp3beta_indices", "rp3beta_indptr"):
        del manifest["arrays"][name]
        (version_dir / f"{name}.npy").unlink()
    (version_dir / "manifest.json").write_text(json.dumps(manifest))

    loaded = HybridRecommender.load(tmp_path)

    assert loaded.rp3beta is None
    assert len(loaded.recommend(int(model.users.ids[0]), n=5).items) == 5
    assert loaded.recommend_many(loaded.user_items[:2], 5, user_indices=[0, 1]).shape == (2, 5)


def test_saved_rp3beta_weights_load_unchanged(model, tmp_path):
    model.save(tmp_path)

    loaded = HybridRecommender.load(tmp_path)

    assert loaded.rp3beta.get_params() == model.rp3beta.get_params()
    np.testing.assert_array_equal(loaded.rp3beta.item_weights_.toarray(), model.rp3beta.item_weights_.toarray())
