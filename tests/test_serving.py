"""Serving inside one process: model reload, the admin route and its token, limits, metrics and safety."""

import builtins
import io
import os
import socket
import time

import numpy as np
import pytest

from api import create_app
from api.assets import ASSET_DIR
from api.model_holder import MODEL_VERSION_HEADER, ModelHolder, ReloadError
from api.server import _ClientSocket, _NothingToDrain
from gunicorn import util
from hybrid.bundle import BundleError, publish_version, read_version
from tests.model_versions import copy_model_dir, two_version_template

TOKEN = "reload-token-0123456789abcdef"
AUTHORIZATION = {"Authorization": f"Bearer {TOKEN}"}


def error_of(response):
    assert response.is_json, response.data
    return response.get_json()["error"]


@pytest.fixture(scope="module")
def version_template(tmp_path_factory):
    return two_version_template(tmp_path_factory.mktemp("versions"))


@pytest.fixture()
def versions(version_template, tmp_path):
    template, first, second = version_template
    return copy_model_dir(template, tmp_path / "model"), first, second


def make_app(model_dir, **settings):
    return create_app({"MODEL_DIR": str(model_dir), "RELOAD_INTERVAL": 0, **settings})


# Reload in one process -----------------------------------------------------------


def test_holder_reload_swaps_to_the_published_version(versions):
    model_dir, first, second = versions
    holder = ModelHolder(model_dir=model_dir, reload_interval=0)
    assert holder.get().info["version"] == first

    publish_version(model_dir, second)
    outcome = holder.reload()

    assert outcome.status == "reloaded"
    assert outcome.previous_version == first
    assert outcome.model_version == second
    assert holder.get().info["version"] == second


def test_holder_reload_of_the_served_version_is_unchanged(versions):
    model_dir, first, _ = versions
    holder = ModelHolder(model_dir=model_dir, reload_interval=0)
    holder.get()

    outcome = holder.reload()

    assert (outcome.status, outcome.previous_version, outcome.model_version) == ("unchanged", first, first)


def test_holder_keeps_the_model_when_the_new_version_is_broken(versions):
    model_dir, first, second = versions
    holder = ModelHolder(model_dir=model_dir, reload_interval=0)
    served = holder.get()
    (model_dir / "versions" / second / "movie_ids.npy").write_bytes(b"not an array")
    publish_version(model_dir, second)

    with pytest.raises(ReloadError, match=rf"cannot load model version {second}: cannot read array movie_ids .*; still serving {first}"):
        holder.reload()

    assert holder.get() is served
    assert not holder.new_version_published()


def test_holder_rejects_a_current_file_with_a_path(versions):
    model_dir, first, _ = versions
    holder = ModelHolder(model_dir=model_dir, reload_interval=0)
    holder.get()
    (model_dir / "CURRENT").write_text("../../etc\n")

    with pytest.raises(ReloadError, match=r"names '\.\./\.\./etc', which is not a version name; still serving"):
        holder.reload()

    assert holder.version == first


def test_watch_picks_up_a_published_version(versions):
    model_dir, first, second = versions
    app = create_app({"MODEL_DIR": str(model_dir), "RELOAD_INTERVAL": 0.05})
    client = app.test_client()
    assert client.get("/health").get_json()["model_version"] == first

    publish_version(model_dir, second)
    time.sleep(0.1)

    assert client.get("/health").get_json()["model_version"] == second


def test_watch_is_off_at_interval_zero(versions):
    model_dir, first, second = versions
    client = make_app(model_dir).test_client()
    client.get("/health")

    publish_version(model_dir, second)
    time.sleep(0.05)

    assert client.get("/health").get_json()["model_version"] == first


def test_request_keeps_its_model_across_a_swap(versions, monkeypatch):
    model_dir, first, second = versions
    app = make_app(model_dir)
    holder = app.extensions["true_recommend.model"]
    holder.get()
    publish_version(model_dir, second)

    # Swap the model while the request is inside the route, between its
    # first and its second use of the model.
    from api import recommendations

    real_body = recommendations._body

    def body_after_a_swap(model, result, **fields):
        holder.reload()
        return real_body(recommendations.current_model(), result, **fields)

    monkeypatch.setattr(recommendations, "_body", body_after_a_swap)
    response = app.test_client().get("/users/1/recommendations?n=2")

    assert holder.version == second
    assert response.get_json()["model_version"] == first
    assert response.headers[MODEL_VERSION_HEADER] == first


# POST /admin/reload and the token ---------------------------------------------------


def test_admin_reload_is_off_without_a_token(versions):
    model_dir, first, second = versions
    client = make_app(model_dir).test_client()
    client.get("/health")
    publish_version(model_dir, second)

    response = client.post("/admin/reload", headers={"Authorization": "Bearer anything"})

    assert response.status_code == 404
    assert error_of(response)["message"] == "this route is disabled: set TRUE_RECOMMEND_API_TOKEN on the server to enable write routes"
    assert client.get("/health").get_json()["model_version"] == first


@pytest.mark.parametrize("header", [None, "Bearer wrong-token-0123456789", f"Basic {TOKEN}", TOKEN, f"bearer {TOKEN}x"])
def test_admin_reload_needs_the_right_token(versions, header):
    model_dir, first, second = versions
    client = make_app(model_dir, API_TOKEN=TOKEN).test_client()
    client.get("/health")
    publish_version(model_dir, second)

    response = client.post("/admin/reload", headers={} if header is None else {"Authorization": header})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="true-recommend"'
    assert client.get("/health").get_json()["model_version"] == first


def test_admin_reload_with_the_token_swaps_the_model(versions):
    model_dir, first, second = versions
    client = make_app(model_dir, API_TOKEN=TOKEN).test_client()
    client.get("/health")
    publish_version(model_dir, second)

    response = client.post("/admin/reload", headers=AUTHORIZATION)

    assert response.status_code == 200
    assert response.get_json() == {"status": "reloaded", "previous_version": first, "model_version": second}
    assert client.get("/health").get_json()["model_version"] == second


def test_admin_reload_takes_the_token_from_the_environment(versions, monkeypatch):
    model_dir, _, second = versions
    monkeypatch.setenv("TRUE_RECOMMEND_API_TOKEN", TOKEN)
    client = make_app(model_dir).test_client()
    publish_version(model_dir, second)

    assert client.post("/admin/reload", headers=AUTHORIZATION).status_code == 200


def test_admin_reload_takes_the_token_from_the_config_file(versions, tmp_path):
    model_dir, _, second = versions
    config = tmp_path / "settings.toml"
    config.write_text(f'api_token = "{TOKEN}"\nreload_interval = 0\nmodel_dir = "{model_dir}"\n')
    client = create_app({"CONFIG_FILE": str(config)}).test_client()
    publish_version(model_dir, second)

    assert client.post("/admin/reload", headers=AUTHORIZATION).status_code == 200


def test_admin_reload_of_a_broken_version_is_409(versions):
    model_dir, first, second = versions
    client = make_app(model_dir, API_TOKEN=TOKEN).test_client()
    client.get("/health")
    (model_dir / "versions" / second / "manifest.json").write_text("{")
    publish_version(model_dir, second)

    response = client.post("/admin/reload", headers=AUTHORIZATION)

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "reload_failed"
    assert error["message"].startswith(f"cannot load model version {second}: cannot read ")
    assert error["message"].endswith(f"; still serving {first}")
    assert client.get("/health").get_json()["model_version"] == first


def test_admin_reload_never_reads_a_path_from_the_request(versions):
    model_dir, first, second = versions
    client = make_app(model_dir, API_TOKEN=TOKEN).test_client()
    client.get("/health")

    response = client.post("/admin/reload?version=" + second, json={"version": second, "path": "/etc"}, headers=AUTHORIZATION)

    assert response.get_json() == {"status": "unchanged", "previous_version": first, "model_version": first}


# Limits ---------------------------------------------------------------------------


def test_max_n_limits_n_and_limit(bundled_model):
    client = create_app({"MODEL": bundled_model, "MAX_N": 5}).test_client()

    assert client.get("/users/1/recommendations?n=5").status_code == 200
    for path, field in [("/users/1/recommendations?n=6", "n"), ("/movies/1/similar?n=6", "n"), ("/movies?q=a&limit=6", "limit")]:
        response = client.get(path)
        assert response.status_code == 400
        assert error_of(response)["message"] == f"{field} must be an integer from 1 to 5, got '6'"


def test_max_n_limits_the_cold_start_body(bundled_model):
    client = create_app({"MODEL": bundled_model, "MAX_N": 5}).test_client()

    response = client.post("/recommendations", json={"ratings": [{"movie_id": 1, "rating": 4.0}], "n": 6})

    assert response.status_code == 400
    assert error_of(response)["message"] == "n must be an integer from 1 to 5, got 6"


def test_max_ratings_limits_a_cold_start_request(bundled_model):
    client = create_app({"MODEL": bundled_model, "MAX_RATINGS": 3}).test_client()
    ratings = [{"movie_id": movie_id, "rating": 4.0} for movie_id in (1, 2, 3, 5)]

    assert client.post("/recommendations", json={"ratings": ratings[:3]}).status_code == 200
    response = client.post("/recommendations", json={"ratings": ratings})
    assert response.status_code == 400
    assert error_of(response)["message"] == "ratings may hold at most 3 entries, got 4"


def test_max_movie_ids_limits_predictions(bundled_model):
    client = create_app({"MODEL": bundled_model, "MAX_MOVIE_IDS": 2}).test_client()

    assert client.get("/users/1/predictions?movie_ids=1,2").status_code == 200
    response = client.get("/users/1/predictions?movie_ids=1,2,3")
    assert response.status_code == 400
    assert error_of(response)["message"] == "movie_ids may list at most 2 ids, got 3"


def test_max_content_length_gives_413(bundled_model):
    client = create_app({"MODEL": bundled_model, "MAX_CONTENT_LENGTH": 100}).test_client()
    body = b'{"ratings": [{"movie_id": 1, "rating": 4.0}]}'

    assert client.post("/recommendations", data=body.ljust(100), content_type="application/json").status_code == 200
    response = client.post("/recommendations", data=body.ljust(101), content_type="application/json")
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


def test_body_without_length_over_the_limit_gives_413(bundled_model):
    client = create_app({"MODEL": bundled_model, "MAX_CONTENT_LENGTH": 100}).test_client()
    stream = io.BytesIO(b'{"ratings": []' + b" " * 200 + b"}")

    # A stream body goes out with chunked transfer encoding and no length.
    response = client.post("/recommendations", input_stream=stream, content_type="application/json")

    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


# Version header, metrics and safety ------------------------------------------------------


def test_every_model_response_names_its_version_in_a_header(versions):
    model_dir, first, _ = versions
    client = make_app(model_dir).test_client()

    for path in ["/health", "/users/1/recommendations", "/movies/1/similar", "/movies?q=toy", "/users/1/ratings", "/openapi.json"]:
        assert client.get(path).headers[MODEL_VERSION_HEADER] == first


def test_errors_before_the_model_carry_no_version_header(versions):
    model_dir, _, _ = versions
    client = make_app(model_dir).test_client()

    response = client.get("/users/abc/recommendations")

    assert response.status_code == 400
    assert MODEL_VERSION_HEADER not in response.headers


def test_metrics_count_requests_per_route(bundled_model):
    client = create_app({"MODEL": bundled_model}).test_client()

    def count(text, route, status):
        prefix = f'true_recommend_http_requests_total{{method="GET",route="{route}",status="{status}"}} '
        lines = [line for line in text.splitlines() if line.startswith(prefix)]
        return float(lines[0][len(prefix):]) if lines else 0.0

    before = client.get("/metrics").get_data(as_text=True)
    client.get("/movies/1/similar?n=2")
    client.get("/movies/1/similar?n=2")
    client.get("/movies/abc/similar")
    response = client.get("/metrics")
    after = response.get_data(as_text=True)

    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    assert count(after, "/movies/<movie_id>/similar", 200) - count(before, "/movies/<movie_id>/similar", 200) == 2
    assert count(after, "/movies/<movie_id>/similar", 400) - count(before, "/movies/<movie_id>/similar", 400) == 1
    assert 'true_recommend_http_request_duration_seconds_bucket{le="0.001",method="GET",route="/movies/<movie_id>/similar"}' in after
    assert "true_recommend_model_info{version=" in after


def test_unknown_paths_share_one_metrics_label(bundled_model):
    client = create_app({"MODEL": bundled_model}).test_client()

    client.get("/no/such/route/9f1c")
    text = client.get("/metrics").get_data(as_text=True)

    assert 'route="<unmatched>",status="404"' in text
    assert "9f1c" not in text


def test_no_route_serves_files(bundled_model):
    app = create_app({"MODEL": bundled_model})
    client = app.test_client()

    assert app.static_folder is None
    for path in ["/static/../../etc/passwd", "/static/..%2F..%2Fsetup.cfg", "/static/README.md", "/../setup.cfg", "/static/"]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "not_found"


def test_page_assets_come_from_memory(bundled_model, monkeypatch):
    client = create_app({"MODEL": bundled_model}).test_client()
    expected = (ASSET_DIR / "app.js").read_bytes()

    def no_file_access(*args, **kwargs):
        raise AssertionError("a request opened a file")

    monkeypatch.setattr(builtins, "open", no_file_access)
    monkeypatch.setattr(os, "open", no_file_access)
    response = client.get("/static/app.js")

    assert response.status_code == 200
    assert response.data == expected
    assert client.get("/static/app.js", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_app_is_not_in_debug_mode(bundled_model):
    assert create_app({"MODEL": bundled_model}).debug is False


def test_pickled_array_in_a_bundle_is_never_loaded(versions, tmp_path):
    model_dir, first, second = versions
    marker = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self):
            return (marker.write_text, ("code ran",))

    # An object array holding the payload: loading it with pickle allowed
    # would run write_text.
    array = np.empty(7, dtype=object)
    array[0] = Payload()
    with open(model_dir / "versions" / second / "movie_ids.npy", "wb") as handle:
        np.save(handle, array, allow_pickle=True)
    publish_version(model_dir, second)

    with pytest.raises(BundleError, match=r"cannot read array movie_ids .*: Array can't be memory-mapped: Python objects in dtype"):
        ModelHolder(model_dir=model_dir, reload_interval=0).get()
    with pytest.raises(BundleError, match=r"cannot read array movie_ids .*allow_pickle=False"):
        read_version(model_dir, mmap_mode=None)

    assert not marker.exists()


def test_unreadable_current_file_is_a_reload_error(versions):
    model_dir, first, _ = versions
    holder = ModelHolder(model_dir=model_dir, reload_interval=0)
    holder.get()
    (model_dir / "CURRENT").unlink()
    (model_dir / "CURRENT").mkdir()

    with pytest.raises(ReloadError, match=rf"cannot read the published version in .*; still serving {first}"):
        holder.reload()

    assert not holder.new_version_published()


# Closing client connections ----------------------------------------------------------------


def client_pair():
    server_side, client_side = socket.socketpair()
    wrapped = _ClientSocket(server_side.family, server_side.type, server_side.proto, fileno=server_side.detach())
    return wrapped, client_side


def test_close_skips_the_drain_when_nothing_is_unread():
    server_side, client_side = client_pair()
    server_side.sendall(b"response")

    started = time.monotonic()
    util.close_graceful(server_side)
    elapsed = time.monotonic() - started

    # gunicorn would otherwise wait up to 2 s for this client, which never closes.
    assert elapsed < 0.5
    assert client_side.recv(100) == b"response"
    assert client_side.recv(100) == b""
    client_side.close()


def test_shutdown_with_unread_data_leaves_the_drain_to_gunicorn():
    server_side, client_side = client_pair()
    client_side.sendall(b"an unread request body")

    server_side.shutdown(socket.SHUT_WR)

    assert server_side.recv(100) == b"an unread request body"
    server_side.close()
    client_side.close()
