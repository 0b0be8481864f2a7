"""Liveness: ``GET /health``."""

from flask import Blueprint, jsonify

from api.model_holder import current_model

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
def health():
    """Return 200 once the model is loaded, with its version."""
    model = current_model()
    return jsonify({"status": "ok", "model_version": model.info.get("version")})
