"""JSON errors: every failure leaves the API as ``{"error": {...}}`` with a 4xx or 5xx status."""

import logging

from flask import jsonify
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error a client caused, turned into a JSON response with ``status``.

    Parameters
    ----------
    status : int
        HTTP status code (4xx).
    code : str
        Stable machine-readable error code, e.g. ``"invalid_parameter"``.
    message : str
        One sentence naming the value and what was expected.
    field : str, optional
        The query parameter, path segment or JSON field at fault.
    details : dict, optional
        Extra JSON fields, e.g. the unknown ids.
    """

    def __init__(self, status, code, message, field=None, details=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.details = details or {}
        self.headers = {}

    def to_dict(self):
        error = {"status": self.status, "code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        error.update(self.details)
        return {"error": error}


def bad_request(field, message):
    return ApiError(400, "invalid_parameter", message, field=field)


def not_found(field, message, **details):
    return ApiError(404, "not_found", message, field=field, details=details)


def _http_code(status):
    return {
        400: "bad_request",
        401: "unauthorized",
        404: "not_found",
        405: "method_not_allowed",
        413: "payload_too_large",
        415: "unsupported_media_type",
    }.get(status, "http_error")


def register_error_handlers(app):
    """Turn ``ApiError``, Werkzeug HTTP errors and unexpected exceptions into JSON."""

    @app.errorhandler(ApiError)
    def handle_api_error(error):
        return jsonify(error.to_dict()), error.status, error.headers

    @app.errorhandler(HTTPException)
    def handle_http_exception(error):
        body = ApiError(error.code, _http_code(error.code), error.description or error.name).to_dict()
        response = jsonify(body)
        response.status_code = error.code
        if error.code == 405 and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(error):
        # A 500 is always a bug in this service: log the traceback for the
        # operator, and give the client no internals.
        logger.exception("unhandled error in %s", type(error).__name__)
        body = ApiError(500, "internal_error", "internal server error; the server log has the details").to_dict()
        return jsonify(body), 500
