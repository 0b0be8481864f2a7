"""Load-test the HTTP server: latency at fixed rates, maximum throughput and memory per worker.

Run from the repository root with one command::

    python benchmarks/serving.py            # about 3 minutes
    python benchmarks/serving.py --quick    # shorter runs, for a first look

It needs two load generators from Debian's packages (``apt-get install wrk
hey``) and runs everything over 127.0.0.1:

1. It starts the server as README.md describes, ``true-recommend serve``
   with 2 workers on a free port, on an empty model directory, so the
   server first trains on the bundled ml-latest-small.
2. Fixed rates: ``hey`` holds ``GET /users/<id>/recommendations?n=10`` at
   1,000, 1,500 and 2,000 requests/s. Each of 5 hey processes asks for one
   user (users at the 10th to 90th percentile of rating counts) with
   workers that each send at most 50 requests/s, and the script pools the
   latency of every request from their CSV output. A rate counts as
   sustained when hey reached 98% of it and the 99th percentile stayed
   at or below 10 ms.
3. Saturation: ``wrk`` with 16 connections asks for a random user per
   request, as fast as the server answers.
4. Cold start: ``POST /recommendations`` with 5 ratings at 200 requests/s
   (hey), then at saturation (wrk).
5. Memory: servers with 1 and with 4 workers, after traffic, summed from
   ``/proc/<pid>/smaps_rollup`` (PSS shares each shared page among the
   processes that map it, USS counts a process's private pages), against
   the memory the model takes in one process.

The load generator runs on the same machine as the server and takes CPU
from it. The script prints the figures and writes them into
docs/benchmarks.md between the ``serving`` markers.
"""

import argparse
import csv
import io
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parent.parent
MARKER = "serving"
FIXED_RATES = (1000, 1500, 2000)
SUSTAINED_P99_MS = 10.0
HEY_PROCESSES = 5
HEY_WORKER_RATE = 50
COLD_START_RATE = 200
COLD_START_BODY = {
    "ratings": [
        {"movie_id": 1, "rating": 5.0},
        {"movie_id": 2571, "rating": 4.5},
        {"movie_id": 318, "rating": 4.0},
        {"movie_id": 296, "rating": 3.5},
        {"movie_id": 356, "rating": 5.0},
    ],
    "n": 10,
}


def machine():
    """Describe the CPU, cores, memory and software versions this run used."""
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split(" [")[0]
    import gunicorn

    return (
        f"{os.cpu_count()} cores, {cpu}, {memory:.0f} GiB; Python {platform.python_version()}, "
        f"gunicorn {gunicorn.__version__}, {wrk}, hey (Debian package)"
    )


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """``true-recommend serve`` in a subprocess of its own session."""

    def __init__(self, model_dir, workers, log_path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log_path, "ab")
        command = [
            sys.executable, "-c", "from api.cli import main; main()", "serve",
            "--model-dir", str(model_dir), "--port", str(self.port), "--workers", str(workers),
        ]
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPOSITORY)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited with status {self.process.returncode}; see {log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        raise SystemExit(f"the server did not respond within 300 s; see {log_path}")

    def pids(self):
        """Return the master's pid and its workers' pids."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return self.process.pid, [int(pid) for pid in children]

    def stop(self):
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=60)
        self.log.close()


def percentiles(latencies_ms):
    values = np.asarray(latencies_ms)
    return float(np.median(values)), float(np.percentile(values, 99))


def run_hey_pool(urls, rate, seconds, method="GET", body=None):
    """Hold ``rate`` requests/s spread over ``urls`` with one hey process per URL; return the pooled figures."""
    per_url = rate / len(urls)
    workers = max(1, round(per_url / HEY_WORKER_RATE))
    arguments = ["-z", f"{seconds}s", "-c", str(workers), "-q", f"{per_url / workers:g}", "-o", "csv", "-t", "10"]
    if body is not None:
        arguments += ["-m", method, "-T", "application/json", "-d", json.dumps(body)]
    processes = [subprocess.Popen(["hey", *arguments, url], stdout=subprocess.PIPE, text=True) for url in urls]
    outputs = [process.communicate()[0] for process in processes]

    latencies, failures = [], 0
    for output in outputs:
        for row in csv.DictReader(io.StringIO(output)):
            latencies.append(float(row["response-time"]) * 1000)
            failures += row["status-code"] != "200"
    median, p99 = percentiles(latencies)
    achieved = len(latencies) / seconds
    return {"target": rate, "achieved": achieved, "requests": len(latencies), "failures": failures, "median_ms": median, "p99_ms": p99}


def run_wrk(url, script, seconds, connections=16):
    """Run wrk with a Lua ``script``; return requests/s, latency percentiles and errors."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        output = subprocess.run(
            ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency", "-s", handle.name, url],
            capture_output=True, text=True, check=True,
        ).stdout
    finally:
        os.unlink(handle.name)

    figures = {"non_2xx": 0, "socket_errors": 0}
    for line in output.splitlines():
        words = line.split()
        if line.startswith("Requests/sec:"):
            figures["requests_per_second"] = float(words[1])
        elif len(words) == 2 and words[0] in ("50%", "99%"):
            figures[f"p{words[0][:-1]}_ms"] = _wrk_milliseconds(words[1])
        elif line.strip().startswith("Non-2xx"):
            figures["non_2xx"] = int(words[-1])
        elif line.strip().startswith("Socket errors"):
            figures["socket_errors"] = sum(int(part.split()[-1]) for part in line.split(":", 1)[1].split(","))
    return figures


def _wrk_milliseconds(text):
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    raise ValueError(f"unexpected wrk latency {text!r}")


def users_script(user_ids):
    ids = ",".join(str(user_id) for user_id in user_ids)
    return (
        f"local ids = {{{ids}}}\n"
        "math.randomseed(12345)\n"
        "request = function()\n"
        '  return wrk.format("GET", "/users/" .. ids[math.random(#ids)] .. "/recommendations?n=10")\n'
        "end\n"
    )


def cold_start_script():
    body = json.dumps(COLD_START_BODY).replace("\\", "\\\\").replace('"', '\\"')
    return f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = "{body}"\n'


def memory_of(pid):
    """Return (RSS, PSS, USS) of a process in MiB from /proc/<pid>/smaps_rollup."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0]) / 1024
    return fields["Rss"], fields["Pss"], fields["Private_Clean"] + fields["Private_Dirty"]


def model_memory(model_dir):
    """Return the resident MiB that loading, warming up and reading every array of the model adds to a fresh process."""
    code = (
        "import numpy\n"
        "from pathlib import Path\n"
        "from hybrid.model import HybridRecommender\n"
        "def rss():\n"
        "    return int(Path('/proc/self/status').read_text().split('VmRSS:')[1].split()[0]) / 1024\n"
        "before = rss()\n"
        f"model = HybridRecommender.load({str(model_dir)!r}).warm_up()\n"
        "for array in (model.als.item_factors_, model.als.user_factors_, model.mf.item_factors_, model.mf.user_factors_,\n"
        "              model.user_items.data, model.user_items.indices, model.rating_times, model.content.item_matrix_.data):\n"
        "    float(numpy.asarray(array).sum())\n"
        "print(rss() - before)\n"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPOSITORY).stdout
    return float(output.split()[-1])


def measure_memory(model_dir, workers, log_path, user_ids, seconds):
    server = Server(model_dir, workers, log_path)
    try:
        # Traffic on every route that reads the model, so each worker touches its pages.
        run_wrk(server.url, users_script(user_ids), seconds, connections=4)
        run_wrk(f"{server.url}/recommendations", cold_start_script(), max(1, seconds // 2), connections=4)
        master, worker_pids = server.pids()
        master_memory = memory_of(master)
        worker_memory = [memory_of(pid) for pid in worker_pids]
    finally:
        server.stop()
    return {
        "workers": workers,
        "total_pss": master_memory[1] + sum(memory[1] for memory in worker_memory),
        "master_rss": master_memory[0],
        "worker_rss": statistics.mean(memory[0] for memory in worker_memory),
        "worker_uss": statistics.mean(memory[2] for memory in worker_memory),
    }


def spread_users(model_dir):
    """Return every user id and five users at the 10th to 90th percentile of rating counts."""
    from hybrid.model import HybridRecommender

    model = HybridRecommender.load(model_dir)
    counts = np.diff(model.user_items.indptr)
    order = np.argsort(counts, kind="stable")
    chosen = [int(model.users.ids[order[int(q * (len(order) - 1))]]) for q in (0.1, 0.3, 0.5, 0.7, 0.9)]
    return model.users.ids.tolist(), chosen, [int(counts[order[int(q * (len(order) - 1))]]) for q in (0.1, 0.3, 0.5, 0.7, 0.9)]


def write_section(path, text):
    """Replace the text between this benchmark's markers in ``path``, adding the markers when missing."""
    start, end = f"<!-- {MARKER}:start -->", f"<!-- {MARKER}:end -->"
    document = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    section = f"{start}\n{text.rstrip()}\n{end}"
    if start in document and end in document:
        before, rest = document.split(start, 1)
        document = before + section + rest.split(end, 1)[1]
    else:
        document = document.rstrip() + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document, encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Run each step for a few seconds only.")
    parser.add_argument("--output", type=Path, default=REPOSITORY / "docs" / "benchmarks.md", help="Markdown file to update.")
    arguments = parser.parse_args()
    for tool in ("wrk", "hey"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed; install the load generators with: apt-get install wrk hey")

    fixed_seconds, wrk_seconds, memory_seconds = (5, 5, 2) if arguments.quick else (20, 15, 4)
    work = Path(tempfile.mkdtemp(prefix="serving-benchmark-"))
    model_dir = work / "model"
    log_path = work / "server.log"
    results = {"machine": machine()}
    try:
        started = time.monotonic()
        server = Server(model_dir, 2, log_path)
        results["start_seconds"] = time.monotonic() - started
        all_users, spread, spread_counts = spread_users(model_dir)
        results["spread"] = list(zip(spread, spread_counts))
        results["user_count"] = len(all_users)
        try:
            urls = [f"{server.url}/users/{user_id}/recommendations?n=10" for user_id in spread]
            results["fixed"] = [run_hey_pool(urls, rate, fixed_seconds) for rate in FIXED_RATES]
            results["saturation"] = run_wrk(server.url, users_script(all_users), wrk_seconds)
            cold_url = [f"{server.url}/recommendations"]
            results["cold_fixed"] = run_hey_pool(cold_url, COLD_START_RATE, fixed_seconds, method="POST", body=COLD_START_BODY)
            results["cold_saturation"] = run_wrk(f"{server.url}/recommendations", cold_start_script(), wrk_seconds)
        finally:
            server.stop()

        results["model_mib"] = model_memory(model_dir)
        results["bundle_mib"] = sum(path.stat().st_size for path in model_dir.rglob("*") if path.is_file()) / 2**20
        results["memory"] = [measure_memory(model_dir, workers, log_path, all_users, memory_seconds) for workers in (1, 4)]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    text = report(results, quick=arguments.quick)
    print(text)
    write_section(arguments.output, text)
    print(f"wrote the {MARKER} section of {arguments.output}")


def report(results, *, quick):
    sustained = [step["target"] for step in results["fixed"] if step["achieved"] >= 0.98 * step["target"] and step["p99_ms"] <= SUSTAINED_P99_MS]
    one, four = results["memory"]
    per_worker = (four["total_pss"] - one["total_pss"]) / 3
    users = ", ".join(f"{user_id} ({count} ratings)" for user_id, count in results["spread"])

    lines = [
        "## Serving",
        "",
        f"`python benchmarks/serving.py{' --quick' if quick else ''}` on {results['machine']}. The server is",
        "`true-recommend serve` with 2 sync workers on an empty model directory (it trained on the bundled",
        f"ml-latest-small first and answered after {results['start_seconds']:.0f} s); the load generator ran on the same",
        "two cores. Latency is measured by the client, from connecting to the last byte, because the",
        "sync workers close each connection.",
        "",
        f"`GET /users/<id>/recommendations?n=10` at fixed rates (hey, users {users}):",
        "",
        "| target rate | achieved | median | p99 | failed |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for step in results["fixed"]:
        lines.append(
            f"| {step['target']:,} /s | {step['achieved']:,.0f} /s | {step['median_ms']:.2f} ms | {step['p99_ms']:.2f} ms | {step['failures']} |"
        )

    saturation = results["saturation"]
    cold_fixed, cold_saturation = results["cold_fixed"], results["cold_saturation"]
    lines += [
        "",
        f"Highest fixed rate sustained (98% reached, p99 <= {SUSTAINED_P99_MS:g} ms): "
        + (f"{max(sustained):,} requests/s." if sustained else "none of the rates above."),
        f"At saturation (wrk, 16 connections, a random one of all {results['user_count']} users per request): "
        f"{saturation['requests_per_second']:,.0f} requests/s, median {saturation['p50_ms']:.2f} ms, p99 {saturation['p99_ms']:.2f} ms, "
        f"{saturation['non_2xx']} non-2xx, {saturation['socket_errors']} socket errors.",
        "",
        f"`POST /recommendations` with 5 ratings: at {COLD_START_RATE} requests/s median {cold_fixed['median_ms']:.2f} ms, "
        f"p99 {cold_fixed['p99_ms']:.2f} ms ({cold_fixed['failures']} failed); at saturation "
        f"{cold_saturation['requests_per_second']:,.0f} requests/s, median {cold_saturation['p50_ms']:.2f} ms.",
        "",
        f"Memory: the model takes {results['model_mib']:.0f} MiB in one process (loaded, warmed up, every array read;",
        f"the bundle is {results['bundle_mib']:.0f} MiB on disk).",
        "",
        "| workers | PSS of master and workers | RSS of a worker | private (USS) of a worker |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for step in results["memory"]:
        lines.append(f"| {step['workers']} | {step['total_pss']:.0f} MiB | {step['worker_rss']:.0f} MiB | {step['worker_uss']:.0f} MiB |")

    lines += [
        "",
        f"Each worker beyond the first adds {per_worker:.0f} MiB of PSS, {per_worker / results['model_mib']:.2f} times the model's",
        "memory in one process: the workers share the model's pages with the master.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
