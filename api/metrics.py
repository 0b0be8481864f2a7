"""Prometheus metrics: request counts and latencies per route, and the served model version.

``GET /metrics`` returns them in the Prometheus text format. Under gunicorn
each worker is a process of its own, so ``true-recommend serve`` sets
``PROMETHEUS_MULTIPROC_DIR`` before this module is imported. prometheus-client
then keeps every process's values in files there, and the scrape, whichever
worker serves it, adds them up (see ``api.server``).
"""

import os
import time

from flask import Blueprint, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess

from api.model_holder import MODEL_VERSION_HEADER

blueprint = Blueprint("metrics", __name__)

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED_ROUTE = "<unmatched>"
# WSGI environ key of the server's own warm-up requests, which are not counted.
WARM_UP_ENVIRON_KEY = "true_recommend.warm_up"

# From half a millisecond, where a recommendation of the bundled model lands,
# up to the default gunicorn worker timeout.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)

REQUESTS = Counter(
    "true_recommend_http_requests",
    "HTTP requests by route template, method and status code.",
    ["route", "method", "status"],
)
LATENCY = Histogram(
    "true_recommend_http_request_duration_seconds",
    "Time from the start of the request's handling to its response, by route template and method.",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
# "livemax": a worker's series disappears when the worker exits, so after a
# reload only the versions that live workers serve remain.
MODEL_INFO = Gauge(
    "true_recommend_model_info",
    "1 for each model version that a serving process has answered from.",
    ["version"],
    multiprocess_mode="livemax",
)
RELOADS = Counter(
    "true_recommend_model_reloads",
    "Attempts to load a newly published model version, by result (reloaded or failed).",
    ["result"],
)

_recorded_version = None


def record_model_version(version):
    """Set the model-version gauge of this process to ``version``."""
    global _recorded_version
    if version == _recorded_version:
        return
    if _recorded_version is not None:
        MODEL_INFO.labels(version=_recorded_version).set(0)
    MODEL_INFO.labels(version=str(version)).set(1)
    _recorded_version = version


def record_reload(succeeded):
    """Count one attempt to load a newly published version."""
    RELOADS.labels(result="reloaded" if succeeded else "failed").inc()


def _start_timer():
    g.metrics_started = time.perf_counter()


def _observe(response):
    started = g.pop("metrics_started", None)
    if request.environ.get(WARM_UP_ENVIRON_KEY):
        return response

    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
    REQUESTS.labels(route=route, method=request.method, status=str(response.status_code)).inc()
    if started is not None:
        LATENCY.labels(route=route, method=request.method).observe(time.perf_counter() - started)

    # The model holder's hook, registered later and so run earlier, has
    # named the version that served the request.
    version = response.headers.get(MODEL_VERSION_HEADER)
    if version is not None:
        record_model_version(version)
    return response


def init_app(app):
    """Time every request of ``app``; register this before other request hooks so that the time includes them."""
    app.before_request(_start_timer)
    app.after_request(_observe)


# prometheus-client picked its mode when this module imported it, from the
# same variable; a later change of the variable does not switch modes.
MULTIPROCESS = bool(os.environ.get(MULTIPROCESS_ENV))


def _registry():
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


@blueprint.get("/metrics")
def metrics():
    """Return the metrics of every serving process in the Prometheus text format."""
    return Response(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
