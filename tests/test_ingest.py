"""Write routes against a real SQLite file: ratings, deletions and new movies change the next responses."""

import pytest

from api import create_app
from hybrid.store import open_store
from tests.test_store import empty_postgres_url

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NEW_USER = 900001
NEW_MOVIE = 990001


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ratings.sqlite3'}"
    return empty_postgres_url()


@pytest.fixture()
def store_app(bundled_model, database):
    return create_app({"MODEL": bundled_model, "DATABASE": database, "API_TOKEN": TOKEN, "TESTING": True})


@pytest.fixture()
def writer(store_app):
    return store_app.test_client()


def error_of(response):
    return response.get_json()["error"]


def post_ratings(client, user_id, ratings):
    return client.post(f"/users/{user_id}/ratings", json={"ratings": ratings}, headers=AUTH)


def recommended_ids(client, user_id, n=10):
    body = client.get(f"/users/{user_id}/recommendations?n={n}").get_json()
    return [item["movie_id"] for item in body["items"]], body


# Ratings ----------------------------------------------------------------------------


def test_posted_ratings_change_the_next_recommendations(writer):
    before, _ = recommended_ids(writer, 1)
    disliked = [{"movie_id": movie_id, "rating": 0.5} for movie_id in before[:3]]

    response = post_ratings(writer, 1, disliked)

    assert response.status_code == 201
    assert response.get_json()["n_ratings"] == 232 + 3
    after, body = recommended_ids(writer, 1)
    assert body["n_ratings"] == 235
    assert not set(before[:3]) & set(after)
    assert after != before


def test_first_rating_of_a_new_user_personalizes(writer, bundled_model):
    popular, fallback_body = recommended_ids(writer, NEW_USER)
    assert fallback_body["fallback"] == "popularity"

    response = post_ratings(writer, NEW_USER, [{"movie_id": 1, "rating": 5.0}])

    assert response.status_code == 201
    ids, body = recommended_ids(writer, NEW_USER)
    assert body["fallback"] is None
    assert body["known_user"] is True
    assert body["n_ratings"] == 1
    assert 1 not in ids
    assert ids != popular
    assert set(body["items"][0]["components"]) == {"collaborative", "content", "popularity"}
    # The same ratings sent to the cold-start route give the same list.
    cold = writer.post("/recommendations", json={"ratings": [{"movie_id": 1, "rating": 5.0}]}).get_json()
    assert ids == [item["movie_id"] for item in cold["items"]]


def test_stored_ratings_show_in_history_and_predictions(writer):
    post_ratings(writer, NEW_USER, [{"movie_id": 1, "rating": 4.5, "timestamp": 100}, {"movie_id": 2571, "rating": 2.0, "timestamp": 200}])

    history = writer.get(f"/users/{NEW_USER}/ratings").get_json()
    predictions = writer.get(f"/users/{NEW_USER}/predictions?movie_ids=1,2").get_json()

    assert history["known_user"] is True
    assert [(entry["movie_id"], entry["rating"], entry["timestamp"]) for entry in history["ratings"]] == [(2571, 2.0, 200), (1, 4.5, 100)]
    assert predictions["known_user"] is True
    assert predictions["fallback"] is None


def test_rating_without_timestamp_gets_the_server_clock(writer):
    response = post_ratings(writer, NEW_USER, [{"movie_id": 1, "rating": 4.0}])

    stored = response.get_json()["stored"]
    assert stored[0]["timestamp"] > 1_700_000_000


def test_older_rating_does_not_replace_a_newer_one(writer, bundled_model):
    latest = writer.get("/users/1/ratings").get_json()["ratings"][0]

    post_ratings(writer, 1, [{"movie_id": latest["movie_id"], "rating": 0.5, "timestamp": latest["timestamp"] - 1}])
    kept = writer.get("/users/1/ratings").get_json()["ratings"]
    post_ratings(writer, 1, [{"movie_id": latest["movie_id"], "rating": 0.5, "timestamp": latest["timestamp"]}])
    replaced = writer.get("/users/1/ratings").get_json()["ratings"]

    assert [entry for entry in kept if entry["movie_id"] == latest["movie_id"]][0]["rating"] == latest["rating"]
    assert [entry for entry in replaced if entry["movie_id"] == latest["movie_id"]][0]["rating"] == 0.5


@pytest.mark.parametrize(
    ("ratings", "field", "message"),
    [
        ([], "ratings", "ratings must hold at least one entry"),
        (
            [{"movie_id": 1, "rating": 4.0}, {"movie_id": 2, "rating": 4.2}],
            "ratings[1].rating",
            "ratings[1].rating 4.2 for movie_id 2 is not on the rating scale 0.5 to 5.0 in steps of 0.5",
        ),
        (
            [{"movie_id": 1, "rating": 4.0}, {"movie_id": 123456789, "rating": 4.0}],
            "ratings[1].movie_id",
            "ratings name movies that are not in the catalogue: 123456789",
        ),
        ([{"movie_id": "1", "rating": 4.0}], "ratings[0].movie_id", "invalid ratings[0].movie_id '1': expected a non-negative integer at most 9223372036854775807"),
        ([{"movie_id": 1, "rating": 10**400}], "ratings[0].rating", f"ratings[0].rating must be a number, got {10**400!r}"),
        (
            [{"movie_id": 1, "rating": 4.0, "timestamp": 2**63}],
            "ratings[0].timestamp",
            f"ratings[0].timestamp must be a non-negative integer (Unix seconds) at most 9223372036854775807, got {2**63}",
        ),
    ],
)
def test_bad_ratings_are_rejected_and_nothing_is_stored(writer, database, ratings, field, message):
    response = post_ratings(writer, NEW_USER, ratings)

    assert response.status_code == 400
    assert error_of(response)["field"] == field
    assert error_of(response)["message"] == message
    assert open_store(database).count_events() == 0


def test_unknown_movies_are_listed(writer):
    response = post_ratings(writer, NEW_USER, [{"movie_id": 123456789, "rating": 4.0}, {"movie_id": 5, "rating": 4.0}, {"movie_id": 987654321, "rating": 1.0}])

    assert error_of(response)["unknown_movie_ids"] == [123456789, 987654321]


def test_body_with_unknown_field_is_rejected(writer):
    response = writer.post(f"/users/{NEW_USER}/ratings", json={"ratings": [{"movie_id": 1, "rating": 4.0}], "n": 3}, headers=AUTH)

    assert response.status_code == 400
    assert error_of(response)["message"] == "body has unknown field 'n'; allowed fields are ratings"


# Deletions ----------------------------------------------------------------------------


def test_deleted_rating_leaves_history_and_recommendations(writer):
    post_ratings(writer, NEW_USER, [{"movie_id": 1, "rating": 5.0}, {"movie_id": 2571, "rating": 4.5}])

    response = writer.delete(f"/users/{NEW_USER}/ratings/2571", headers=AUTH)

    assert response.status_code == 200
    deleted = response.get_json()["deleted"]
    assert (deleted["movie_id"], deleted["rating"]) == (2571, 4.5)
    history = writer.get(f"/users/{NEW_USER}/ratings").get_json()["ratings"]
    assert [entry["movie_id"] for entry in history] == [1]
    assert recommended_ids(writer, NEW_USER)[1]["n_ratings"] == 1


def test_deleting_a_training_rating_hides_it(writer):
    movie_id = writer.get("/users/1/ratings").get_json()["ratings"][0]["movie_id"]

    response = writer.delete(f"/users/1/ratings/{movie_id}", headers=AUTH)

    assert response.status_code == 200
    history = writer.get("/users/1/ratings").get_json()["ratings"]
    assert len(history) == 231
    assert movie_id not in [entry["movie_id"] for entry in history]


def test_rating_posted_after_its_deletion_counts_again(writer):
    post_ratings(writer, NEW_USER, [{"movie_id": 1, "rating": 5.0, "timestamp": 500}])
    writer.delete(f"/users/{NEW_USER}/ratings/1", headers=AUTH)

    post_ratings(writer, NEW_USER, [{"movie_id": 1, "rating": 3.0, "timestamp": 100}])

    history = writer.get(f"/users/{NEW_USER}/ratings").get_json()["ratings"]
    assert [(entry["movie_id"], entry["rating"]) for entry in history] == [(1, 3.0)]


def test_deleting_a_missing_rating_is_404(writer):
    response = writer.delete(f"/users/{NEW_USER}/ratings/1", headers=AUTH)

    assert response.status_code == 404
    assert error_of(response)["message"] == f"user {NEW_USER} has no rating of movie_id 1"


# Movies --------------------------------------------------------------------------------


def noir_movie(**fields):
    return {"movie_id": NEW_MOVIE, "title": "Shadows over the Harbor (2024)", "genres": ["Crime", "Film-Noir", "Mystery"], **fields}


def test_added_movie_reaches_genre_fan(writer, bundled_model):
    catalogue = bundled_model.catalogue
    noir = [catalogue.movie_ids.id_of(index) for index, genres in enumerate(catalogue.genres) if "Film-Noir" in genres][:8]
    post_ratings(writer, NEW_USER, [{"movie_id": movie_id, "rating": 5.0} for movie_id in noir])
    assert NEW_MOVIE not in recommended_ids(writer, NEW_USER)[0]

    response = writer.post("/movies", json=noir_movie(), headers=AUTH)

    assert response.status_code == 201
    assert response.get_json()["movie"] == {
        "movie_id": NEW_MOVIE,
        "title": "Shadows over the Harbor (2024)",
        "genres": ["Crime", "Film-Noir", "Mystery"],
        "year": 2024,
    }
    ids, body = recommended_ids(writer, NEW_USER)
    assert NEW_MOVIE in ids
    item = body["items"][ids.index(NEW_MOVIE)]
    assert set(item["components"]) == {"content"}


def test_added_movie_appears_among_similar_movies(writer):
    writer.post("/movies", json=noir_movie(), headers=AUTH)

    similar = writer.get("/movies/2186/similar?n=10").get_json()["items"]
    own = writer.get(f"/movies/{NEW_MOVIE}/similar?n=5").get_json()["items"]

    assert NEW_MOVIE in [item["movie_id"] for item in similar]
    assert all("Film-Noir" in item["genres"] for item in own)


def test_added_movie_can_be_rated_searched_and_predicted(writer):
    writer.post("/movies", json=noir_movie(), headers=AUTH)

    rated = post_ratings(writer, NEW_USER, [{"movie_id": NEW_MOVIE, "rating": 4.0}, {"movie_id": 1, "rating": 5.0}])
    found = writer.get("/movies?q=shadows over").get_json()["items"]
    predicted = writer.get(f"/users/1/predictions?movie_ids={NEW_MOVIE}").get_json()["predictions"][0]["rating"]

    assert rated.status_code == 201
    assert [item["movie_id"] for item in found] == [NEW_MOVIE]
    assert 0.5 <= predicted <= 5.0


def test_added_movie_year_defaults_to_title(writer):
    from_title = writer.post("/movies", json=noir_movie(), headers=AUTH).get_json()["movie"]
    unknown = writer.post("/movies", json=noir_movie(movie_id=NEW_MOVIE + 1, year=None), headers=AUTH).get_json()["movie"]
    given = writer.post("/movies", json=noir_movie(movie_id=NEW_MOVIE + 2, year=1950), headers=AUTH).get_json()["movie"]

    assert (from_title["year"], unknown["year"], given["year"]) == (2024, None, 1950)


def test_adding_a_known_movie_is_409(writer):
    catalogue = writer.post("/movies", json=noir_movie(movie_id=1), headers=AUTH)
    writer.post("/movies", json=noir_movie(), headers=AUTH)
    stored = writer.post("/movies", json=noir_movie(), headers=AUTH)

    assert catalogue.status_code == stored.status_code == 409
    assert error_of(catalogue)["message"] == "movie_id 1 is already in the catalogue"
    assert error_of(stored)["message"] == f"movie_id {NEW_MOVIE} is already in the catalogue"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"title": "A (2000)", "genres": []}, "movie_id", "movie_id is required"),
        (noir_movie(title="  "), "title", "title must be a non-empty string, got '  '"),
        (noir_movie(title="Two\nlines"), "title", "title must not contain control characters such as line breaks, got 'Two\\nlines'"),
        (noir_movie(genres="Crime"), "genres", "genres must be a JSON array of strings, got 'Crime'"),
        (noir_movie(genres=["Crime|Drama"]), "genres[0]", "genres[0] must not contain '|' or control characters, got 'Crime|Drama'"),
        (noir_movie(genres=["Crime", "Crime"]), "genres[1]", "genres[1] repeats the genre 'Crime'"),
        (
            noir_movie(genres=["(no genres listed)"]),
            "genres[0]",
            "genres[0] '(no genres listed)' is not a genre: send an empty list for a movie without genres",
        ),
        (noir_movie(year="1950"), "year", "year must be an integer from 1800 to 2200 or null, got '1950'"),
        (noir_movie(rating=3), "body", "body has unknown field 'rating'; allowed fields are genres, movie_id, title, year"),
    ],
)
def test_bad_movies_are_rejected(writer, body, field, message):
    response = writer.post("/movies", json=body, headers=AUTH)

    assert response.status_code == 400
    assert error_of(response)["field"] == field
    assert error_of(response)["message"] == message


# Access ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", f"/users/{NEW_USER}/ratings", {"ratings": [{"movie_id": 1, "rating": 4.0}]}),
        ("delete", f"/users/{NEW_USER}/ratings/1", None),
        ("post", "/movies", noir_movie()),
    ],
)
def test_write_routes_need_the_token(writer, bundled_model, database, method, path, body):
    wrong = getattr(writer, method)(path, json=body, headers={"Authorization": "Bearer nope"})
    untokened = create_app({"MODEL": bundled_model, "DATABASE": database}).test_client()
    disabled = getattr(untokened, method)(path, json=body, headers=AUTH)

    assert wrong.status_code == 401
    assert disabled.status_code == 404


def test_write_routes_are_off_without_a_database(bundled_model):
    client = create_app({"MODEL": bundled_model, "API_TOKEN": TOKEN}).test_client()

    response = post_ratings(client, NEW_USER, [{"movie_id": 1, "rating": 4.0}])

    assert response.status_code == 404
    assert error_of(response)["message"].startswith("this route is disabled: no ratings database is configured")


# GET /model -------------------------------------------------------------------------------


def test_model_route_describes_version(writer, bundled_model):
    post_ratings(writer, NEW_USER, [{"movie_id": 1, "rating": 4.0}, {"movie_id": 2, "rating": 3.0}])
    writer.post("/movies", json=noir_movie(), headers=AUTH)

    body = writer.get("/model").get_json()

    assert body["data"] == bundled_model.info["data"]
    assert body["data"]["ratings"] == 100836
    assert body["config"]["blend"]["warm"]["collaborative"] == 0.75
    assert body["rating_scale"] == [0.5, 5.0, 0.5]
    assert body["training_seconds"]["total"] > 0
    assert body["since_training"] == {"rating_events": 2, "movies_added": 1}


def test_model_route_without_a_store(client):
    body = client.get("/model").get_json()

    assert body["since_training"] is None
    assert body["data"]["users"] == 610


def test_broken_database_gives_503(bundled_model, tmp_path):
    broken = tmp_path / "broken.sqlite3"
    broken.write_bytes(b"this is not a SQLite database file" * 100)
    client = create_app({"MODEL": bundled_model, "DATABASE": f"sqlite:///{broken}", "API_TOKEN": TOKEN}).test_client()

    read = client.get("/users/1/recommendations")
    write = post_ratings(client, NEW_USER, [{"movie_id": 1, "rating": 4.0}])

    assert read.status_code == write.status_code == 503
    assert error_of(read) == {
        "status": 503,
        "code": "database_unavailable",
        "message": "the ratings database is unavailable; try again later",
    }
