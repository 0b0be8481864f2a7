"""Write routes: store ratings, delete a rating, add a movie.

Every route needs the bearer token (``require_token``) and a ratings store,
and without either it returns 404. A 2xx answer means the write is committed
to the database, and the next request for the user or movie, served by any
process, reflects it (see ``hybrid.live``).
"""

import re

from flask import Blueprint, jsonify

from api.auth import require_token
from api.errors import ApiError, bad_request, not_found
from api.model_holder import current_model
from api.params import check_fields, json_object, json_ratings, path_id
from api.ratings_store import require_store
from hybrid.ids import InvalidIdError, check_id
from hybrid.live import MovieNotRatedError, OffScaleRatingError
from hybrid.model import UnknownMovieError
from hybrid.store import DuplicateMovieError

blueprint = Blueprint("ingest", __name__)

MAX_TITLE_LENGTH = 500
MAX_GENRES = 20
MAX_GENRE_LENGTH = 50
MIN_YEAR, MAX_YEAR = 1800, 2200
# The MovieLens files separate genres with "|" and write this text for "none".
_GENRE_SEPARATOR = "|"
_NO_GENRES = "(no genres listed)"
_TITLE_YEAR = re.compile(r"\(([0-9]{4})\)\s*$")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


@blueprint.post("/users/<user_id>/ratings")
@require_token
def add_ratings(user_id):
    """Store ratings of one user, a user in the data or a new one: ``{"ratings": [{"movie_id", "rating", "timestamp"?}]}``.

    All entries are checked first (types, the rating scale, movies in the
    catalogue); one bad entry rejects the request and nothing is stored.
    """
    user_id = path_id(user_id, "user_id")
    require_store()
    body = json_object()
    check_fields(body, "body", ("ratings",))
    entries = json_ratings(body, required=True)
    if not entries:
        raise bad_request("ratings", "ratings must hold at least one entry")

    live = current_model()
    try:
        stored = live.add_ratings(user_id, entries)
    except OffScaleRatingError as error:
        raise bad_request(f"ratings[{error.position}].rating", str(error)) from None
    except UnknownMovieError as error:
        position = next(index for index, entry in enumerate(entries) if entry[0] in error.movie_ids)
        raise ApiError(
            400,
            "invalid_parameter",
            f"ratings name movies that are not in the catalogue: {', '.join(map(str, error.movie_ids))}",
            field=f"ratings[{position}].movie_id",
            details={"unknown_movie_ids": error.movie_ids},
        ) from None

    history = live.history(user_id)
    body = {
        "user_id": user_id,
        "model_version": live.info.get("version"),
        "stored": [
            {"movie_id": int(movie_id), "rating": float(rating), "timestamp": int(timestamp)}
            for movie_id, rating, timestamp in zip(stored.movie_ids, stored.ratings, stored.timestamps)
        ],
        "n_ratings": 0 if history is None else int(history[0].size),
    }
    return jsonify(body), 201


@blueprint.delete("/users/<user_id>/ratings/<movie_id>")
@require_token
def delete_rating(user_id, movie_id):
    """Delete the user's current rating of a movie; the deletion is stored, the rating's row is kept."""
    user_id = path_id(user_id, "user_id")
    movie_id = path_id(movie_id, "movie_id")
    require_store()

    live = current_model()
    try:
        deleted = live.delete_rating(user_id, movie_id)
    except MovieNotRatedError as error:
        raise not_found("movie_id", str(error)) from None
    return jsonify({"user_id": user_id, "model_version": live.info.get("version"), "deleted": deleted})


@blueprint.post("/movies")
@require_token
def add_movie():
    """Add a movie: ``{"movie_id", "title", "genres": [...], "year"?}``.

    It gets a content vector at once, so it can be recommended and appears
    among similar movies before anyone rates it. Without ``year``, the year
    is read from a title ending in "(1995)"; ``"year": null`` means unknown.
    """
    require_store()
    body = json_object()
    check_fields(body, "body", ("movie_id", "title", "genres", "year"))
    for field in ("movie_id", "title", "genres"):
        if field not in body:
            raise bad_request(field, f"{field} is required")

    try:
        movie_id = check_id(body["movie_id"], "movie_id")
    except InvalidIdError as error:
        raise bad_request("movie_id", str(error)) from None
    title = _title(body["title"])
    genres = _genres(body["genres"])
    year = _year(body, title)

    live = current_model()
    try:
        movie = live.add_movie(movie_id, title, genres, year)
    except DuplicateMovieError:
        raise ApiError(409, "conflict", f"movie_id {movie_id} is already in the catalogue", field="movie_id") from None
    return jsonify({"model_version": live.info.get("version"), "movie": movie}), 201


def _title(title):
    if not isinstance(title, str) or not title.strip():
        raise bad_request("title", f"title must be a non-empty string, got {title!r}")
    if len(title) > MAX_TITLE_LENGTH:
        raise bad_request("title", f"title must be at most {MAX_TITLE_LENGTH} characters, got {len(title)}")
    if _CONTROL_CHARACTERS.search(title):
        raise bad_request("title", f"title must not contain control characters such as line breaks, got {title!r}")
    return title


def _genres(genres):
    if not isinstance(genres, list):
        raise bad_request("genres", f"genres must be a JSON array of strings, got {genres!r}")
    if len(genres) > MAX_GENRES:
        raise bad_request("genres", f"genres may hold at most {MAX_GENRES} entries, got {len(genres)}")
    for position, genre in enumerate(genres):
        field = f"genres[{position}]"
        if not isinstance(genre, str) or not genre.strip() or len(genre) > MAX_GENRE_LENGTH:
            raise bad_request(field, f"{field} must be a non-empty string of at most {MAX_GENRE_LENGTH} characters, got {genre!r}")
        if _GENRE_SEPARATOR in genre or _CONTROL_CHARACTERS.search(genre):
            raise bad_request(field, f"{field} must not contain '|' or control characters, got {genre!r}")
        if genre == _NO_GENRES:
            raise bad_request(field, f"{field} {_NO_GENRES!r} is not a genre: send an empty list for a movie without genres")
        if genre in genres[:position]:
            raise bad_request(field, f"{field} repeats the genre {genre!r}")
    return tuple(genres)


def _year(body, title):
    if "year" not in body:
        match = _TITLE_YEAR.search(title)
        return int(match.group(1)) if match else None
    year = body["year"]
    if year is None:
        return None
    if isinstance(year, bool) or not isinstance(year, int) or not MIN_YEAR <= year <= MAX_YEAR:
        raise bad_request("year", f"year must be an integer from {MIN_YEAR} to {MAX_YEAR} or null, got {year!r}")
    return year
