"""Catalogue routes: title search, similar movies and the list of genres."""

from flask import Blueprint, current_app, jsonify

from api.errors import not_found
from api.model_holder import current_model
from api.params import path_id, query_int, query_text
from hybrid.model import UnknownMovieError

blueprint = Blueprint("movies", __name__)

MAX_QUERY_LENGTH = 200


@blueprint.get("/movies")
def search():
    """Search the catalogue by title: ``?q=toy&limit=20``."""
    query = query_text("q", required=True, max_length=MAX_QUERY_LENGTH)
    limit = query_int("limit", 20, 1, current_app.config["MAX_N"])
    model = current_model()
    return jsonify({"query": query, "model_version": model.info.get("version"), "items": model.search_movies(query, limit)})


@blueprint.get("/movies/<movie_id>/similar")
def similar(movie_id):
    """Movies most similar to one movie, by content and by who rated them."""
    movie_id = path_id(movie_id, "movie_id")
    n = query_int("n", 10, 1, current_app.config["MAX_N"])
    model = current_model()
    try:
        items = model.similar_movies(movie_id, n)
    except UnknownMovieError:
        raise not_found("movie_id", f"movie_id {movie_id} is not in the catalogue") from None
    return jsonify({"movie_id": movie_id, "model_version": model.info.get("version"), "items": items})


@blueprint.get("/genres")
def genres():
    """List the catalogue's genres, sorted by name, with the number of movies of each."""
    model = current_model()
    catalogue = model.catalogue
    items = [{"name": name, "movies": int(catalogue.genre_mask([name]).sum())} for name in catalogue.genre_names]
    return jsonify({"model_version": model.info.get("version"), "genres": items})
