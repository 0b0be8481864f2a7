"""Every route of the HTTP API, with the exact status and message of each bad input."""

import pytest

from api.openapi import build_document


def error_of(response):
    assert response.is_json, response.data
    return response.get_json()["error"]


# GET /health ---------------------------------------------------------------


def test_health_is_ok_once_model_is_loaded(client):
    response = client.get("/health")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "model_version": None}


# GET /users/<user_id>/recommendations ----------------------------------------


def test_user_recommendations_are_ten_unseen_movies(client, bundled_model):
    response = client.get("/users/1/recommendations")

    assert response.status_code == 200
    body = response.get_json()
    assert body["user_id"] == 1
    assert body["known_user"] is True
    assert body["fallback"] is None
    assert body["n_ratings"] == 232
    movie_ids = [item["movie_id"] for item in body["items"]]
    assert len(movie_ids) == 10
    assert len(set(movie_ids)) == 10
    rated = {item["movie_id"] for item in bundled_model.user_ratings(1)}
    assert not rated & set(movie_ids)


def test_user_recommendation_items_have_the_documented_fields(client):
    item = client.get("/users/1/recommendations?n=1").get_json()["items"][0]

    assert list(item) == ["movie_id", "title", "genres", "year", "score", "components", "reason"]
    assert isinstance(item["title"], str)
    assert isinstance(item["genres"], list)


def test_user_recommendations_honour_n(client):
    assert len(client.get("/users/1/recommendations?n=3").get_json()["items"]) == 3
    assert len(client.get("/users/1/recommendations?n=100").get_json()["items"]) == 100


def test_unknown_user_gets_popularity_fallback(client, bundled_model):
    response = client.get("/users/999999/recommendations?n=5")

    assert response.status_code == 200
    body = response.get_json()
    assert body["known_user"] is False
    assert body["fallback"] == "popularity"
    assert body["n_ratings"] == 0
    expected = [bundled_model.catalogue.movie_ids.id_of(index) for index in bundled_model.popularity.ranking()[:5]]
    assert [item["movie_id"] for item in body["items"]] == expected
    assert expected[0] == 356  # Forrest Gump, the most rated movie of ml-latest-small


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("n=abc", "n must be an integer from 1 to 100, got 'abc'"),
        ("n=0", "n must be an integer from 1 to 100, got '0'"),
        ("n=-5", "n must be an integer from 1 to 100, got '-5'"),
        ("n=101", "n must be an integer from 1 to 100, got '101'"),
        ("n=2.5", "n must be an integer from 1 to 100, got '2.5'"),
        ("n=", "n must be an integer from 1 to 100, got ''"),
        ("n=1&n=2", "n must be given once, got 2 values"),
    ],
)
def test_bad_n_is_rejected(client, query, message):
    response = client.get(f"/users/1/recommendations?{query}")

    assert response.status_code == 400
    assert error_of(response) == {"status": 400, "code": "invalid_parameter", "message": message, "field": "n"}


@pytest.mark.parametrize("user_id", ["abc", "1.0", "007", "-1", "99999999999999999999"])
def test_malformed_user_id_is_rejected(client, user_id):
    response = client.get(f"/users/{user_id}/recommendations")

    assert response.status_code == 400
    error = error_of(response)
    assert error["field"] == "user_id"
    assert error["message"].startswith(f"invalid user_id {user_id!r}: expected a non-negative integer")


# POST /recommendations ---------------------------------------------------------


def test_cold_start_works_from_a_single_rating(client):
    response = client.post("/recommendations", json={"ratings": [{"movie_id": 4896, "rating": 5.0}], "n": 10})

    assert response.status_code == 200
    body = response.get_json()
    assert body["fallback"] is None
    assert body["n_ratings"] == 1
    assert body["unknown_movie_ids"] == []
    movie_ids = [item["movie_id"] for item in body["items"]]
    assert len(set(movie_ids)) == 10
    assert 4896 not in movie_ids
    # The next two Harry Potter films for someone who loved the first one.
    assert 5816 in movie_ids
    assert 8368 in movie_ids


def test_cold_start_reports_unknown_movies_and_uses_the_rest(client):
    response = client.post(
        "/recommendations",
        json={"ratings": [{"movie_id": 1, "rating": 4.5}, {"movie_id": 999999, "rating": 3}]},
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["unknown_movie_ids"] == [999999]
    assert body["n_ratings"] == 1
    assert body["fallback"] is None


def test_cold_start_with_only_unknown_movies_falls_back(client):
    body = client.post("/recommendations", json={"ratings": [{"movie_id": 999999, "rating": 3}]}).get_json()

    assert body["unknown_movie_ids"] == [999999]
    assert body["fallback"] == "popularity"
    assert len(body["items"]) == 10


def test_empty_ratings_get_popularity_fallback(client):
    response = client.post("/recommendations", json={"ratings": [], "n": 3})

    assert response.status_code == 200
    body = response.get_json()
    assert body["fallback"] == "popularity"
    assert [item["movie_id"] for item in body["items"]] == [356, 318, 296]


def test_cold_start_counts_the_latest_rating_of_a_repeated_movie(client):
    ratings = [
        {"movie_id": 1, "rating": 1.0, "timestamp": 200},
        {"movie_id": 1, "rating": 5.0, "timestamp": 100},
        {"movie_id": 2, "rating": 2.0},
        {"movie_id": 2, "rating": 4.5},
    ]
    once = [{"movie_id": 1, "rating": 1.0}, {"movie_id": 2, "rating": 4.5}]

    repeated = client.post("/recommendations", json={"ratings": ratings}).get_json()
    single = client.post("/recommendations", json={"ratings": once}).get_json()

    assert repeated["n_ratings"] == 2
    assert repeated["items"] == single["items"]


def test_cold_start_never_returns_rated_movies(client):
    rated = [1, 3114, 78499, 2355, 588]
    ratings = [{"movie_id": movie_id, "rating": 5} for movie_id in rated]

    body = client.post("/recommendations", json={"ratings": ratings, "n": 50}).get_json()

    assert not set(rated) & {item["movie_id"] for item in body["items"]}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "ratings", 'ratings is required: a list of {"movie_id": int, "rating": number}'),
        ({"ratings": {}}, "ratings", "ratings must be a JSON array, got a JSON object"),
        ({"ratings": [5]}, "ratings[0]", "ratings[0] must be a JSON object, got a JSON number"),
        ({"ratings": [{"rating": 4}]}, "ratings[0].movie_id", "ratings[0].movie_id is required"),
        ({"ratings": [{"movie_id": 1}]}, "ratings[0].rating", "ratings[0].rating is required"),
        (
            {"ratings": [{"movie_id": "1", "rating": 4}]},
            "ratings[0].movie_id",
            "invalid ratings[0].movie_id '1': expected a non-negative integer at most 9223372036854775807",
        ),
        (
            {"ratings": [{"movie_id": 1.0, "rating": 4}]},
            "ratings[0].movie_id",
            "invalid ratings[0].movie_id 1.0: expected a non-negative integer at most 9223372036854775807",
        ),
        (
            {"ratings": [{"movie_id": True, "rating": 4}]},
            "ratings[0].movie_id",
            "invalid ratings[0].movie_id True: expected a non-negative integer at most 9223372036854775807",
        ),
        ({"ratings": [{"movie_id": 1, "rating": "4"}]}, "ratings[0].rating", "ratings[0].rating must be a number, got '4'"),
        (
            {"ratings": [{"movie_id": 1, "rating": 4, "movieId": 2}]},
            "ratings[0]",
            "ratings[0] has unknown field 'movieId'; allowed fields are movie_id, rating, timestamp",
        ),
        (
            {"ratings": [{"movie_id": 1, "rating": 4, "timestamp": -1}]},
            "ratings[0].timestamp",
            "ratings[0].timestamp must be a non-negative integer (Unix seconds) at most 9223372036854775807, got -1",
        ),
        (
            {"ratings": [{"movie_id": 1, "rating": 7}]},
            "ratings[0].rating",
            "rating 7.0 for movie_id 1 is not on the rating scale 0.5 to 5.0 in steps of 0.5",
        ),
        (
            {"ratings": [{"movie_id": 2, "rating": 3}, {"movie_id": 1, "rating": 4.2}]},
            "ratings[1].rating",
            "rating 4.2 for movie_id 1 is not on the rating scale 0.5 to 5.0 in steps of 0.5",
        ),
        ({"ratings": [], "n": 0}, "n", "n must be an integer from 1 to 100, got 0"),
        ({"ratings": [], "n": "10"}, "n", "n must be an integer from 1 to 100, got '10'"),
        ({"ratings": [], "n": 10.0}, "n", "n must be an integer from 1 to 100, got 10.0"),
        ({"ratings": [], "count": 3}, "body", "body has unknown field 'count'; allowed fields are filters, n, ratings"),
    ],
)
def test_bad_cold_start_body_is_rejected(client, body, field, message):
    response = client.post("/recommendations", json=body)

    assert response.status_code == 400
    error = error_of(response)
    assert error["field"] == field
    assert error["message"] == message


def test_too_many_ratings_are_rejected(client):
    ratings = [{"movie_id": movie_id, "rating": 3} for movie_id in range(501)]

    response = client.post("/recommendations", json={"ratings": ratings})

    assert response.status_code == 400
    assert error_of(response)["message"] == "ratings may hold at most 500 entries, got 501"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "request body is not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (b'{"ratings": [}', "request body is not valid JSON: Expecting value: line 1 column 14 (char 13)"),
        (b"", 'request body is empty; send a JSON object, e.g. {"ratings": [{"movie_id": 1, "rating": 4.5}]}'),
        (b"null", 'request body must be a JSON object, e.g. {"ratings": [{"movie_id": 1, "rating": 4.5}]}'),
        (b'{"ratings": "\xff"}', "request body is not valid UTF-8: invalid byte at position 13"),
        (b"[1, 2]", "request body must be a JSON object, got a JSON array"),
        (b'"text"', "request body must be a JSON object, got a JSON string"),
        # Regression: a thousand nested brackets made Python's parser raise
        # RecursionError, which was a 500.
        (b"[" * 1000 + b"]" * 1000, "request body is nested too deeply to parse"),
        (b'{"filters": ' + b'{"a": ' * 1000 + b"1" + b"}" * 1001, "request body is nested too deeply to parse"),
    ],
)
def test_malformed_json_is_rejected(client, data, message):
    response = client.post("/recommendations", data=data, content_type="application/json")

    assert response.status_code == 400
    assert error_of(response) == {"status": 400, "code": "invalid_parameter", "message": message, "field": "body"}


def test_oversized_body_gets_413(client):
    response = client.post("/recommendations", data=b"{" + b" " * (64 * 1024) + b"}", content_type="application/json")

    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


# POST /recommendations with filters, and reasons ------------------------------------

GENRE_LIST = (
    "Action, Adventure, Animation, Children, Comedy, Crime, Documentary, Drama, Fantasy, Film-Noir, "
    "Horror, IMAX, Musical, Mystery, Romance, Sci-Fi, Thriller, War, Western"
)


def recommend_with(client, filters, ratings=({"movie_id": 1, "rating": 5.0},), n=20):
    return client.post("/recommendations", json={"ratings": list(ratings), "n": n, "filters": filters})


def test_genre_filter_keeps_only_movies_of_a_listed_genre(client):
    response = recommend_with(client, {"genres": ["Horror", "Western"]})

    assert response.status_code == 200
    items = response.get_json()["items"]
    assert len(items) == 20
    for item in items:
        assert {"Horror", "Western"} & set(item["genres"]), item


def test_excluded_genre_never_appears(client):
    unfiltered = recommend_with(client, {}).get_json()["items"]
    response = recommend_with(client, {"exclude_genres": ["Animation", "Children"]})

    assert response.status_code == 200
    items = response.get_json()["items"]
    assert len(items) == 20
    assert any({"Animation", "Children"} & set(item["genres"]) for item in unfiltered)
    for item in items:
        assert not {"Animation", "Children"} & set(item["genres"]), item


def test_year_bounds_are_inclusive_and_drop_unknown_years(client):
    response = recommend_with(client, {"min_year": 1994, "max_year": 1994}, n=50)

    assert response.status_code == 200
    years = {item["year"] for item in response.get_json()["items"]}
    assert years == {1994}


def test_filters_apply_to_the_popularity_fallback(client):
    response = client.post("/recommendations", json={"ratings": [], "n": 5, "filters": {"genres": ["Documentary"]}})

    body = response.get_json()
    assert body["fallback"] == "popularity"
    assert len(body["items"]) == 5
    assert all("Documentary" in item["genres"] for item in body["items"])


def test_filters_that_match_nothing_give_an_empty_list(client):
    response = recommend_with(client, {"genres": ["Film-Noir"], "min_year": 2015})

    assert response.status_code == 200
    assert response.get_json()["items"] == []


def test_repeated_genre_counts_once(client):
    once = recommend_with(client, {"genres": ["Comedy"]}).get_json()["items"]
    twice = recommend_with(client, {"genres": ["Comedy", "Comedy"]}).get_json()["items"]

    assert twice == once


@pytest.mark.parametrize(
    ("filters", "field", "message"),
    [
        ([], "filters", "filters must be a JSON object, got a JSON array"),
        ({"genre": ["Drama"]}, "filters", "filters has unknown field 'genre'; allowed fields are exclude_genres, genres, max_year, min_year"),
        ({"genres": "Drama"}, "filters.genres", "filters.genres must be a JSON array of genre names, got a JSON string"),
        ({"genres": ["Drama", 7]}, "filters.genres[1]", "filters.genres[1] must be a genre name, got a JSON number"),
        (
            {"genres": ["Scifi"]},
            "filters.genres[0]",
            f"filters.genres[0] 'Scifi' is not a genre of the catalogue; expected one of {GENRE_LIST}",
        ),
        (
            {"exclude_genres": ["drama"]},
            "filters.exclude_genres[0]",
            f"filters.exclude_genres[0] 'drama' is not a genre of the catalogue; expected one of {GENRE_LIST}",
        ),
        (
            {"genres": ["Comedy", "Drama"], "exclude_genres": ["Drama"]},
            "filters.exclude_genres",
            "genre 'Drama' is in both filters.genres and filters.exclude_genres",
        ),
        ({"min_year": "1990"}, "filters.min_year", "filters.min_year must be an integer year from 1 to 9999, got '1990'"),
        ({"min_year": 1990.0}, "filters.min_year", "filters.min_year must be an integer year from 1 to 9999, got 1990.0"),
        ({"max_year": True}, "filters.max_year", "filters.max_year must be an integer year from 1 to 9999, got True"),
        ({"max_year": 0}, "filters.max_year", "filters.max_year must be an integer year from 1 to 9999, got 0"),
        ({"max_year": None}, "filters.max_year", "filters.max_year must be an integer year from 1 to 9999, got None"),
        ({"min_year": 10000}, "filters.min_year", "filters.min_year must be an integer year from 1 to 9999, got 10000"),
        (
            {"min_year": 2000, "max_year": 1990},
            "filters.min_year",
            "filters.min_year 2000 is greater than filters.max_year 1990",
        ),
    ],
)
def test_bad_filters_are_rejected(client, filters, field, message):
    response = recommend_with(client, filters)

    assert response.status_code == 400
    assert error_of(response) == {"status": 400, "code": "invalid_parameter", "message": message, "field": field}


def test_cold_start_reason_names_the_liked_movie(client):
    response = client.post(
        "/recommendations",
        json={"ratings": [{"movie_id": 1, "rating": 5.0}, {"movie_id": 2571, "rating": 4.5}], "n": 10},
    )

    items = {item["movie_id"]: item for item in response.get_json()["items"]}
    # Star Wars is recommended because The Matrix's fans rated it: with two
    # ratings, the default cold weights lean on RP3beta and popularity.
    reason = items[260]["reason"]
    assert reason["movie_id"] == 2571
    assert reason["title"] == "Matrix, The (1999)"
    assert reason["rating"] == 4.5
    assert reason["kind"] == "rp3beta"
    assert 0.5 < reason["share"] <= 1.0
    for item in items.values():
        assert item["reason"]["movie_id"] in (1, 2571)


def test_known_user_reasons_name_movies_they_rated(client, bundled_model):
    history = {item["movie_id"]: item["rating"] for item in bundled_model.user_ratings(1)}
    items = client.get("/users/1/recommendations").get_json()["items"]

    for item in items:
        reason = item["reason"]
        assert reason["movie_id"] in history
        assert reason["rating"] == history[reason["movie_id"]]


# GET /recommendations (legacy) ---------------------------------------------------


def test_legacy_route_returns_the_same_movies_as_the_users_route(client):
    legacy = client.get("/recommendations?user_id=1&returnMetadata=true").get_json()
    current = client.get("/users/1/recommendations").get_json()

    assert legacy["items"] == current["items"]
    assert legacy["user_id"] == 1


def test_legacy_route_without_metadata_gives_ids_and_scores(client):
    body = client.get("/recommendations?user_id=1&n=2").get_json()

    assert [list(item) for item in body["items"]] == [["movie_id", "score"], ["movie_id", "score"]]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("", "user_id", "query parameter user_id is required"),
        ("user_id=x", "user_id", "invalid user_id 'x': expected a non-negative integer without sign, decimal point or leading zeros, at most 9223372036854775807"),
        ("user_id=1&returnMetadata=yes", "returnMetadata", "returnMetadata must be true or false, got 'yes'"),
        ("user_id=1&n=1000", "n", "n must be an integer from 1 to 100, got '1000'"),
    ],
)
def test_legacy_route_rejects_bad_input(client, query, field, message):
    response = client.get(f"/recommendations?{query}")

    assert response.status_code == 400
    assert error_of(response)["field"] == field
    assert error_of(response)["message"] == message


# GET /movies/<movie_id>/similar --------------------------------------------------


def test_similar_movies_of_toy_story(client):
    response = client.get("/movies/1/similar?n=5")

    assert response.status_code == 200
    body = response.get_json()
    movie_ids = [item["movie_id"] for item in body["items"]]
    assert body["movie_id"] == 1
    assert len(movie_ids) == 5
    assert 1 not in movie_ids
    assert 3114 in movie_ids
    assert list(body["items"][0]) == ["movie_id", "title", "genres", "year", "score"]


def test_similar_movies_of_unknown_movie_is_404(client):
    response = client.get("/movies/999999/similar")

    assert response.status_code == 404
    assert error_of(response) == {
        "status": 404,
        "code": "not_found",
        "message": "movie_id 999999 is not in the catalogue",
        "field": "movie_id",
    }


def test_similar_movies_rejects_malformed_id(client):
    response = client.get("/movies/1.5/similar")

    assert response.status_code == 400
    assert error_of(response)["field"] == "movie_id"


# GET /users/<user_id>/predictions --------------------------------------------------


def test_predictions_are_within_the_rating_scale(client):
    response = client.get("/users/1/predictions?movie_ids=1,2,3,4,5")

    assert response.status_code == 200
    body = response.get_json()
    assert body["known_user"] is True
    assert body["fallback"] is None
    assert [prediction["movie_id"] for prediction in body["predictions"]] == [1, 2, 3, 4, 5]
    for prediction in body["predictions"]:
        assert 0.5 <= prediction["rating"] <= 5.0


def test_predictions_for_unknown_user_use_the_movie_baseline(client, bundled_model):
    body = client.get("/users/999999/predictions?movie_ids=1,356").get_json()

    assert body["known_user"] is False
    assert body["fallback"] == "movie_baseline"
    index = bundled_model.movie_index(356)
    baseline = bundled_model.mf.global_mean_ + bundled_model.mf.item_bias_[index]
    assert body["predictions"][1]["rating"] == pytest.approx(min(max(baseline, 0.5), 5.0), abs=1e-3)


def test_predictions_for_unknown_movie_are_404(client):
    response = client.get("/users/1/predictions?movie_ids=1,999999,888888")

    assert response.status_code == 404
    error = error_of(response)
    assert error["field"] == "movie_ids"
    assert error["message"] == "movie_ids names movies that are not in the catalogue: 999999, 888888"
    assert error["unknown_movie_ids"] == [999999, 888888]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "query parameter movie_ids is required"),
        ("movie_ids=", "invalid movie_id '': expected a non-negative integer without sign, decimal point or leading zeros, at most 9223372036854775807"),
        ("movie_ids=1,,2", "invalid movie_id '': expected a non-negative integer without sign, decimal point or leading zeros, at most 9223372036854775807"),
        ("movie_ids=1,2.0", "invalid movie_id '2.0': expected a non-negative integer without sign, decimal point or leading zeros, at most 9223372036854775807"),
        ("movie_ids=" + ",".join(str(number) for number in range(1, 102)), "movie_ids may list at most 100 ids, got 101"),
    ],
)
def test_bad_prediction_ids_are_rejected(client, query, message):
    response = client.get(f"/users/1/predictions?{query}")

    assert response.status_code == 400
    assert error_of(response)["field"] == "movie_ids"
    assert error_of(response)["message"] == message


# GET /users/<user_id>/ratings ----------------------------------------------------


def test_rating_history_is_newest_first(client):
    body = client.get("/users/1/ratings").get_json()

    assert body["known_user"] is True
    assert len(body["ratings"]) == 232
    times = [rating["timestamp"] for rating in body["ratings"]]
    assert times == sorted(times, reverse=True)
    first = body["ratings"][-1]
    assert set(first) == {"movie_id", "title", "genres", "year", "rating", "timestamp"}


def test_rating_history_of_unknown_user_is_empty(client):
    body = client.get("/users/999999/ratings").get_json()

    assert body == {"user_id": 999999, "model_version": None, "known_user": False, "ratings": []}


# GET /movies --------------------------------------------------------------------


def test_search_finds_toy_story_first(client):
    body = client.get("/movies?q=toy&limit=3").get_json()

    assert [item["title"] for item in body["items"]] == ["Toy Story (1995)", "Toy Story 2 (1999)", "Toy Story 3 (2010)"]


def test_search_ignores_accents_and_case(client):
    titles = [item["title"] for item in client.get("/movies?q=AMELIE").get_json()["items"]]

    assert "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)" in titles


def test_search_without_match_is_empty(client):
    assert client.get("/movies?q=zzzzqqq").get_json()["items"] == []


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("", "q", "query parameter q is required"),
        ("q=toy&limit=0", "limit", "limit must be an integer from 1 to 100, got '0'"),
        ("q=" + "a" * 201, "q", "q must be at most 200 characters, got 201"),
    ],
)
def test_bad_search_is_rejected(client, query, field, message):
    response = client.get(f"/movies?{query}")

    assert response.status_code == 400
    assert error_of(response)["field"] == field
    assert error_of(response)["message"] == message


# GET /genres --------------------------------------------------------------------


def test_genres_are_sorted_with_movie_counts(client, bundled_data):
    response = client.get("/genres")

    assert response.status_code == 200
    genres = response.get_json()["genres"]
    assert ", ".join(genre["name"] for genre in genres) == GENRE_LIST
    expected = {genre["name"]: sum(genre["name"] in listed for listed in bundled_data.movies["genres"]) for genre in genres}
    assert {genre["name"]: genre["movies"] for genre in genres} == expected
    assert expected["Action"] == 1828


# Errors outside the routes --------------------------------------------------------


def test_unknown_route_is_json_404(client):
    response = client.get("/nope")

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_wrong_method_is_json_405(client):
    response = client.delete("/users/1/recommendations")

    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_internal_error_is_json_500_without_traceback(app, monkeypatch):
    model = app.extensions["true_recommend.model"].get()
    monkeypatch.setattr(model, "recommend", lambda *args, **kwargs: 1 / 0)

    response = app.test_client().get("/users/1/recommendations")

    assert response.status_code == 500
    assert error_of(response) == {
        "status": 500,
        "code": "internal_error",
        "message": "internal server error; the server log has the details",
    }
    assert b"ZeroDivisionError" not in response.data


# OpenAPI ------------------------------------------------------------------------


def test_openapi_document_lists_exactly_the_routes(app, client):
    document = client.get("/openapi.json").get_json()

    documented = {
        (path.replace("{", "<").replace("}", ">"), method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    served = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
        if rule.endpoint != "static"
    }
    assert documented == served


def test_openapi_document_carries_the_limits():
    document = build_document(max_n=7, max_ratings=9, max_movie_ids=3)

    parameters = document["paths"]["/users/{user_id}/recommendations"]["get"]["parameters"]
    assert parameters[1]["schema"]["maximum"] == 7
    body = document["paths"]["/recommendations"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["ratings"]["maxItems"] == 9


def test_openapi_document_lists_the_genres_a_filter_accepts():
    document = build_document(max_n=7, max_ratings=9, max_movie_ids=3, genres=["Comedy", "Drama"])

    filters = document["components"]["schemas"]["Filters"]["properties"]
    assert filters["genres"]["items"]["enum"] == ["Comedy", "Drama"]
    assert filters["exclude_genres"]["items"]["enum"] == ["Comedy", "Drama"]
    assert filters["min_year"] == {"type": "integer", "minimum": 1, "maximum": 9999}

