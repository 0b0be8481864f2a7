"""``GET /model``: what the served version is, what it was trained on and how it scored."""

from flask import Blueprint, jsonify

from api.model_holder import current_model
from hybrid.live import LiveRecommender

blueprint = Blueprint("model_info", __name__)


@blueprint.get("/model")
def describe_model():
    """Describe the serving version from its manifest, and what the store added since it was trained."""
    model = current_model()
    info = model.info
    body = {
        "model_version": info.get("version"),
        "created_at": info.get("created_at"),
        "data": info.get("data"),
        "training_seconds": info.get("training_seconds"),
        "config": model.config.to_dict(),
        "rating_scale": list(model.rating_scale),
        "evaluation": info.get("evaluation"),
        "store": info.get("store"),
        "since_training": None,
    }
    if isinstance(model, LiveRecommender):
        body["since_training"] = {
            "rating_events": model.store.count_events(after=model.revision),
            "movies_added": len(model.model.catalogue) - len(model.base.catalogue),
        }
    return jsonify(body)
