"""Bearer-token protection of write and admin routes.

The token comes from the ``API_TOKEN`` setting, which ``create_app`` also
reads from the ``TRUE_RECOMMEND_API_TOKEN`` environment variable. When no
token is configured, protected routes are switched off (404), so a server
started without one exposes no way to change its data.
"""

import functools
import hmac
import logging

from flask import current_app, request

from api.errors import ApiError

logger = logging.getLogger(__name__)


def configured_token():
    """Return the configured API token, or None when write routes are off."""
    token = current_app.config.get("API_TOKEN")
    return token if isinstance(token, str) and token else None


def require_token(view):
    """Decorate a view so that it runs only with ``Authorization: Bearer <API_TOKEN>``.

    Without a configured token the route returns 404, as if it did not
    exist; a missing or wrong token gets 401 with a ``WWW-Authenticate``
    header.
    """

    @functools.wraps(view)
    def protected(*args, **kwargs):
        token = configured_token()
        if token is None:
            raise ApiError(
                404,
                "not_found",
                "this route is disabled: set TRUE_RECOMMEND_API_TOKEN on the server to enable write routes",
            )

        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        # compare_digest takes the same time for any wrong token, so the
        # token cannot be guessed byte by byte from response times.
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), token.encode()):
            logger.warning("rejected %s %s: missing or invalid bearer token", request.method, request.path)
            error = ApiError(401, "unauthorized", "missing or invalid token: send Authorization: Bearer <token>")
            error.headers = {"WWW-Authenticate": 'Bearer realm="true-recommend"'}
            raise error
        return view(*args, **kwargs)

    return protected
