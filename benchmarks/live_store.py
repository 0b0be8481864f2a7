"""Measure the ratings store: write latency, the per-request cost of merging stored ratings, and one retrain.

Run from the repository root with one command::

    python benchmarks/live_store.py

It trains the default configuration on the bundled ml-latest-small into a
temporary model directory and measures, with BLAS limited to one thread as
in a server worker:

- one ``retrain`` with its evaluation figures, before anything is stored;
- the latency of storing one rating (one SQLite transaction, WAL with
  ``synchronous=FULL``) and the throughput of 4 writer processes;
- the latency of ``recommend`` for the model alone, through the live view
  for users with nothing stored, and for users with 5 stored ratings (read,
  merge and fold-in).

It prints the figures and writes them into docs/benchmarks.md between the
``live-store`` markers.
"""

import argparse
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from hybrid.live import LiveRecommender  # noqa: E402
from hybrid.model import HybridRecommender  # noqa: E402
from hybrid.pipeline import retrain  # noqa: E402
from hybrid.store import SQLiteStore  # noqa: E402
from hybrid.training import BUNDLED_SOURCE, load_source, train_and_save  # noqa: E402

MARKER = "live-store"
WRITER_PROCESSES = 4


def _machine():
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores, {cpu}, {memory:.0f} GiB, Python {platform.python_version()}"


def _milliseconds(samples):
    samples = sorted(samples)
    return statistics.median(samples) * 1000, samples[int(0.99 * (len(samples) - 1))] * 1000


def _write(path, writer, count, movie_ids):
    store = SQLiteStore(path)
    for number in range(count):
        store.add_ratings(1_000_000 + writer, [int(movie_ids[number % len(movie_ids)])], [4.0], [None])
    store.close()


def measure_writes(path, movie_ids, count):
    store = SQLiteStore(path)
    store.store_id
    latencies = []
    for number in range(count):
        started = time.perf_counter()
        store.add_ratings(2_000_000, [int(movie_ids[number % len(movie_ids)])], [3.5], [None])
        latencies.append(time.perf_counter() - started)

    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_write, args=(path, writer, count, movie_ids)) for writer in range(WRITER_PROCESSES)]
    started = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    seconds = time.perf_counter() - started
    if any(process.exitcode != 0 for process in processes):
        raise RuntimeError("a writer process failed")
    return _milliseconds(latencies), WRITER_PROCESSES * count / seconds


def measure_requests(model, store, users, repeats):
    live = LiveRecommender(model, store).refresh()
    catalogue_ids = model.catalogue.movie_ids.ids
    rng = np.random.default_rng(0)
    figures = {}

    def timed(call):
        samples = []
        for _ in range(repeats):
            for user in users:
                started = time.perf_counter()
                call(user)
                samples.append(time.perf_counter() - started)
        return _milliseconds(samples)

    figures["model alone"] = timed(lambda user: model.recommend(user, 10))
    figures["live view, nothing stored"] = timed(lambda user: live.refresh().recommend(user, 10))
    for user in users:
        store.add_ratings(user, rng.choice(catalogue_ids[:3000], 5, replace=False).tolist(), [4.0] * 5, [None] * 5)
    figures["live view, 5 stored ratings"] = timed(lambda user: live.refresh().recommend(user, 10))
    return figures


def write_section(text):
    path = REPOSITORY / "docs" / "benchmarks.md"
    start, end = f"<!-- {MARKER}:start -->", f"<!-- {MARKER}:end -->"
    document = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    section = f"{start}\n{text}\n{end}"
    if start in document and end in document:
        document = document[: document.index(start)] + section + document[document.index(end) + len(end) :]
    else:
        document = document.rstrip("\n") + "\n\n" + section + "\n"
    path.parent.mkdir(exist_ok=True)
    path.write_text(document, encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=200, help="Ratings each writer stores (default 200).")
    parser.add_argument("--users", type=int, default=100, help="Users whose requests are timed (default 100).")
    parser.add_argument("--repeats", type=int, default=3, help="Requests per user and case (default 3).")
    parser.add_argument("--no-write", action="store_true", help="Print only; leave docs/benchmarks.md alone.")
    arguments = parser.parse_args()
    threadpool_limits(1)

    with tempfile.TemporaryDirectory() as directory:
        model_dir = Path(directory) / "model"
        train_and_save(load_source(dict(BUNDLED_SOURCE)), model_dir, show_progress=False, source=dict(BUNDLED_SOURCE))
        model = HybridRecommender.load(model_dir)
        store = SQLiteStore(model_dir / "ratings.sqlite3")

        # The retrain runs first, on the real ratings alone: the ratings the
        # write measurements store are random and would only add noise to
        # the evaluation.
        started = time.perf_counter()
        result = retrain(model_dir, store)
        retrain_seconds = time.perf_counter() - started

        (write_median, write_p99), throughput = measure_writes(store.path, model.catalogue.movie_ids.ids[:500], arguments.writes)
        users = model.users.ids[: arguments.users].tolist()
        requests = measure_requests(model, store, users, arguments.repeats)

    evaluation = result.evaluation
    candidate = evaluation["candidate"]
    lines = [
        "## Ratings store and live fold-in",
        "",
        f"Machine: {_machine()}. Command: `python benchmarks/live_store.py`. BLAS limited to one thread, as in a server worker.",
        "",
        "| what | median | 99th percentile |",
        "| --- | --- | --- |",
        f"| store one rating (SQLite, WAL, synchronous=FULL) | {write_median:.2f} ms | {write_p99:.2f} ms |",
    ]
    for case, (median, p99) in requests.items():
        lines.append(f"| `recommend`, n=10: {case} | {median:.2f} ms | {p99:.2f} ms |")
    lines += [
        "",
        f"{WRITER_PROCESSES} writer processes stored {throughput:.0f} ratings per second together, one transaction each.",
        "",
        f"One `retrain` on ml-latest-small, with an empty store, took {retrain_seconds:.1f} s "
        f"({'published' if result.published else 'rejected'}; it trains twice, once for the holdout check). "
        f"Holdout: {evaluation['holdout']}, {evaluation['users']} users; candidate hit rate@10 {candidate['hit_rate@10']}, "
        f"NDCG@10 {candidate['ndcg@10']} (standard error {candidate['ndcg@10_standard_error']}).",
    ]
    text = "\n".join(lines)
    print(text)
    if not arguments.no_write:
        write_section(text)


if __name__ == "__main__":
    main()
