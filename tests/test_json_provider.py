"""Responses encoded by orjson carry the bytes that Flask's standard-library encoder wrote."""

import dataclasses
import datetime
import json

from flask import jsonify


def stdlib_body(value):
    return (json.dumps(value, ensure_ascii=False, sort_keys=False, separators=(",", ":")) + "\n").encode()


def test_recommendations_have_the_stdlib_bytes(client):
    for user_id in (1, 77, 414, 610):
        response = client.get(f"/users/{user_id}/recommendations?n=20")

        assert response.status_code == 200
        assert response.mimetype == "application/json"
        assert response.data == stdlib_body(response.get_json())


def test_non_ascii_title_stays_unescaped(app):
    value = {"title": "Amélie (2001)", "quote": 'a "b" \\ c\n', "genres": ["Comedy", "Romance"], "score": 0.0001}

    with app.test_request_context():
        body = jsonify(value).data

    assert body == stdlib_body(value)
    assert "Amélie".encode() in body


def test_int_beyond_64_bits_falls_back_to_stdlib(app):
    with app.test_request_context():
        body = jsonify({"movie_id": 2**70}).data

    assert body == b'{"movie_id":1180591620717411303424}\n'


def test_date_and_dataclass_use_flask_defaults(app):
    @dataclasses.dataclass
    class Point:
        x: int
        y: float

    with app.test_request_context():
        body = jsonify({"at": datetime.datetime(2024, 5, 17, 8, 30, tzinfo=datetime.timezone.utc), "point": Point(1, 2.5)}).data

    assert body == b'{"at":"Fri, 17 May 2024 08:30:00 GMT","point":{"x":1,"y":2.5}}\n'


def test_nan_becomes_null(app):
    with app.test_request_context():
        body = jsonify({"rating": float("nan"), "upper": float("inf")}).data

    assert body == b'{"rating":null,"upper":null}\n'


def test_indented_output_uses_stdlib(app, monkeypatch):
    monkeypatch.setattr(app.json, "compact", False)

    with app.test_request_context():
        body = jsonify({"a": 1, "b": [1, 2]}).data

    assert body == b'{\n  "a": 1,\n  "b": [\n    1,\n    2\n  ]\n}\n'
