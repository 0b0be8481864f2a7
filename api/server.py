"""Serving the application with gunicorn, a production WSGI server."""

import logging

from gunicorn.app.base import BaseApplication
from threadpoolctl import threadpool_limits

logger = logging.getLogger(__name__)


def _limit_threads(server, worker):
    # Each worker handles one request at a time; BLAS or OpenMP pools inside
    # every worker would oversubscribe the cores, and OpenBLAS pools created
    # before fork can hang in the child.
    threadpool_limits(1)


class GunicornServer(BaseApplication):
    """Runs an already created Flask application under gunicorn.

    The application, and with it the memory-mapped model, is created in the
    master process before the workers fork, so the workers share the model's
    pages instead of each loading a copy.
    """

    def __init__(self, application, options):
        self.application = application
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def serve(application, *, host, port, workers, timeout=30, access_log=False):
    """Serve ``application`` on ``host:port`` with ``workers`` processes until stopped."""
    threadpool_limits(1)
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "timeout": timeout,
        "graceful_timeout": timeout,
        "post_fork": _limit_threads,
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "true-recommend",
    }
    logger.info("serving on http://%s:%d with %d gunicorn workers", host, port, workers)
    GunicornServer(application, options).run()
