"""Recommendation routes: for a known user, for a list of ratings, and the legacy route."""

from flask import Blueprint, current_app, jsonify

from api.errors import bad_request
from api.model_holder import current_model
from api.params import check_fields, json_filters, json_int, json_object, json_ratings, path_id, query_bool, query_int, query_text
from hybrid.ids import InvalidIdError, parse_id
from hybrid.model import OffScaleRatingError

blueprint = Blueprint("recommendations", __name__)

DEFAULT_N = 10


def _body(model, result, **fields):
    return {
        **fields,
        "model_version": model.info.get("version"),
        "fallback": result.fallback,
        "n_ratings": result.n_ratings,
        "items": result.items,
    }


def _max_n():
    return current_app.config["MAX_N"]


@blueprint.get("/users/<user_id>/recommendations")
def user_recommendations(user_id):
    """Recommend movies to a user; a user not in the data gets the popularity fallback."""
    user_id = path_id(user_id, "user_id")
    n = query_int("n", DEFAULT_N, 1, _max_n())
    model = current_model()
    result = model.recommend(user_id, n)
    return jsonify(_body(model, result, user_id=user_id, known_user=result.fallback is None))


@blueprint.post("/recommendations")
def ratings_recommendations():
    """Recommend movies to someone who is not in the data, from the ratings in the body."""
    body = json_object()
    check_fields(body, "body", ("ratings", "n", "filters"))
    ratings = json_ratings(body, required=True)
    n = json_int(body, "n", DEFAULT_N, 1, _max_n())
    model = current_model()
    filters = json_filters(body, model.catalogue.genre_names)
    try:
        result = model.recommend_for_ratings(ratings, n, filters=filters)
    except OffScaleRatingError as error:
        raise bad_request(f"ratings[{error.position}].rating", str(error)) from None
    except ValueError as error:
        raise bad_request("ratings", str(error)) from None
    return jsonify(_body(model, result, unknown_movie_ids=result.unknown_movie_ids))


@blueprint.get("/recommendations")
def legacy_recommendations():
    """The original service's route: ``?user_id=1&returnMetadata=true``.

    It returns the same recommendations as ``/users/<id>/recommendations``;
    without ``returnMetadata=true`` each item carries only ``movie_id`` and
    ``score``, as the original service did.
    """
    text = query_text("user_id", required=True, max_length=40)
    try:
        user_id = parse_id(text, "user_id")
    except InvalidIdError as error:
        raise bad_request("user_id", str(error)) from None
    n = query_int("n", DEFAULT_N, 1, _max_n())
    with_metadata = query_bool("returnMetadata", False)

    model = current_model()
    result = model.recommend(user_id, n)
    items = result.items
    if not with_metadata:
        items = [{"movie_id": item["movie_id"], "score": item["score"]} for item in items]
    body = _body(model, result, user_id=user_id, known_user=result.fallback is None)
    body["items"] = items
    return jsonify(body)
