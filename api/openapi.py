"""The OpenAPI 3 description of the HTTP API, served at ``GET /openapi.json``.

Tests check that it lists exactly the application's routes and fuzz the API
from it with schemathesis, so it must change whenever a route does.
"""

from flask import Blueprint, current_app, jsonify

from api.model_holder import current_model
from api.params import MAX_YEAR, MIN_YEAR

blueprint = Blueprint("openapi", __name__)

_ID = {"type": "integer", "format": "int64", "minimum": 0, "maximum": 9223372036854775807}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description):
    return _json(_ref("Error"), description)


def _path_id(name, description):
    return {"name": name, "in": "path", "required": True, "description": description, "schema": _ID}


def _count(name, default, maximum, description):
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
    }


def _id_list_pattern(max_count):
    # Ids up to 8999999999999999999 (19 digits starting 1-8) stay below
    # int64's maximum, so every string the pattern admits is accepted.
    one_id = "(0|[1-9][0-9]{0,17}|[1-8][0-9]{18})"
    return f"^{one_id}(,{one_id}){{0,{max_count - 1}}}$"


def build_document(max_n, max_ratings, max_movie_ids, rating_scale=(0.5, 5.0, 0.5), genres=()):
    """Return the OpenAPI document for the application's limits and the model's rating scale and genres."""
    minimum, maximum, step = rating_scale
    rating = {"type": "number", "minimum": minimum, "maximum": maximum}
    if step is not None:
        rating["multipleOf"] = step
    movie = {
        "type": "object",
        "required": ["movie_id", "title", "genres", "year"],
        "properties": {
            "movie_id": _ID,
            "title": {"type": "string"},
            "genres": {"type": "array", "items": {"type": "string"}},
            "year": {"type": "integer", "nullable": True},
        },
    }
    item = {
        "type": "object",
        "required": ["movie_id", "title", "genres", "year", "score"],
        "properties": {
            **movie["properties"],
            "score": {"type": "number"},
            "components": {"type": "object", "additionalProperties": {"type": "number"}},
            "reason": {
                "type": "object",
                "nullable": True,
                "description": (
                    "The liked movie (rated above the user's mean) that added most to this movie's score in "
                    "the component that added most to the blend: content, collaborative (ALS), ease (EASE) or rp3beta (RP3beta). share is its "
                    "part of that component's positive contributions. Null when no liked movie adds to it."
                ),
                "required": ["movie_id", "title", "rating", "kind", "share"],
                "properties": {
                    "movie_id": _ID,
                    "title": {"type": "string"},
                    "rating": {"type": "number"},
                    "kind": {"type": "string", "enum": ["content", "collaborative", "ease", "rp3beta"]},
                    "share": {"type": "number", "minimum": 0, "maximum": 1},
                },
            },
        },
    }
    recommendations = {
        "type": "object",
        "required": ["model_version", "fallback", "n_ratings", "items"],
        "properties": {
            "user_id": _ID,
            "known_user": {"type": "boolean"},
            "unknown_movie_ids": {"type": "array", "items": _ID},
            "model_version": {"type": "string", "nullable": True},
            "fallback": {"type": "string", "nullable": True, "enum": ["popularity", None]},
            "n_ratings": {"type": "integer", "minimum": 0},
            "items": {"type": "array", "items": _ref("Item")},
        },
    }
    error = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "code", "message"],
                "properties": {
                    "status": {"type": "integer"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": "string"},
                },
            }
        },
    }
    rating_input = {
        "type": "object",
        "required": ["movie_id", "rating"],
        "additionalProperties": False,
        "properties": {
            "movie_id": _ID,
            "rating": rating,
            "timestamp": {"type": "integer", "minimum": 0, "maximum": 9223372036854775807},
        },
    }
    genre_name = {"type": "string", "enum": list(genres)} if genres else {"type": "string"}
    genre_names = {"type": "array", "items": genre_name}
    year = {"type": "integer", "minimum": MIN_YEAR, "maximum": MAX_YEAR}
    filters = {
        "type": "object",
        "additionalProperties": False,
        "description": (
            "Restrict the recommended movies: at least one of genres, none of exclude_genres, and a release "
            "year within [min_year, max_year]. A movie with no known year fails any year bound. A genre may "
            "not be both included and excluded, and min_year may not exceed max_year."
        ),
        "properties": {"genres": genre_names, "exclude_genres": genre_names, "min_year": year, "max_year": year},
    }
    n_parameter = _count("n", 10, max_n, "Number of movies to return.")
    user_id = _path_id("user_id", "External user id.")
    bad_input = _error("Invalid parameter; the error names the field.")

    document = {
        "openapi": "3.0.3",
        "info": {
            "title": "true-recommend",
            "version": "1",
            "description": "Hybrid movie recommendations: collaborative filtering, content and popularity, blended.",
        },
        "paths": {
            "/health": {
                "get": {
                    "summary": "Liveness: 200 once the model is loaded.",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["status", "model_version"],
                                "properties": {
                                    "status": {"type": "string", "enum": ["ok"]},
                                    "model_version": {"type": "string", "nullable": True},
                                },
                            },
                            "The model is loaded.",
                        )
                    },
                }
            },
            "/users/{user_id}/recommendations": {
                "get": {
                    "summary": "Recommendations for a user; a user not in the data gets the popularity fallback.",
                    "parameters": [user_id, n_parameter],
                    "responses": {"200": _json(_ref("Recommendations"), "Recommended movies, best first."), "400": bad_input},
                }
            },
            "/recommendations": {
                "get": {
                    "summary": "Legacy route of the original service; same data as /users/{user_id}/recommendations.",
                    "parameters": [
                        {"name": "user_id", "in": "query", "required": True, "schema": _ID},
                        n_parameter,
                        {
                            "name": "returnMetadata",
                            "in": "query",
                            "required": False,
                            "description": "Include title, genres and year in each item.",
                            "schema": {"type": "string", "enum": ["true", "false"], "default": "false"},
                        },
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": recommendations["required"],
                                "properties": {
                                    **recommendations["properties"],
                                    "items": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["movie_id", "score"],
                                            "properties": {**item["properties"]},
                                        },
                                    },
                                },
                            },
                            "Recommended movies, best first.",
                        ),
                        "400": bad_input,
                    },
                },
                "post": {
                    "summary": "Recommendations for someone not in the data, from their ratings (cold start).",
                    "description": (
                        "A movie rated more than once counts with its latest rating: the highest timestamp, "
                        "or the later entry when timestamps are equal or absent."
                    ),
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["ratings"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "ratings": {"type": "array", "maxItems": max_ratings, "items": _ref("RatingInput")},
                                        "n": {"type": "integer", "minimum": 1, "maximum": max_n, "default": 10},
                                        "filters": _ref("Filters"),
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(_ref("Recommendations"), "Recommended movies; unknown movie ids are listed, not used."),
                        "400": bad_input,
                        "413": _error("The request body is larger than the server accepts."),
                    },
                },
            },
            "/movies": {
                "get": {
                    "summary": "Search the catalogue by title (case and accents ignored).",
                    "parameters": [
                        {"name": "q", "in": "query", "required": True, "schema": {"type": "string", "maxLength": 200}},
                        _count("limit", 20, max_n, "Number of movies to return."),
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["query", "items"],
                                "properties": {
                                    "query": {"type": "string"},
                                    "model_version": {"type": "string", "nullable": True},
                                    "items": {"type": "array", "items": _ref("Movie")},
                                },
                            },
                            "Matching movies: titles starting with the query first, then by popularity.",
                        ),
                        "400": bad_input,
                    },
                }
            },
            "/genres": {
                "get": {
                    "summary": "The catalogue's genres, sorted by name, with the number of movies of each.",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["model_version", "genres"],
                                "properties": {
                                    "model_version": {"type": "string", "nullable": True},
                                    "genres": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["name", "movies"],
                                            "properties": {"name": {"type": "string"}, "movies": {"type": "integer", "minimum": 0}},
                                        },
                                    },
                                },
                            },
                            "Every genre that a movie of the catalogue has.",
                        )
                    },
                }
            },
            "/movies/{movie_id}/similar": {
                "get": {
                    "summary": "Movies most similar to a movie.",
                    "parameters": [_path_id("movie_id", "Movie id."), n_parameter],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["movie_id", "items"],
                                "properties": {
                                    "movie_id": _ID,
                                    "model_version": {"type": "string", "nullable": True},
                                    "items": {"type": "array", "items": _ref("Item")},
                                },
                            },
                            "Similar movies, most similar first.",
                        ),
                        "400": bad_input,
                        "404": _error("The movie is not in the catalogue."),
                    },
                }
            },
            "/users/{user_id}/predictions": {
                "get": {
                    "summary": "Predicted star ratings from the explicit matrix factorization.",
                    "parameters": [
                        user_id,
                        {
                            "name": "movie_ids",
                            "in": "query",
                            "required": True,
                            "description": f"Comma-separated movie ids, at most {max_movie_ids}.",
                            "schema": {"type": "string", "pattern": _id_list_pattern(max_movie_ids)},
                        },
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["user_id", "known_user", "fallback", "predictions"],
                                "properties": {
                                    "user_id": _ID,
                                    "model_version": {"type": "string", "nullable": True},
                                    "known_user": {"type": "boolean"},
                                    "fallback": {"type": "string", "nullable": True, "enum": ["movie_baseline", None]},
                                    "rating_scale": {
                                        "type": "object",
                                        "properties": {"minimum": {"type": "number"}, "maximum": {"type": "number"}},
                                    },
                                    "predictions": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["movie_id", "rating"],
                                            "properties": {"movie_id": _ID, "rating": {"type": "number"}},
                                        },
                                    },
                                },
                            },
                            "One prediction per requested movie, in request order.",
                        ),
                        "400": bad_input,
                        "404": _error("A listed movie is not in the catalogue."),
                    },
                }
            },
            "/users/{user_id}/ratings": {
                "get": {
                    "summary": "A user's current ratings, newest first: training data and ratings store merged (empty for a user with none).",
                    "parameters": [user_id],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["user_id", "known_user", "ratings"],
                                "properties": {
                                    "user_id": _ID,
                                    "model_version": {"type": "string", "nullable": True},
                                    "known_user": {"type": "boolean"},
                                    "ratings": {
                                        "type": "array",
                                        "items": {
                                            "allOf": [_ref("Movie")],
                                            "properties": {"rating": {"type": "number"}, "timestamp": {"type": "integer"}},
                                        },
                                    },
                                },
                            },
                            "The ratings the model was trained on, with those stored since merged in.",
                        ),
                        "400": bad_input,
                    },
                }
            },
            "/admin/reload": {
                "post": {
                    "summary": "Serve the version that MODEL_DIR/CURRENT names now, without waiting for the periodic check.",
                    "description": (
                        "Takes no parameters. Needs Authorization: Bearer <API_TOKEN>; the route is off (404) "
                        "when the server has no token. Under gunicorn the worker checks that the version loads, "
                        "signals the master to replace the workers and returns 202."
                    ),
                    "security": [{"bearerAuth": []}],
                    "responses": {
                        "200": _json(_ref("ReloadOutcome"), "This process now serves the published version, or already did."),
                        "202": _json(_ref("ReloadOutcome"), "The gunicorn master was asked to load the published version."),
                        "401": _error("Missing or invalid bearer token."),
                        "404": _error("The route is off because the server has no API token."),
                        "409": _error("Nothing is published, or the published version cannot be loaded; the served model stays."),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics: requests and latency per route, and the served model version.",
                    "responses": {
                        "200": {
                            "description": "The metrics in the Prometheus text format.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/": {
                "get": {
                    "summary": "A web page to try the recommender: search, rate, and see recommendations with reasons.",
                    "responses": {"200": {"description": "The HTML page.", "content": {"text/html": {}}}},
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document.",
                    "responses": {"200": {"description": "The OpenAPI document.", "content": {"application/json": {}}}},
                }
            },
        },
        "components": {
            "schemas": {
                "Movie": movie,
                "Item": item,
                "Recommendations": recommendations,
                "RatingInput": rating_input,
                "Filters": filters,
                "Error": error,
                "ReloadOutcome": {
                    "type": "object",
                    "required": ["status", "previous_version", "model_version"],
                    "properties": {
                        "status": {"type": "string", "enum": ["reloaded", "unchanged", "requested"]},
                        "previous_version": {"type": "string", "nullable": True},
                        "model_version": {"type": "string", "nullable": True},
                    },
                },
            },
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
    _add_store_routes(document, max_ratings, user_id, bad_input)
    return document


def _add_store_routes(document, max_ratings, user_id, bad_input):
    """Add the write routes and ``GET /model`` to ``document``.

    The bearer token is described in words, not as an OpenAPI security
    scheme: a server without a token answers 404, where a declared scheme
    makes clients and fuzzers expect 401.
    """
    paths = document["paths"]
    write_errors = {
        "401": _error("The bearer token is missing or wrong."),
        "404": _error(
            "The route is disabled because the server has no API token or no ratings database, "
            "or the named user, movie or rating does not exist."
        ),
    }
    stored_rating = {
        "type": "object",
        "required": ["movie_id", "rating", "timestamp"],
        "properties": {"movie_id": _ID, "rating": {"type": "number"}, "timestamp": {"type": "integer"}},
    }
    movie_input = {
        "type": "object",
        "required": ["movie_id", "title", "genres"],
        "additionalProperties": False,
        "properties": {
            "movie_id": _ID,
            "title": {"type": "string", "minLength": 1, "maxLength": 500},
            "genres": {"type": "array", "maxItems": 20, "items": {"type": "string", "minLength": 1, "maxLength": 50}},
            "year": {"type": "integer", "minimum": 1800, "maximum": 2200, "nullable": True},
        },
    }

    paths["/users/{user_id}/ratings"]["post"] = {
        "summary": "Store ratings of a user (in the data or new); the next recommendations reflect them.",
        "description": (
            "Needs Authorization: Bearer <TRUE_RECOMMEND_API_TOKEN>. Every entry is checked first (types, rating scale, movies in the catalogue); "
            "one bad entry rejects the request and nothing is stored. An entry without timestamp gets the "
            "server's clock. Of several ratings of one movie, the latest timestamp counts."
        ),
        "parameters": [user_id],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["ratings"],
                        "additionalProperties": False,
                        "properties": {
                            "ratings": {"type": "array", "minItems": 1, "maxItems": max_ratings, "items": _ref("RatingInput")}
                        },
                    }
                }
            },
        },
        "responses": {
            "201": _json(
                {
                    "type": "object",
                    "required": ["user_id", "model_version", "stored", "n_ratings"],
                    "properties": {
                        "user_id": _ID,
                        "model_version": {"type": "string", "nullable": True},
                        "stored": {"type": "array", "items": stored_rating},
                        "n_ratings": {"type": "integer", "minimum": 0},
                    },
                },
                "The ratings are committed to the database.",
            ),
            "400": bad_input,
            **write_errors,
            "413": _error("The request body is larger than the server accepts."),
        },
    }
    paths["/users/{user_id}/ratings/{movie_id}"] = {
        "delete": {
            "summary": "Delete a user's current rating of a movie (the deletion is stored; the old row is kept).",
            "description": "Needs Authorization: Bearer <TRUE_RECOMMEND_API_TOKEN>.",
                "parameters": [user_id, _path_id("movie_id", "Movie id.")],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": ["user_id", "model_version", "deleted"],
                        "properties": {
                            "user_id": _ID,
                            "model_version": {"type": "string", "nullable": True},
                            "deleted": {
                                "allOf": [_ref("Movie")],
                                "properties": {"rating": {"type": "number"}, "timestamp": {"type": "integer"}},
                            },
                        },
                    },
                    "The deletion is committed; the deleted rating is returned.",
                ),
                "400": bad_input,
                **write_errors,
            },
        }
    }
    paths["/movies"]["post"] = {
        "summary": "Add a movie; the content model gives it a vector at once (item cold start).",
        "description": (
            "Needs Authorization: Bearer <TRUE_RECOMMEND_API_TOKEN>. Without year, the year is read from a title ending in \"(1995)\"; "
            "null means unknown. Collaborative scores reach the movie at the next retrain."
        ),
        "requestBody": {"required": True, "content": {"application/json": {"schema": movie_input}}},
        "responses": {
            "201": _json(
                {
                    "type": "object",
                    "required": ["model_version", "movie"],
                    "properties": {"model_version": {"type": "string", "nullable": True}, "movie": _ref("Movie")},
                },
                "The movie is committed and can be recommended.",
            ),
            "400": bad_input,
            **write_errors,
            "409": _error("The movie id is already in the catalogue."),
            "413": _error("The request body is larger than the server accepts."),
        },
    }
    nullable_object = {"type": "object", "nullable": True}
    unavailable = _error("The ratings database is configured but cannot be used; the request may be retried.")
    paths["/model"] = {
        "get": {
            "summary": "The serving model version: when and on what it was trained, its configuration and evaluation.",
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "required": [
                            "model_version",
                            "created_at",
                            "data",
                            "training_seconds",
                            "config",
                            "rating_scale",
                            "evaluation",
                            "store",
                            "since_training",
                        ],
                        "properties": {
                            "model_version": {"type": "string", "nullable": True},
                            "created_at": {"type": "string", "nullable": True},
                            "data": {"type": "object"},
                            "training_seconds": {"type": "object"},
                            "config": {"type": "object"},
                            "rating_scale": {"type": "array", "items": {"type": "number", "nullable": True}},
                            "evaluation": nullable_object,
                            "store": nullable_object,
                            "since_training": {
                                "type": "object",
                                "nullable": True,
                                "properties": {
                                    "rating_events": {"type": "integer", "minimum": 0},
                                    "movies_added": {"type": "integer", "minimum": 0},
                                },
                            },
                        },
                    },
                    "The model description, from the version's manifest.",
                )
            },
        }
    }
    # Every route but /health reads the ratings store when one is configured.
    for path, operations in paths.items():
        if path != "/health":
            for operation in operations.values():
                operation["responses"].setdefault("503", unavailable)


@blueprint.get("/openapi.json")
def openapi_document():
    config = current_app.config
    model = current_model()
    document = build_document(
        config["MAX_N"], config["MAX_RATINGS"], config["MAX_MOVIE_IDS"], model.rating_scale, model.catalogue.genre_names
    )
    return jsonify(document)
