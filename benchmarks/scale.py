"""Scale benchmark: how the cost of training and serving grows with the number of ratings.

Run from the repository root, with the ``bench`` and ``spark`` extras installed::

    python benchmarks/scale.py                       # 0.1, 1, 5 and 20 million ratings
    python benchmarks/scale.py --sizes 0.1,1 --spark-sizes 0.1

For each size (in millions of ratings) it generates a synthetic MovieLens-like
data set with ``hybrid.synthetic`` (cached in ``--data-dir``), then runs each
measurement in a fresh process, so that memory figures do not carry over:

1. Training with the single-machine engine and the default configuration,
   as ``true-recommend train`` does: wall time and peak memory (resident set
   size) of loading, of each fit step (index, ALS, EASE, RP3beta, SGD MF,
   TF-IDF) and of saving the bundle.
2. Serving: loading the bundle into the Flask application and answering the
   first request, then the latency of ``GET /users/<id>/recommendations``
   and of ``POST /recommendations`` (five ratings of someone new).
3. For the sizes in ``--spark-sizes``: training with the Spark engine in
   local mode (``local[2]``), with the memory of the Python driver and the JVM.

It then compares the two engines' quality on ml-latest-small with a fifth of
the ratings held out, prints every figure, writes ``benchmarks/results/scale.json``,
the section between ``<!-- scale:start -->`` and ``<!-- scale:end -->`` of
``docs/benchmarks.md``, and the plot ``docs/scale.png``.
"""

import argparse
import datetime
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "scale.json"
DOC = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "scale.png"
START_MARKER = "<!-- scale:start -->"
END_MARKER = "<!-- scale:end -->"

SINGLE_MACHINE_STEPS = ("load", "index", "popularity", "als", "ease", "rp3beta", "mf", "content", "save")
SPARK_STEPS = ("load", "collect", "als", "mf", "popularity", "ease", "rp3beta", "content", "save")

# The targets for the default single-machine training at 20 million ratings.
TARGET_SECONDS = 300.0
TARGET_BYTES = 8 * 2**30

# Spark properties of the local-mode runs: the driver JVM is also the
# executor, so it needs room for the cached ratings and the collected results.
SPARK_CONF = {
    "spark.driver.memory": "8g",
    "spark.driver.maxResultSize": "4g",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "8",
}

LATENCY_REQUESTS = 300
COLD_START_REQUESTS = 100
MIB = 2**20


# Measuring --------------------------------------------------------------------------------


class MemorySampler:
    """Samples the resident memory of this process and its children from a thread.

    A step shorter than the interval may miss its peak, so each step's figure
    is a lower bound. The peak of a whole single-process run comes from the
    kernel instead (`peak_rss_mib`), which misses nothing.
    """

    def __init__(self, interval=0.02, children=False):
        import psutil

        self.interval = interval
        self.children = children
        self.samples = []
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self):
        total = self._process.memory_info().rss
        if self.children:
            for child in self._process.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except Exception:  # noqa: BLE001 - a child may exit between listing and reading
                    continue
        return total

    def _run(self):
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self._rss()))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
        self.samples.append((time.perf_counter(), self._rss()))

    def peak(self, start, end):
        """Return the highest sample from ``start`` to ``end``, or the first one after ``start``."""
        inside = [rss for moment, rss in self.samples if start <= moment <= end]
        if inside:
            return max(inside)
        later = [rss for moment, rss in self.samples if moment >= start]
        return later[0] if later else self.samples[-1][1]

    def overall_peak(self):
        return max(rss for _, rss in self.samples)


def peak_rss_mib():
    """Return this process's peak resident memory in MiB, from the kernel's high-water mark.

    VmHWM starts afresh in a new program, unlike ``ru_maxrss``, which a
    child inherits from the parent that forked it.
    """
    with open("/proc/self/status", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError("VmHWM is missing from /proc/self/status")


def step_windows(start, seconds_by_step, order):
    """Return ``{step: (start, end)}`` for steps that ran back to back from ``start``."""
    windows = {}
    moment = start
    for step in order:
        if step in seconds_by_step:
            windows[step] = (moment, moment + seconds_by_step[step])
            moment += seconds_by_step[step]
    return windows


def percentiles(values):
    values = np.asarray(values) * 1000.0
    return {name: round(float(np.percentile(values, q)), 2) for name, q in (("p50", 50), ("p95", 95), ("p99", 99))}


# Children: one measurement each, in a fresh process ----------------------------------------


def child_train(data_dir, model_dir):
    from hybrid.data import load_movielens_csv
    from hybrid.model import HybridRecommender

    with MemorySampler() as sampler:
        started = time.perf_counter()
        cpu_started = time.process_time()
        dataset = load_movielens_csv(data_dir / "ratings.csv", data_dir / "movies.csv", data_dir / "tags.csv")
        loaded = time.perf_counter()
        model = HybridRecommender().fit(dataset)
        fitted = time.perf_counter()
        model.save(model_dir)
        saved = time.perf_counter()
        cpu_seconds = time.process_time() - cpu_started

    seconds = dict(model.info["training_seconds"])
    seconds.pop("total")
    windows = {"load": (started, loaded), **step_windows(loaded, seconds, SINGLE_MACHINE_STEPS), "save": (fitted, saved)}
    return {
        "steps": {
            step: {"seconds": round(end - start, 3), "peak_mib": round(sampler.peak(start, end) / MIB, 1)}
            for step, (start, end) in windows.items()
        },
        "total_seconds": round(saved - started, 3),
        "cpu_seconds": round(cpu_seconds, 3),
        "peak_mib": peak_rss_mib(),
        "data": model.info["data"],
        "config_mf": model.config.mf,
    }


def child_serve(model_dir):
    # Start-up counts the imports too, as a server's would.
    started = time.perf_counter()
    from api import create_app
    from api.model_holder import EXTENSION_KEY

    app = create_app({"MODEL_DIR": str(model_dir)})
    model = app.extensions[EXTENSION_KEY].get()
    client = app.test_client()
    rng = np.random.default_rng(0)
    users = rng.choice(model.users.ids, size=LATENCY_REQUESTS)
    first = client.get(f"/users/{int(users[0])}/recommendations?n=10")
    first_response = time.perf_counter()
    if first.status_code != 200:
        raise RuntimeError(f"first request failed with status {first.status_code}: {first.get_data(as_text=True)}")

    latencies = []
    for user_id in users:
        begin = time.perf_counter()
        response = client.get(f"/users/{int(user_id)}/recommendations?n=10")
        latencies.append(time.perf_counter() - begin)
        if response.status_code != 200:
            raise RuntimeError(f"request for user {user_id} failed with status {response.status_code}")

    movie_ids = model.catalogue.movie_ids.ids
    cold_latencies = []
    for _ in range(COLD_START_REQUESTS):
        chosen = rng.choice(movie_ids, size=5, replace=False)
        body = {"ratings": [{"movie_id": int(movie), "rating": float(rng.integers(1, 11) / 2)} for movie in chosen], "n": 10}
        begin = time.perf_counter()
        response = client.post("/recommendations", json=body)
        cold_latencies.append(time.perf_counter() - begin)
        if response.status_code != 200:
            raise RuntimeError(f"cold-start request failed with status {response.status_code}")

    return {
        "startup_seconds": round(first_response - started, 3),
        "user_ms": percentiles(latencies),
        "cold_start_ms": percentiles(cold_latencies),
        "peak_mib": peak_rss_mib(),
    }


def child_spark(data_dir, model_dir):
    from hybrid.spark_training import SparkOptions, train_with_spark

    options = SparkOptions(master="local[2]", conf=SPARK_CONF)
    with MemorySampler(interval=0.1, children=True) as sampler:
        started = time.perf_counter()
        model = train_with_spark(
            str(data_dir / "ratings.csv"), data_dir / "movies.csv", data_dir / "tags.csv",
            options=options, show_progress=False,
        )
        trained = time.perf_counter()
        model.save(model_dir)
        saved = time.perf_counter()

    seconds = dict(model.info["training_seconds"])
    seconds.pop("total")
    windows = {**step_windows(started, seconds, SPARK_STEPS), "save": (trained, saved)}
    return {
        "steps": {
            step: {"seconds": round(end - start, 3), "peak_mib": round(sampler.peak(start, end) / MIB, 1)}
            for step, (start, end) in windows.items()
        },
        "total_seconds": round(saved - started, 3),
        "peak_mib": round(sampler.overall_peak() / MIB, 1),
        "spark_version": model.info["engine"]["spark_version"],
    }


def child_quality(work_dir):
    """Compare the two engines on ml-latest-small with a random fifth of the ratings held out."""
    import pandas as pd

    from hybrid.data import bundled_data_dir, load_movielens_csv
    from hybrid.evaluation import evaluate_model
    from hybrid.model import HybridRecommender
    from hybrid.spark_training import SparkOptions, train_with_spark

    directory = bundled_data_dir()
    ratings = pd.read_csv(directory / "ratings.csv", dtype=str)
    held_out = np.random.default_rng(0).random(len(ratings)) < 0.2
    train_path = work_dir / "quality-ratings.csv"
    ratings[~held_out].to_csv(train_path, index=False)
    test = ratings[held_out].astype({"userId": np.int64, "movieId": np.int64, "rating": np.float64})

    results = {}
    started = time.perf_counter()
    single = HybridRecommender().fit(load_movielens_csv(train_path, directory / "movies.csv", directory / "tags.csv"))
    results["single-machine"] = {"seconds": round(time.perf_counter() - started, 2)}
    started = time.perf_counter()
    spark = train_with_spark(
        str(train_path), directory / "movies.csv", directory / "tags.csv",
        options=SparkOptions(master="local[2]", conf=SPARK_CONF), show_progress=False,
    )
    results["spark"] = {"seconds": round(time.perf_counter() - started, 2)}

    frame = test.rename(columns={"userId": "user_id", "movieId": "movie_id"})
    for name, model in (("single-machine", single), ("spark", spark)):
        evaluation = evaluate_model(model, frame, k=10)
        results[name]["ndcg_at_10"] = round(evaluation.ndcg, 4)
        results[name]["rmse"] = round(evaluation.rmse, 4)
    results["held_out_ratings"] = int(held_out.sum())
    return results


def run_child(kind, *arguments):
    """Run one measurement in a fresh Python process and return its JSON result."""
    output = Path(arguments[-1])
    command = [sys.executable, __file__, "--child", kind, *map(str, arguments)]
    print(f"  running {kind} in a fresh process ...", flush=True)
    completed = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{kind} failed with status {completed.returncode}:\n{completed.stderr[-4000:]}")
    return json.loads(output.read_text())


# The parent: data, runs, report ----------------------------------------------------------------


def ensure_data(millions, data_root, seed):
    from hybrid.synthetic import SyntheticSpec, generate_movielens

    spec = SyntheticSpec.for_ratings(round(millions * 1_000_000), seed=seed)
    directory = data_root / f"ratings-{spec.n_ratings}-seed{seed}"
    recorded = directory / "synthetic.json"
    if recorded.is_file() and json.loads(recorded.read_text()) == spec_record(spec):
        return spec, directory
    print(f"  generating {spec.n_ratings} ratings into {directory} ...", flush=True)
    generate_movielens(spec, directory)
    return spec, directory


def spec_record(spec):
    from dataclasses import asdict

    from hybrid.synthetic import GENERATOR_VERSION

    return {**asdict(spec), "generator_version": GENERATOR_VERSION}


def machine_description():
    import implicit
    import numba

    cpu = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_kib = 0
    with open("/proc/meminfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("MemTotal"):
                memory_kib = int(line.split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 2**20, 1),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "implicit": implicit.__version__,
        "numba": numba.__version__,
    }


def loglog_slope(sizes, values):
    """Return the least-squares slope of log(value) against log(size)."""
    return float(np.polyfit(np.log(sizes), np.log(values), 1)[0])


def extrapolate(sizes, values, limit):
    """Return the size at which the straight line through the two largest points reaches ``limit``.

    A straight line (a fixed part plus a cost per rating) fits both time and
    memory better than a power law here, because the fixed part, such as
    the memory of the imported libraries, dominates the small sizes.
    """
    (size_a, value_a), (size_b, value_b) = sorted(zip(sizes, values))[-2:]
    per_rating = (value_b - value_a) / (size_b - size_a)
    if per_rating <= 0:
        return math.inf
    return size_b + (limit - value_b) / per_rating


def per_rating_cost(sizes, values):
    """Return the slope of the straight line through the two largest points."""
    (size_a, value_a), (size_b, value_b) = sorted(zip(sizes, values))[-2:]
    return (value_b - value_a) / (size_b - size_a)


def write_plot(results):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = results["single_machine"]
    sizes = [run["ratings"] for run in runs]
    figure, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(11, 4.5))
    for step, label in (("load", "load"), ("als", "ALS"), ("ease", "EASE"), ("rp3beta", "RP3beta"), ("mf", "SGD MF"), ("content", "TF-IDF"), ("save", "save")):
        if all(step in run["train"]["steps"] for run in runs):
            time_axis.plot(sizes, [max(run["train"]["steps"][step]["seconds"], 1e-3) for run in runs], marker="o", label=label)
    time_axis.plot(sizes, [run["train"]["total_seconds"] for run in runs], marker="s", color="black", label="total")
    time_axis.plot(sizes, [run["serve"]["startup_seconds"] for run in runs], marker="^", linestyle="--", label="serving start-up")
    spark_runs = results.get("spark", [])
    if spark_runs:
        time_axis.plot([run["ratings"] for run in spark_runs], [run["total_seconds"] for run in spark_runs],
                       marker="D", linestyle=":", color="tab:red", label="Spark local[2] total")
    time_axis.axhline(TARGET_SECONDS, color="grey", linewidth=0.8, linestyle="--", label="5-minute target")
    time_axis.set(xscale="log", yscale="log", xlabel="ratings", ylabel="wall time (s)", title="Training time")
    time_axis.legend(fontsize=8)

    memory_axis.plot(sizes, [run["train"]["peak_mib"] for run in runs], marker="s", color="black", label="training peak")
    memory_axis.plot(sizes, [run["serve"]["peak_mib"] for run in runs], marker="^", linestyle="--", label="serving")
    if spark_runs:
        memory_axis.plot([run["ratings"] for run in spark_runs], [run["peak_mib"] for run in spark_runs],
                         marker="D", linestyle=":", color="tab:red", label="Spark local[2] (driver + JVM)")
    memory_axis.axhline(TARGET_BYTES / MIB, color="grey", linewidth=0.8, linestyle="--", label="8 GiB target")
    memory_axis.set(xscale="log", yscale="log", xlabel="ratings", ylabel="peak resident memory (MiB)", title="Memory")
    memory_axis.legend(fontsize=8)

    figure.suptitle(f"true-recommend at scale ({results['machine']['cpu']}, {results['machine']['cores']} cores)", fontsize=10)
    figure.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(PLOT, dpi=110)


def growth_paragraph(sizes, totals, peaks, machine):
    """Return the lines on how time and memory grow, and where they would cross the limits."""
    time_limit = extrapolate(sizes, totals, TARGET_SECONDS)
    memory_limit = extrapolate(sizes, peaks, TARGET_BYTES)
    machine_limit = extrapolate(sizes, peaks, machine["memory_gib"] * 2**30 * 0.8)
    return [
        "",
        "### Growth and the crossover",
        "",
        f"On a log-log scale, training time grows with slope {loglog_slope(sizes, totals):.2f} and peak memory with "
        f"slope {loglog_slope(sizes, peaks):.2f} over these sizes (1.0 is linear). Between the two largest sizes, "
        f"each extra million ratings cost {per_rating_cost(sizes, totals) * 1e6:.1f} s of training and "
        f"{per_rating_cost(sizes, peaks) * 1e6 / MIB:.0f} MiB of peak memory "
        f"({per_rating_cost(sizes, peaks):.0f} bytes per rating). Extending that straight line, one run of `train` "
        f"here would reach 5 minutes at about {time_limit / 1e6:.0f} million ratings, 8 GiB at about "
        f"{memory_limit / 1e6:.0f} million, and 80% of this machine's memory at about {machine_limit / 1e6:.0f} million. "
        "These are extrapolations, not measurements.",
    ]


def format_section(results):
    machine = results["machine"]
    runs = results["single_machine"]
    lines = [
        START_MARKER,
        "## Scale: one machine from 0.1 to 20 million ratings",
        "",
        f"Measured by `python benchmarks/scale.py` on {results['date']} on a {machine['cores']}-core {machine['cpu']} "
        f"virtual machine with {machine['memory_gib']} GiB of memory (Python {machine['python']}, numpy "
        f"{machine['numpy']}, implicit {machine['implicit']}, numba {machine['numba']}). The machine is shared: "
        f"the 1-minute load average was {results['load_average'][0]} at the start and {results['load_average'][1]} "
        "at the end, and times on a busy machine can be up to twice those on a quiet one.",
        "",
        "The data are synthetic MovieLens-like sets from `true-recommend generate --seed 0` "
        "(power-law activity and popularity, half-star ratings, tags on 2.5% of ratings). "
        "Each measurement runs in a fresh process. Memory is the peak resident set size.",
        "",
        "### Training with the single-machine engine (default configuration)",
        "",
        "Wall seconds of each step, and the process's peak memory during it.",
        "",
        "| ratings | users | movies | load | index | ALS | EASE | RP3beta | SGD MF | TF-IDF | save | total | CPU | peak memory |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        steps = run["train"]["steps"]
        cells = [
            f"{steps[step]['seconds']:.1f} s ({steps[step]['peak_mib']:.0f} MiB)" if step in steps else "-"
            for step in ("load", "index", "als", "ease", "rp3beta", "mf", "content", "save")
        ]
        lines.append(
            f"| {run['ratings']:,} | {run['users']:,} | {run['movies']:,} | " + " | ".join(cells)
            + f" | **{run['train']['total_seconds']:.1f} s** | {run['train']['cpu_seconds']:.0f} s | **{run['train']['peak_mib']:,.0f} MiB** |"
        )

    largest = runs[-1]
    verdict_time = "within" if largest["train"]["total_seconds"] <= TARGET_SECONDS else "over"
    verdict_memory = "within" if largest["train"]["peak_mib"] * MIB <= TARGET_BYTES else "over"
    lines += [
        "",
        f"At {largest['ratings']:,} ratings the whole `train` run took {largest['train']['total_seconds']:.0f} s "
        f"({verdict_time} the 5-minute target) and peaked at {largest['train']['peak_mib'] / 1024:.1f} GiB "
        f"({verdict_memory} the 8 GiB target). SGD MF ran with {largest['config_mf']['factors']} factors and "
        f"{largest['config_mf']['epochs']} epochs on one thread.",
        "",
        "### Serving",
        "",
        "Start-up is loading the bundle into the Flask application and answering the first request. "
        f"Latencies are over {LATENCY_REQUESTS} requests for random known users (`GET /users/<id>/recommendations?n=10`) "
        f"and {COLD_START_REQUESTS} for someone new with five ratings (`POST /recommendations`), through Flask's test client.",
        "",
        "| ratings | start-up | known user p50 | p95 | p99 | new user p50 | p95 | memory |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        serve = run["serve"]
        lines.append(
            f"| {run['ratings']:,} | {serve['startup_seconds']:.2f} s | {serve['user_ms']['p50']:.1f} ms | {serve['user_ms']['p95']:.1f} ms "
            f"| {serve['user_ms']['p99']:.1f} ms | {serve['cold_start_ms']['p50']:.1f} ms | {serve['cold_start_ms']['p95']:.1f} ms "
            f"| {serve['peak_mib']:,.0f} MiB |"
        )

    sizes = [run["ratings"] for run in runs]
    totals = [run["train"]["total_seconds"] for run in runs]
    peaks = [run["train"]["peak_mib"] * MIB for run in runs]
    if len(runs) >= 2:
        lines += growth_paragraph(sizes, totals, peaks, machine)

    spark_runs = results.get("spark", [])
    if spark_runs:
        lines += [
            "",
            "### Training with the Spark engine in local mode",
            "",
            "The same data with `--engine spark --spark-master 'local[2]'` on the same machine, with "
            f"{', '.join(f'`{key}={value}`' for key, value in SPARK_CONF.items())}. Load includes starting Spark; "
            f"collect is bringing the ratings to the driver. Memory is the Python driver plus the JVM. Spark {spark_runs[0]['spark_version']}.",
            "",
            "| ratings | load | collect | ALS | rating model | EASE | RP3beta | TF-IDF | save | total | peak memory | single-machine total |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        single_by_size = {run["ratings"]: run["train"]["total_seconds"] for run in runs}
        for run in spark_runs:
            steps = run["steps"]
            cells = [
                f"{steps[step]['seconds']:.1f} s" if step in steps else "-"
                for step in ("load", "collect", "als", "mf", "ease", "rp3beta", "content", "save")
            ]
            single = single_by_size.get(run["ratings"])
            lines.append(
                f"| {run['ratings']:,} | " + " | ".join(cells) + f" | **{run['total_seconds']:.1f} s** | {run['peak_mib']:,.0f} MiB | "
                + (f"{single:.1f} s |" if single is not None else "- |")
            )

    quality = results.get("quality")
    if quality:
        lines += [
            "",
            "### Quality of the two engines",
            "",
            f"ml-latest-small with a random fifth of the ratings ({quality['held_out_ratings']:,}) held out, default settings. "
            "NDCG@10 ranks the blended recommendations against the held-out movies (binary gains); RMSE is the rating model on the held-out ratings.",
            "",
            "| engine | NDCG@10 | rating RMSE | training time |",
            "| --- | ---: | ---: | ---: |",
        ]
        for name in ("single-machine", "spark"):
            lines.append(f"| {name} | {quality[name]['ndcg_at_10']:.4f} | {quality[name]['rmse']:.4f} | {quality[name]['seconds']:.1f} s |")

    lines += ["", "![Training time and memory against the number of ratings, log-log](scale.png)", "", END_MARKER]
    return "\n".join(lines)


def write_section(section):
    """Replace the scale section of docs/benchmarks.md, leaving the other sections as they are."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = DOC.read_text(encoding="utf-8") if DOC.is_file() else "# Benchmarks\n"
    if START_MARKER in text and END_MARKER in text:
        before = text[: text.index(START_MARKER)]
        after = text[text.index(END_MARKER) + len(END_MARKER):]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.write_text(text, encoding="utf-8")


def print_summary(results):
    print("\nsingle-machine training (wall s / peak MiB per step)")
    for run in results["single_machine"]:
        steps = " ".join(f"{step}={values['seconds']:.1f}s/{values['peak_mib']:.0f}" for step, values in run["train"]["steps"].items())
        print(f"  {run['ratings']:>11,} ratings: total {run['train']['total_seconds']:.1f} s, "
              f"peak {run['train']['peak_mib']:.0f} MiB; {steps}")
        serve = run["serve"]
        print(f"  {'':>11}          serving: start-up {serve['startup_seconds']:.2f} s, known user p50 "
              f"{serve['user_ms']['p50']} ms p99 {serve['user_ms']['p99']} ms, new user p50 {serve['cold_start_ms']['p50']} ms")
    for run in results.get("spark", []):
        print(f"  spark local[2] {run['ratings']:>11,} ratings: total {run['total_seconds']:.1f} s, peak {run['peak_mib']:.0f} MiB")
    if results.get("quality"):
        print(f"  quality on ml-latest-small: {json.dumps(results['quality'])}")


def parse_sizes(text):
    return [float(value) for value in text.split(",") if value.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_sizes, default=[0.1, 1, 5, 20], help="Millions of ratings (default 0.1,1,5,20).")
    parser.add_argument("--spark-sizes", type=parse_sizes, default=[0.1, 1], help="Sizes also trained with Spark in local mode (default 0.1,1; empty for none).")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/true-recommend-scale"), help="Cache of generated data and models.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the generated data.")
    parser.add_argument("--skip-quality", action="store_true", help="Skip the quality comparison of the two engines.")
    parser.add_argument("--report-only", action="store_true", help=f"Rewrite the docs section and the plot from {RESULTS.relative_to(ROOT)} without measuring.")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    arguments = parser.parse_args()

    if arguments.report_only:
        results = json.loads(RESULTS.read_text(encoding="utf-8"))
        write_section(format_section(results))
        write_plot(results)
        print_summary(results)
        return

    if arguments.child:
        kind, *paths = arguments.child
        work = {
            "train": lambda: child_train(Path(paths[0]), Path(paths[1])),
            "serve": lambda: child_serve(Path(paths[0])),
            "spark": lambda: child_spark(Path(paths[0]), Path(paths[1])),
            "quality": lambda: child_quality(Path(paths[0])),
        }[kind]
        Path(paths[-1]).write_text(json.dumps(work()), encoding="utf-8")
        return

    arguments.data_dir.mkdir(parents=True, exist_ok=True)
    results = {
        "date": datetime.date.today().isoformat(),
        "machine": machine_description(),
        "single_machine": [],
        "spark": [],
    }
    load_start = os.getloadavg()[0]

    for millions in arguments.sizes:
        spec, data_dir = ensure_data(millions, arguments.data_dir, arguments.seed)
        print(f"{spec.n_ratings:,} ratings", flush=True)
        # Each run writes one fresh bundle, so that old versions do not pile up.
        model_dir = arguments.data_dir / f"model-{spec.n_ratings}"
        shutil.rmtree(model_dir, ignore_errors=True)
        train = run_child("train", data_dir, model_dir, arguments.data_dir / "train.json")
        serve = run_child("serve", model_dir, arguments.data_dir / "serve.json")
        results["single_machine"].append({
            "ratings": spec.n_ratings, "users": spec.n_users, "movies": spec.n_movies, "tags": spec.n_tags,
            "train": train, "serve": serve, "config_mf": train["config_mf"],
        })
        print(f"  trained in {train['total_seconds']:.1f} s, peak {train['peak_mib']:.0f} MiB", flush=True)

        if any(math.isclose(millions, size) for size in arguments.spark_sizes):
            spark_model_dir = arguments.data_dir / f"spark-model-{spec.n_ratings}"
            shutil.rmtree(spark_model_dir, ignore_errors=True)
            spark = run_child("spark", data_dir, spark_model_dir, arguments.data_dir / "spark.json")
            results["spark"].append({"ratings": spec.n_ratings, **spark})
            print(f"  Spark local[2] trained in {spark['total_seconds']:.1f} s, peak {spark['peak_mib']:.0f} MiB", flush=True)

    if not arguments.skip_quality:
        print("engine quality on ml-latest-small", flush=True)
        results["quality"] = run_child("quality", arguments.data_dir, arguments.data_dir / "quality.json")

    results["load_average"] = [round(load_start, 2), round(os.getloadavg()[0], 2)]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    write_section(format_section(results))
    write_plot(results)
    print_summary(results)
    print(f"\nwrote {RESULTS.relative_to(ROOT)}, {DOC.relative_to(ROOT)} and {PLOT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
