import pytest
from flask import Flask

from api.auth import require_token
from api.errors import register_error_handlers


def make_app(token):
    app = Flask(__name__)
    app.config["API_TOKEN"] = token
    register_error_handlers(app)

    @app.post("/admin")
    @require_token
    def admin():
        return {"done": True}

    return app


def test_route_is_off_without_a_configured_token():
    response = make_app(None).test_client().post("/admin", headers={"Authorization": "Bearer anything"})

    assert response.status_code == 404
    assert response.get_json()["error"]["message"] == (
        "this route is disabled: set TRUE_RECOMMEND_API_TOKEN on the server to enable write routes"
    )


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic s3cret", "s3cret", "Bearer "])
def test_missing_or_wrong_token_gets_401(header):
    headers = {} if header is None else {"Authorization": header}

    response = make_app("s3cret").test_client().post("/admin", headers=headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="true-recommend"'
    assert response.get_json()["error"] == {
        "status": 401,
        "code": "unauthorized",
        "message": "missing or invalid token: send Authorization: Bearer <token>",
    }


def test_right_token_runs_the_view():
    response = make_app("s3cret").test_client().post("/admin", headers={"Authorization": "Bearer s3cret"})

    assert response.status_code == 200
    assert response.get_json() == {"done": True}
