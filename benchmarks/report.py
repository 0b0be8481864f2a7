"""Tables, plots and the Markdown of the quality benchmark (``benchmarks/quality.py``)."""

import datetime
import importlib.metadata
import json
import os
import pathlib
import platform
import subprocess

import numpy as np

SECTION = "quality"
SUMMARY = "quality-summary"
COLD_START_BASELINES = ("popularity", "content alone", "ALS fold-in alone")

# Product models are drawn in one blue, peers in greys and browns; each model
# also has its own marker, which the legend names.
PRODUCT_COLOR = "tab:blue"
PEER_COLORS = ("tab:gray", "tab:brown", "tab:olive", "black", "tab:pink")
MARKERS = ("o", "s", "D", "^", "v", "P", "X", "*", "<")


def machine_description():
    """Return the CPU, memory, software versions and time of this run."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        memory_kib = next(
            int(line.split()[1]) for line in pathlib.Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
        )
        memory = f"{memory_kib / 1024**2:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        memory = "unknown"

    versions = {}
    for package in ("numpy", "scipy", "numba", "implicit", "rectools-lightfm", "scikit-surprise", "optuna", "true-recommend"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, cwd=pathlib.Path(__file__).parent
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "commit": commit,
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


# Figures -----------------------------------------------------------------------------


def rating_rows(dataset):
    """Return one row per rating model: mean RMSE, MAE and fit seconds over the folds, and speed against Surprise SVD."""
    results = dataset["rating"]
    svd = "Surprise SVD (100 factors, 20 epochs)"
    svd_seconds = float(np.mean(results[svd]["fit_seconds"])) if svd in results else None
    rows = []
    for name, figures in results.items():
        seconds = float(np.mean(figures["fit_seconds"]))
        rows.append(
            {
                "model": name,
                "rmse": float(np.mean(figures["rmse"])),
                "mae": float(np.mean(figures["mae"])),
                "fit_seconds": seconds,
                "speed_vs_svd": svd_seconds / seconds if svd_seconds else None,
                "folds": len(figures["rmse"]),
            }
        )
    return rows


def cold_start_table(dataset):
    """Return {model: {revealed: NDCG@10}} of the cold-start benchmark."""
    table = {}
    for row in dataset["cold_start"]["rows"]:
        table.setdefault(row["model"], {})[row["revealed"]] = row["ndcg"]
    return table


def targets(dataset):
    """Return (target, measured, met) for each target of the benchmark on this data set."""
    rows = {row["model"]: row for row in rating_rows(dataset)}
    preset = next(row for name, row in rows.items() if name.startswith("ExplicitMF, product preset"))
    classic = rows["ExplicitMF, SVD settings (100 factors, 20 epochs)"]
    svd = rows["Surprise SVD (100 factors, 20 epochs)"]
    svdpp = rows["Surprise SVD++ (20 factors, 20 epochs)"]

    ranking = {row["model"]: row for row in dataset["ranking"]["rows"]}
    hybrid = ranking["hybrid (tuned)"]
    peers = [row for name, row in ranking.items() if not name.startswith("hybrid")]
    best_peer = max(peers, key=lambda row: row["ndcg"])

    checks = [
        (
            "best rating predictor RMSE <= 0.905 and below Surprise SVD++",
            f"{preset['rmse']:.4f} (SVD++ {svdpp['rmse']:.4f})",
            preset["rmse"] <= 0.905 and preset["rmse"] < svdpp["rmse"],
        ),
        (
            "explicit MF at SVD settings fits >= 5x faster than Surprise SVD, RMSE equal or better",
            f"{classic['speed_vs_svd']:.1f}x faster, RMSE {classic['rmse']:.4f} vs {svd['rmse']:.4f}",
            classic["speed_vs_svd"] >= 5 and round(classic["rmse"], 4) <= round(svd["rmse"], 4),
        ),
        (
            "hybrid NDCG@10 >= 0.50 and ahead of the best peer",
            f"{hybrid['ndcg']:.4f} (best peer: {best_peer['model']} {best_peer['ndcg']:.4f})",
            hybrid["ndcg"] >= 0.50 and hybrid["ndcg"] > best_peer["ndcg"],
        ),
    ]

    cold = cold_start_table(dataset)
    for revealed in (1, 3, 5):
        gains = {name: cold["hybrid (tuned)"][revealed] / cold[name][revealed] - 1 for name in COLD_START_BASELINES}
        weakest = min(gains, key=gains.get)
        checks.append(
            (
                f"cold start, {revealed} revealed: hybrid NDCG@10 >= 1.1 x popularity, content alone and ALS fold-in alone",
                f"{cold['hybrid (tuned)'][revealed]:.4f}; smallest gain {gains[weakest]:+.1%} over {weakest}",
                all(gain >= 0.10 for gain in gains.values()),
            )
        )
    return checks


# Text -------------------------------------------------------------------------------


def _table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _number(value, digits=4):
    return "" if value is None else f"{value:.{digits}f}"


def rating_markdown(dataset):
    rows = [
        (row["model"], _number(row["rmse"]), _number(row["mae"]), _number(row["fit_seconds"], 3),
         "" if row["speed_vs_svd"] is None else f"{row['speed_vs_svd']:.1f}x")
        for row in rating_rows(dataset)
    ]
    return _table(["model", "RMSE", "MAE", "fit s (mean per fold)", "fit speed vs Surprise SVD"], rows)


def ranking_markdown(dataset):
    rows = [
        (row["model"], _number(row["precision"]), _number(row["recall"]), f"**{row['ndcg']:.4f}**", _number(row["map"]),
         _number(row["hit_rate"]), _number(row["coverage"]), _number(row["fit_seconds"], 2), _number(row["tune_seconds"], 0))
        for row in dataset["ranking"]["rows"]
    ]
    return _table(["model", "P@10", "R@10", "NDCG@10", "MAP@10", "HR@10", "coverage", "fit s", "tuning s"], rows)


def cold_start_markdown(dataset):
    cold = cold_start_table(dataset)
    revealed = sorted(next(iter(cold.values())))
    rows = [(name, *(_number(values[count]) for count in revealed)) for name, values in cold.items()]
    best = {count: max(cold[name][count] for name in COLD_START_BASELINES) for count in revealed}
    rows.append(("hybrid over the best of popularity, content, ALS fold-in",
                 *(f"{cold['hybrid (tuned)'][count] / best[count] - 1:+.1%}" for count in revealed)))
    return _table(["model", *(f"NDCG@10, {count} revealed" for count in revealed)], rows)


def targets_markdown(dataset):
    return _table(["target", "measured", "met"], [(name, measured, "yes" if met else "**no**") for name, measured, met in targets(dataset)])


def _params(params):
    return ", ".join(f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}" for key, value in params.items())


def section_markdown(results, plots):
    machine = results["machine"]
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
    lines = [
        "## Quality against peers",
        "",
        "Written by `python benchmarks/quality.py`; rerun that command to regenerate this section, its plots "
        "and `docs/quality.json`. Every model is tuned only on validation folds carved from its training "
        "ratings (10% of each user's ratings, 2 folds, Optuna TPE) and measured once on the held-out test ratings.",
        "",
        f"Run {machine['date']}, commit {machine['commit']}, {results['seconds'] / 60:.1f} minutes in all, on "
        f"{machine['cpu']}, {machine['cores']} cores, {machine['memory']} of memory ({machine['platform']}, "
        f"Python {machine['python']}); load average {machine['load_average_at_start']} at the start. {versions}.",
        "",
    ]
    for dataset in results["datasets"]:
        name = dataset["name"]
        ranking = dataset["ranking"]
        lines += [
            f"### {name}",
            "",
            f"{dataset['ratings']:,} ratings, {dataset['users']:,} users, {dataset['movies']:,} movies.",
            "",
            f"**Rating prediction** ({dataset['rating_protocol']}); the product's rating predictor is its explicit MF.",
            "",
            rating_markdown(dataset),
            "",
            f"**Top-10 ranking** ({ranking['split']} per user, seed {results['arguments']['seed']}, "
            f"{ranking['users']} users, {ranking['test_ratings']:,} test ratings; movies rated in training are excluded). "
            "Fit seconds are for the final fit on all training ratings (the hybrid's include every component); tuning "
            "seconds are the whole search.",
            "",
            ranking_markdown(dataset),
            "",
            "Chosen settings:",
            "",
        ]
        for row in ranking["rows"]:
            if row["params"] and not row["model"].startswith("hybrid"):
                lines.append(f"- {row['model']}: {_params(row['params'])}")
        hybrid = next(row for row in ranking["rows"] if row["model"] == "hybrid (tuned)")
        config = hybrid["params"]
        lines += [
            f"- hybrid: ALS {_params(config['als'])}; EASE {_params(config['ease'])}; RP3beta {_params(config['rp3beta'])}; "
            f"warm weights {_params(config['blend']['warm'])}; cold weights {_params(config['blend']['cold'])}; "
            f"cold up to {config['blend']['cold_max_ratings']} ratings, warm from {config['blend']['warm_min_ratings']}",
            "",
            f"**Cold start** ({dataset['cold_start']['split']}: each held-out user's first k random ratings are revealed, "
            "the rest are the test set; the hybrid was tuned on the other users only).",
            "",
            cold_start_markdown(dataset),
            "",
            "**Targets**",
            "",
            targets_markdown(dataset),
            "",
        ]
        for kind in ("ratings", "ranking", "cold-start"):
            if (name, kind) in plots:
                lines.append(f"![{name} {kind}]({plots[(name, kind)].name})")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def summary_markdown(results):
    """Return the README table: ml-100k (or the first data set) in one table per benchmark."""
    dataset = results["datasets"][0]
    rating = {row["model"]: row for row in rating_rows(dataset)}
    ranking = dataset["ranking"]["rows"]
    lines = [
        f"Measured on {dataset['name']} by `python benchmarks/quality.py` ({results['machine']['date']}, "
        f"{results['machine']['cpu']}, {results['machine']['cores']} cores); details and ml-latest-small in "
        "[docs/benchmarks.md](docs/benchmarks.md).",
        "",
        _table(
            ["rating prediction, " + dataset["rating_protocol"], "RMSE", "fit s per fold"],
            [(name, _number(row["rmse"]), _number(row["fit_seconds"], 3)) for name, row in rating.items()],
        ),
        "",
        _table(
            ["top-10 ranking, random 75/25 per user", "NDCG@10", "P@10", "fit s"],
            [(row["model"], _number(row["ndcg"]), _number(row["precision"]), _number(row["fit_seconds"], 2)) for row in ranking],
        ),
        "",
        cold_start_markdown(dataset),
    ]
    return "\n".join(lines) + "\n"


def summary_text(results):
    """Return every figure as plain text for the terminal."""
    lines = []
    for dataset in results["datasets"]:
        lines += [f"== {dataset['name']} ==", rating_markdown(dataset), "", ranking_markdown(dataset), "", cold_start_markdown(dataset), "",
                  targets_markdown(dataset), ""]
    lines.append(f"total {results['seconds'] / 60:.1f} minutes")
    return "\n".join(lines)


# Files ------------------------------------------------------------------------------


def replace_section(path, name, body, title=None):
    """Write ``body`` between ``<!-- name:start -->`` and ``<!-- name:end -->`` in ``path``, keeping the rest."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if path.exists():
        text = path.read_text(encoding="utf-8")
    elif title:
        text = f"# {title}\n\n"
    else:
        text = ""
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        _, after = rest.split(end, 1)
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


def plot_all(results, directory):
    """Draw accuracy against fit time and cold-start curves for each data set; return {(data set, kind): path}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots = {}
    for dataset in results["datasets"]:
        name = dataset["name"]

        figure, axis = plt.subplots(figsize=(8.5, 4.2))
        for position, row in enumerate(rating_rows(dataset)):
            product = row["model"].startswith("ExplicitMF")
            axis.scatter(row["fit_seconds"], row["rmse"], s=70, marker=MARKERS[position % len(MARKERS)],
                         color=PRODUCT_COLOR if product else PEER_COLORS[position % len(PEER_COLORS)], label=row["model"])
        axis.set_xscale("log")
        axis.set_xlabel("fit seconds per fold (log scale)")
        axis.set_ylabel("test RMSE (lower is better)")
        axis.set_title(f"{name}: rating prediction, {dataset['rating_protocol']}", fontsize=10)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
        plots[(name, "ratings")] = _save(figure, directory / f"quality-{name}-ratings.png")

        figure, axis = plt.subplots(figsize=(8.5, 4.2))
        for position, row in enumerate(dataset["ranking"]["rows"]):
            product = row["model"].startswith("hybrid")
            axis.scatter(max(row["fit_seconds"], 1e-3), row["ndcg"], s=70, marker=MARKERS[position % len(MARKERS)],
                         color=PRODUCT_COLOR if product else PEER_COLORS[position % len(PEER_COLORS)], label=row["model"])
        axis.set_xscale("log")
        axis.set_xlabel("fit seconds on the training ratings (log scale; popularity drawn at 0.001)")
        axis.set_ylabel("test NDCG@10 (higher is better)")
        axis.set_title(f"{name}: top-10 ranking, {dataset['ranking']['split']}", fontsize=10)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
        plots[(name, "ranking")] = _save(figure, directory / f"quality-{name}-ranking.png")

        figure, axis = plt.subplots(figsize=(6.4, 4.2))
        for model, values in cold_start_table(dataset).items():
            counts = sorted(values)
            axis.plot(counts, [values[count] for count in counts], marker="o", linewidth=2.5 if model.startswith("hybrid") else 1.2,
                      label=model)
        axis.set_xscale("log")
        axis.set_xticks(counts, [str(count) for count in counts])
        axis.set_xlabel("ratings revealed per new user")
        axis.set_ylabel("test NDCG@10")
        axis.set_title(f"{name}: cold start, {dataset['cold_start']['split']}", fontsize=10)
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
        plots[(name, "cold-start")] = _save(figure, directory / f"quality-{name}-cold-start.png")
    return plots


def _save(figure, path):
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return path


def write_all(results, output, readme=None):
    """Write docs/quality.json, the plots, the quality section of ``output`` and the README summary."""
    output = pathlib.Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    (output.parent / "quality.json").write_text(json.dumps(results, indent=1, default=float) + "\n", encoding="utf-8")
    plots = plot_all(results, output.parent)
    replace_section(output, SECTION, section_markdown(results, plots), title="Benchmarks")
    if readme is not None:
        replace_section(pathlib.Path(readme), SUMMARY, summary_markdown(results))
