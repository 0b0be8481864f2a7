"""Measure where one ``GET /users/<id>/recommendations?n=10`` spends its CPU time, in one process.

Run from the repository root with one command::

    python benchmarks/request_profile.py              # trains on the bundled data first
    python benchmarks/request_profile.py --model-dir model --profile

It builds the application the way ``true-recommend serve`` builds it in
each worker: the model directory's published version, its SQLite ratings
store, prometheus-client in multi-process mode, BLAS limited to one thread
and the warm-up requests. Then it calls the WSGI application directly with
the environ a server would pass, for a random training user per request,
and prints the CPU time per request of:

- the whole WSGI call (routing, hooks, metrics, the store reads, the model,
  JSON encoding);
- the model alone (``HybridRecommender.recommend``) and through the live
  view of the store;
- the JSON response of the body (``jsonify``);
- the stages of the model's ranking, each timed on its own.

Without a TCP connection and gunicorn's HTTP parsing, these times are lower
than the server CPU per request that ``benchmarks/serving.py`` reports.
With ``--profile`` it also prints the functions with the largest cumulative
and own times under cProfile, which slows every call down.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))


def cpu_microseconds_per_call(function, arguments, repeats=1):
    """Return the mean process CPU time of ``function(argument)`` over ``arguments``, in microseconds."""
    for argument in arguments[: max(1, len(arguments) // 10)]:
        function(argument)
    started = time.process_time()
    for _ in range(repeats):
        for argument in arguments:
            function(argument)
    return (time.process_time() - started) / (len(arguments) * repeats) * 1e6


def wsgi_environ(path, query):
    """Return the WSGI environ of a GET request as gunicorn builds it."""
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "RAW_URI": f"{path}?{query}",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "40000",
        "HTTP_HOST": "127.0.0.1:8080",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


def call_application(application, path, query):
    """Run one request through the WSGI application and return its status line and body."""
    status = []

    def start_response(status_line, headers, exc_info=None):
        status.append(status_line)

    chunks = application(wsgi_environ(path, query), start_response)
    try:
        body = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    return status[0], body


def model_stages(model, user_indices):
    """Return the CPU microseconds per user of each stage of ``HybridRecommender._recommend``."""
    from hybrid.blend import COMPONENTS, blend_scores, top_n
    from hybrid.reasons import explain

    histories = {user_index: model._user_history(user_index) for user_index in user_indices}
    prepared = {}
    for user_index, (items, ratings) in histories.items():
        weights = model.config.blend.for_count(items.size)
        active = [name for name in COMPONENTS if weights[name] > 0]
        scores = model.component_scores(items, ratings, user_index, active)
        candidates = model._candidates(items, None)
        blended = blend_scores(scores, weights, candidates)
        best = top_n(blended.total, candidates, 10)
        parts = {name: dict(zip(best.tolist(), values.tolist())) for name, values in blended.parts(best).items()}
        prepared[user_index] = (items, ratings, weights, active, scores, candidates, blended, best, parts)

    def component_scores(user_index):
        items, ratings, _, active, *_ = prepared[user_index]
        model.component_scores(items, ratings, user_index, active)

    def blend(user_index):
        _, _, weights, _, scores, candidates, *_ = prepared[user_index]
        blend_scores(scores, weights, candidates, model._precomputed_statistics(user_index, None))

    def rank(user_index):
        *_, candidates, blended, _, _ = prepared[user_index]
        top_n(blended.total, candidates, 10)

    def reasons(user_index):
        items, ratings, weights, *_, best, parts = prepared[user_index]
        explain(
            best, items, ratings, parts, weights, content=model.content, als=model.als,
            als_factor=model._explanation_factor(user_index), ease=model.ease,
        )

    def whole(user_index):
        model.recommend(model.users.id_of(user_index), 10)

    stages = {"component scores": component_scores, "standardize and blend": blend, "top n": rank, "reasons": reasons}
    timings = {name: cpu_microseconds_per_call(function, user_indices) for name, function in stages.items()}
    timings["whole recommend"] = cpu_microseconds_per_call(whole, user_indices)
    # The rest: weights, candidates, describing the movies, and the cache
    # misses that the stages timed alone do not pay.
    timings["the rest"] = timings["whole recommend"] - sum(timings[name] for name in stages)
    return timings


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, help="Model directory to load (default: train on the bundled data into a temporary one).")
    parser.add_argument("--requests", type=int, default=3000, help="Requests to time.")
    parser.add_argument("--profile", action="store_true", help="Also print a cProfile summary of the requests.")
    arguments = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="request-profile-"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(work / "metrics")
    (work / "metrics").mkdir()
    model_dir = arguments.model_dir
    if model_dir is None:
        from hybrid.data import load_bundled
        from hybrid.model import HybridRecommender

        model_dir = work / "model"
        HybridRecommender().fit(load_bundled()).save(model_dir)

    from threadpoolctl import threadpool_limits

    from api import create_app
    from api.model_holder import EXTENSION_KEY
    from api.ratings_store import EXTENSION_KEY as STORE_KEY
    from api.server import warm_up_application

    application = create_app({"MODEL_DIR": str(model_dir)})
    model = application.extensions[EXTENSION_KEY].get()
    threadpool_limits(1)
    warm_up_application(application)

    generator = random.Random(12345)
    user_indices = [generator.randrange(len(model.users)) for _ in range(arguments.requests)]
    paths = [f"/users/{model.users.id_of(user_index)}/recommendations" for user_index in user_indices]
    status, body = call_application(application, paths[0], "n=10")
    if not status.startswith("200"):
        raise SystemExit(f"the warm request got {status}: {body[:200]!r}")

    view = application.extensions[STORE_KEY].view(model)
    request_us = cpu_microseconds_per_call(lambda path: call_application(application, path, "n=10"), paths)
    model_us = cpu_microseconds_per_call(lambda user_index: model.recommend(model.users.id_of(user_index), 10), user_indices)
    live_us = cpu_microseconds_per_call(lambda user_index: view.recommend(model.users.id_of(user_index), 10), user_indices)
    bodies = [json.loads(call_application(application, path, "n=10")[1]) for path in paths[:200]]
    with application.app_context():
        json_us = cpu_microseconds_per_call(application.json.response, bodies, repeats=5)

    print(f"GET /users/<id>/recommendations?n=10, {arguments.requests} random users of {len(model.users)}, CPU per request:")
    print(f"  whole WSGI request                 {request_us:7.0f} us")
    print(f"  model.recommend                    {model_us:7.0f} us")
    print(f"  live view recommend (+ store reads){live_us:7.0f} us")
    print(f"  JSON response (encoding, Response) {json_us:7.0f} us")
    print(f"  the rest (Flask, hooks, metrics)   {request_us - live_us - json_us:7.0f} us")
    print("Stages of model.recommend, each timed alone:")
    for name, microseconds in model_stages(model, user_indices[:1000]).items():
        print(f"  {name:34s} {microseconds:7.0f} us")

    if arguments.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for path in paths:
            call_application(application, path, "n=10")
        profiler.disable()
        statistics = pstats.Stats(profiler)
        statistics.sort_stats("cumulative").print_stats(40)
        statistics.sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
