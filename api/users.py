"""User routes: predicted ratings and rating history."""

from flask import Blueprint, current_app, jsonify

from api.errors import not_found
from api.model_holder import current_model
from api.params import path_id, query_id_list
from hybrid.model import UnknownMovieError

blueprint = Blueprint("users", __name__)

MOVIE_BASELINE_FALLBACK = "movie_baseline"


@blueprint.get("/users/<user_id>/predictions")
def predictions(user_id):
    """Predicted star ratings from the explicit matrix factorization: ``?movie_ids=1,2,3``.

    A user not in the data gets each movie's baseline (global mean plus the
    movie's bias), marked by ``"fallback": "movie_baseline"``.
    """
    user_id = path_id(user_id, "user_id")
    movie_ids = query_id_list("movie_ids", current_app.config["MAX_MOVIE_IDS"])
    model = current_model()
    try:
        ratings, known_user = model.predict(user_id, movie_ids)
    except UnknownMovieError as error:
        raise not_found(
            "movie_ids",
            f"movie_ids names movies that are not in the catalogue: {', '.join(map(str, error.movie_ids))}",
            unknown_movie_ids=error.movie_ids,
        ) from None

    return jsonify(
        {
            "user_id": user_id,
            "model_version": model.info.get("version"),
            "known_user": known_user,
            "fallback": None if known_user else MOVIE_BASELINE_FALLBACK,
            "rating_scale": {"minimum": model.rating_scale[0], "maximum": model.rating_scale[1]},
            "predictions": [{"movie_id": movie_id, "rating": rating} for movie_id, rating in zip(movie_ids, ratings)],
        }
    )


@blueprint.get("/users/<user_id>/ratings")
def ratings(user_id):
    """One user's current ratings, newest first: those the model was trained on and those stored since."""
    user_id = path_id(user_id, "user_id")
    model = current_model()
    history = model.user_ratings(user_id)
    return jsonify(
        {
            "user_id": user_id,
            "model_version": model.info.get("version"),
            "known_user": bool(history),
            "ratings": history,
        }
    )
