"""Admin routes, behind the bearer token: ``POST /admin/reload``."""

from flask import Blueprint, jsonify

from api.auth import require_token
from api.errors import ApiError
from api.model_holder import ReloadError, current_holder

blueprint = Blueprint("admin", __name__)


@blueprint.post("/admin/reload")
@require_token
def reload():
    """Serve the version that ``MODEL_DIR/CURRENT`` names, without waiting for the periodic check.

    The request takes no parameters: the version always comes from
    ``CURRENT``, never from the request. Under gunicorn the worker first
    loads the version to check it, then signals the master to replace the
    workers, and returns 202; the new version serves within about a second.
    """
    try:
        outcome = current_holder().request_reload()
    except ReloadError as error:
        raise ApiError(409, "reload_failed", str(error)) from None

    status = 202 if outcome.status == "requested" else 200
    return jsonify(
        {
            "status": outcome.status,
            "previous_version": outcome.previous_version,
            "model_version": outcome.model_version,
        }
    ), status
