"""Property tests: arbitrary path segments, query strings and bodies never make the API fail.

Hypothesis sends every route of the application, with its own methods and
with others, values of every shape: any Unicode in path segments and query
parameters, JSON of any structure, JSON shaped almost like a valid request,
and raw bytes. Each response must be a 2xx or a 4xx, and every 4xx must be
the API's JSON error naming its own status.
"""

import json
import re
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import create_app
from tests.conftest import train_bundled_model

TOKEN = "property-token-0123456789abcdef"
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
QUERY_NAMES = ["n", "limit", "q", "user_id", "movie_ids", "returnMetadata"]
# Path segments the application's converters and ids care about, mixed into the random text.
SEGMENTS = ["0", "1", "007", "-1", "1.0", "9223372036854775807", "9223372036854775808", "..", "%00", "a/b", " "]
TEXT = st.text(max_size=40)

APP = create_app({"MODEL": train_bundled_model(), "API_TOKEN": TOKEN, "MODEL_DIR": "/nonexistent/true-recommend-model"})
RULES = sorted(rule.rule for rule in APP.url_map.iter_rules())
EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _json_values():
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT
    return st.recursive(scalars, lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4), max_leaves=12)


def _rating_like():
    number = st.integers(-10, 10**20) | st.floats(allow_nan=False) | st.sampled_from([0.5, 4.0, 5.0])
    anything = _json_values()
    entry = st.fixed_dictionaries(
        {"movie_id": st.sampled_from([1, 2, 296, 2571, 0, -1, 2**63]) | anything, "rating": number | anything},
        optional={"timestamp": st.integers() | anything},
    )
    return st.fixed_dictionaries({"ratings": st.lists(entry, max_size=6) | anything}, optional={"n": st.integers() | anything})


def _fill(rule, segments):
    names = re.findall(r"<(?:[^:>]+:)?([^>]+)>", rule)
    path = rule
    for name, segment in zip(names, segments):
        path = re.sub(rf"<(?:[^:>]+:)?{name}>", quote(segment, safe=""), path)
    return path


def _check(response):
    assert response.status_code < 500, response.data
    if response.status_code >= 400:
        assert response.is_json, response.data
        error = response.get_json()["error"]
        assert error["status"] == response.status_code
        assert error["code"]
        assert error["message"]
    elif response.mimetype == "application/json":
        assert isinstance(response.get_json(), dict)


def _headers(with_token):
    return {"Authorization": f"Bearer {TOKEN}"} if with_token else {}


@pytest.mark.parametrize("rule", RULES)
@EXAMPLES
@given(segments=st.lists(st.sampled_from(SEGMENTS) | TEXT, min_size=2, max_size=2), method=st.sampled_from(METHODS))
def test_any_path_segment(rule, segments, method):
    response = APP.test_client().open(_fill(rule, segments), method=method)

    _check(response)


@pytest.mark.parametrize("rule", RULES)
@EXAMPLES
@given(
    parameters=st.lists(st.tuples(st.sampled_from(QUERY_NAMES) | TEXT, st.sampled_from(["1", "10", "toy", "1,2"]) | TEXT), max_size=5),
    raw=st.booleans(),
)
def test_any_query_string(rule, parameters, raw):
    query = urlencode(parameters) if not raw else "&".join(f"{name}={value}" for name, value in parameters)

    response = APP.test_client().get(_fill(rule, ["1", "1"]), query_string=query)

    _check(response)


@pytest.mark.parametrize("rule", RULES)
@EXAMPLES
@given(body=_json_values() | _rating_like(), method=st.sampled_from(["POST", "GET", "PUT"]), with_token=st.booleans())
def test_any_json_body(rule, body, method, with_token):
    response = APP.test_client().open(
        _fill(rule, ["1", "1"]), method=method, data=json.dumps(body), content_type="application/json", headers=_headers(with_token)
    )

    _check(response)


@pytest.mark.parametrize("rule", RULES)
@EXAMPLES
@given(
    body=st.binary(max_size=200) | st.sampled_from([b"NaN", b'{"ratings": [{"movie_id": 1, "rating": NaN}]}', b"\xff\xfe", b"{" * 200]),
    content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded", ""]),
    with_token=st.booleans(),
)
def test_any_raw_body(rule, body, content_type, with_token):
    response = APP.test_client().post(_fill(rule, ["1", "1"]), data=body, content_type=content_type, headers=_headers(with_token))

    _check(response)
