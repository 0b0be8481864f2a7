"""Liveness: ``GET /health``."""

from flask import Blueprint, current_app, jsonify

from api.model_holder import EXTENSION_KEY

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
def health():
    """Return 200 once the model is loaded, with its version."""
    model = current_app.extensions[EXTENSION_KEY].get()
    return jsonify({"status": "ok", "model_version": model.info.get("version")})
