"""Parsing of query strings, path segments and JSON bodies into checked values.

Every function raises ``ApiError`` (status 400) naming the field, the value
received and what was expected. None of them coerces, so ``n=1.0`` is not an
integer and ``"1"`` in JSON is not a movie id.
"""

import math
import re

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from api.errors import bad_request
from hybrid.ids import MAX_ID, InvalidIdError, check_id, parse_id
from hybrid.model import Filters

_INTEGER = re.compile(r"[+-]?[0-9]+")


def path_id(text, field):
    """Return the integer id of a path segment, or raise 400."""
    try:
        return parse_id(text, field)
    except InvalidIdError as error:
        raise bad_request(field, str(error)) from None


def query_int(name, default, minimum, maximum):
    """Return the integer query parameter ``name`` in [minimum, maximum], or ``default`` when absent."""
    values = request.args.getlist(name)
    if not values:
        return default
    if len(values) > 1:
        raise bad_request(name, f"{name} must be given once, got {len(values)} values")

    text = values[0]
    if not _INTEGER.fullmatch(text) or not minimum <= int(text) <= maximum:
        raise bad_request(name, f"{name} must be an integer from {minimum} to {maximum}, got {text!r}")
    return int(text)


def query_text(name, *, required, max_length):
    """Return the text query parameter ``name``, or None when it is absent and not required."""
    values = request.args.getlist(name)
    if not values:
        if required:
            raise bad_request(name, f"query parameter {name} is required")
        return None
    if len(values) > 1:
        raise bad_request(name, f"{name} must be given once, got {len(values)} values")
    if len(values[0]) > max_length:
        raise bad_request(name, f"{name} must be at most {max_length} characters, got {len(values[0])}")
    return values[0]


def query_bool(name, default):
    """Return the boolean query parameter ``name`` ("true" or "false"), or ``default``."""
    text = query_text(name, required=False, max_length=5)
    if text is None:
        return default
    if text not in ("true", "false"):
        raise bad_request(name, f"{name} must be true or false, got {text!r}")
    return text == "true"


def query_id_list(name, max_count):
    """Return the comma-separated ids of query parameter ``name`` (required)."""
    text = query_text(name, required=True, max_length=max_count * 21)
    parts = text.split(",")
    if len(parts) > max_count:
        raise bad_request(name, f"{name} may list at most {max_count} ids, got {len(parts)}")

    ids = []
    for part in parts:
        try:
            ids.append(parse_id(part, name[:-1] if name.endswith("s") else name))
        except InvalidIdError as error:
            raise bad_request(name, str(error)) from None
    return ids


_BODY_EXAMPLE = '{"ratings": [{"movie_id": 1, "rating": 4.5}]}'


def json_object():
    """Return the request body parsed as a JSON object, or raise 400 (413 when it is too large)."""
    _check_body_size()
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise bad_request("body", f"request body is empty; send a JSON object, e.g. {_BODY_EXAMPLE}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise bad_request("body", f"request body is not valid UTF-8: invalid byte at position {error.start}") from None
    try:
        body = current_app.json.loads(text)
    except RecursionError:
        # Python's parser recurses once per nesting level, so about a
        # thousand brackets, a body of 2 KB, would otherwise be a 500.
        raise bad_request("body", "request body is nested too deeply to parse") from None
    except ValueError as error:
        raise bad_request("body", f"request body is not valid JSON: {error}") from None
    if body is None:
        raise bad_request("body", f"request body must be a JSON object, e.g. {_BODY_EXAMPLE}")
    if not isinstance(body, dict):
        raise bad_request("body", f"request body must be a JSON object, got a JSON {_json_type(body)}")
    return body


def _check_body_size():
    # Werkzeug rejects a Content-Length above MAX_CONTENT_LENGTH, but it cuts
    # a body without one (chunked transfer encoding) at the limit and returns
    # the first part. A body that fills the limit is therefore rejected here
    # instead of being parsed from its first bytes.
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if request.content_length is None and limit is not None and len(request.get_data(cache=True)) >= limit:
        raise RequestEntityTooLarge(f"a request body without Content-Length must be shorter than {limit} bytes")


def _json_type(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _is_finite_number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, int):
        # math.isfinite(10**400) raises OverflowError instead of answering.
        return abs(value) <= 1e300
    return math.isfinite(value)


def check_fields(value, field, allowed):
    """Raise 400 when the JSON object ``value`` has a key outside ``allowed``."""
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise bad_request(field, f"{field} has unknown field {unknown[0]!r}; allowed fields are {', '.join(sorted(allowed))}")


def json_int(body, name, default, minimum, maximum):
    """Return the integer member ``name`` of ``body`` in [minimum, maximum], or ``default``."""
    if name not in body:
        return default
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise bad_request(name, f"{name} must be an integer from {minimum} to {maximum}, got {value!r}")
    return value


def json_ratings(body, *, required):
    """Return the ``ratings`` member of ``body`` as a list of (movie_id, rating, timestamp) triples.

    ``timestamp`` is None where the entry has none.
    """
    max_ratings = current_app.config["MAX_RATINGS"]
    if "ratings" not in body:
        if required:
            raise bad_request("ratings", "ratings is required: a list of {\"movie_id\": int, \"rating\": number}")
        return []

    ratings = body["ratings"]
    if not isinstance(ratings, list):
        raise bad_request("ratings", f"ratings must be a JSON array, got a JSON {_json_type(ratings)}")
    if len(ratings) > max_ratings:
        raise bad_request("ratings", f"ratings may hold at most {max_ratings} entries, got {len(ratings)}")

    entries = []
    for position, entry in enumerate(ratings):
        field = f"ratings[{position}]"
        if not isinstance(entry, dict):
            raise bad_request(field, f"{field} must be a JSON object, got a JSON {_json_type(entry)}")
        check_fields(entry, field, ("movie_id", "rating", "timestamp"))
        if "movie_id" not in entry:
            raise bad_request(f"{field}.movie_id", f"{field}.movie_id is required")
        if "rating" not in entry:
            raise bad_request(f"{field}.rating", f"{field}.rating is required")
        try:
            movie_id = check_id(entry["movie_id"], f"{field}.movie_id")
        except InvalidIdError as error:
            raise bad_request(f"{field}.movie_id", str(error)) from None
        rating = entry["rating"]
        if not _is_finite_number(rating):
            raise bad_request(f"{field}.rating", f"{field}.rating must be a number, got {rating!r}")
        timestamp = entry.get("timestamp")
        if "timestamp" in entry and (
            isinstance(timestamp, bool) or not isinstance(timestamp, int) or not 0 <= timestamp <= MAX_ID
        ):
            raise bad_request(
                f"{field}.timestamp",
                f"{field}.timestamp must be a non-negative integer (Unix seconds) at most {MAX_ID}, got {timestamp!r}",
            )
        entries.append((movie_id, float(rating), timestamp))
    return entries


MIN_YEAR = 1
MAX_YEAR = 9999
FILTER_FIELDS = ("genres", "exclude_genres", "min_year", "max_year")


def _json_genres(filters, name, known_genres):
    field = f"filters.{name}"
    if name not in filters:
        return ()
    genres = filters[name]
    if not isinstance(genres, list):
        raise bad_request(field, f"{field} must be a JSON array of genre names, got a JSON {_json_type(genres)}")

    known = set(known_genres)
    for position, genre in enumerate(genres):
        entry = f"{field}[{position}]"
        if not isinstance(genre, str):
            raise bad_request(entry, f"{entry} must be a genre name, got a JSON {_json_type(genre)}")
        if genre not in known:
            raise bad_request(entry, f"{entry} {genre!r} is not a genre of the catalogue; expected one of {', '.join(known_genres)}")
    return tuple(dict.fromkeys(genres))


def _json_year(filters, name):
    field = f"filters.{name}"
    if name not in filters:
        return None
    year = filters[name]
    if isinstance(year, bool) or not isinstance(year, int) or not MIN_YEAR <= year <= MAX_YEAR:
        raise bad_request(field, f"{field} must be an integer year from {MIN_YEAR} to {MAX_YEAR}, got {year!r}")
    return year


def json_filters(body, known_genres):
    """Return the ``filters`` member of ``body`` as ``hybrid.model.Filters``, or None when absent.

    Genre names must be genres of the catalogue (``known_genres``, sorted),
    a genre may not be both included and excluded, and ``min_year`` may not
    exceed ``max_year``.
    """
    if "filters" not in body:
        return None
    filters = body["filters"]
    if not isinstance(filters, dict):
        raise bad_request("filters", f"filters must be a JSON object, got a JSON {_json_type(filters)}")
    check_fields(filters, "filters", FILTER_FIELDS)

    genres = _json_genres(filters, "genres", known_genres)
    exclude_genres = _json_genres(filters, "exclude_genres", known_genres)
    both = [genre for genre in exclude_genres if genre in genres]
    if both:
        raise bad_request("filters.exclude_genres", f"genre {both[0]!r} is in both filters.genres and filters.exclude_genres")

    min_year = _json_year(filters, "min_year")
    max_year = _json_year(filters, "max_year")
    if min_year is not None and max_year is not None and min_year > max_year:
        raise bad_request("filters.min_year", f"filters.min_year {min_year} is greater than filters.max_year {max_year}")
    return Filters(genres=genres, exclude_genres=exclude_genres, min_year=min_year, max_year=max_year)
