"""The web page's script and style sheet, read into memory when the application is created.

``GET /static/<filename>`` looks the name up in a dict filled at start, so a
request names an asset, never a file: no request path reaches the
filesystem, whatever it contains.
"""

import hashlib
import mimetypes
from pathlib import Path

from flask import Response, request

from api.errors import not_found

ASSET_DIR = Path(__file__).parent / "static"

# Fixed types, because the mimetypes module reads system files that differ
# between machines (application/javascript or text/javascript for .js).
_MIMETYPES = {".js": "text/javascript", ".css": "text/css"}


def read_assets(directory=ASSET_DIR):
    """Return ``{file name: (content, mimetype, ETag)}`` for the files directly in ``directory``."""
    assets = {}
    for path in sorted(directory.iterdir()):
        if not path.is_file():
            continue
        content = path.read_bytes()
        mimetype = _MIMETYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        assets[path.name] = (content, mimetype, hashlib.sha256(content).hexdigest()[:32])
    return assets


def init_app(app):
    """Register the ``static`` endpoint, which ``url_for('static', filename=...)`` in templates uses."""
    assets = read_assets()

    def static(filename):
        asset = assets.get(filename)
        if asset is None:
            raise not_found("filename", f"no asset named {filename!r}; the page's assets are {', '.join(sorted(assets))}")
        content, mimetype, etag = asset
        response = Response(content, mimetype=mimetype)
        # Browsers revalidate on each load and get 304 while the file is unchanged.
        response.headers["Cache-Control"] = "no-cache"
        response.set_etag(etag)
        return response.make_conditional(request)

    app.add_url_rule("/static/<path:filename>", endpoint="static", view_func=static)
