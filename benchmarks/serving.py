"""Load-test the HTTP server: latency at fixed rates, maximum throughput and memory per worker.

Run from the repository root with one command::

    python benchmarks/serving.py            # about 3 minutes
    python benchmarks/serving.py --quick    # shorter runs, for a first look

It needs the load generator wrk from Debian's packages (``apt-get install
wrk``) and runs everything over 127.0.0.1:

1. It starts the server as README.md describes, ``true-recommend serve``
   with 2 workers on a free port, on an empty model directory, so the
   server first trains on the bundled ml-latest-small.
2. Fixed rates: wrk sends ``GET /users/<id>/recommendations?n=10`` for a
   random user at 1,000, 1,500 and 2,000 requests/s. wrk itself cannot hold
   a rate and Debian has no wrk2, so a Lua script paces it: each request
   gets the next slot of the schedule, read from the monotonic clock through
   LuaJIT's FFI, and waits for it. A request whose slot has passed because
   every connection was busy goes out at once and is counted as late; its
   measured latency then leaves out the wait, so the late count is printed
   beside the percentiles. A rate counts as sustained when wrk reached 98%
   of it, at most 1% of the requests were late and the 99th percentile
   stayed at or below 10 ms.
3. Saturation: wrk with 16 connections asks for a random user per request
   as fast as the server responds.
4. Cold start: ``POST /recommendations`` with 5 ratings at 200 requests/s,
   then at saturation.
5. Memory: servers with 1 and with 4 workers, after traffic, summed from
   ``/proc/<pid>/smaps_rollup`` (PSS shares each shared page among the
   processes that map it, USS counts a process's private pages), against
   the memory the model takes in one process.

wrk runs on the same machine as the server and takes CPU from it: about
0.1 ms per request here, where hey, Debian's other load generator that can
hold a rate, took about 0.4 ms. The script prints the figures and writes them into
docs/benchmarks.md between the ``serving`` markers.
"""

import argparse
import json
import os
import platform
import resource
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


REPOSITORY = Path(__file__).resolve().parent.parent
MARKER = "serving"
FIXED_RATES = (1000, 1500, 2000)
SUSTAINED_P99_MS = 10.0
SUSTAINED_LATE_SHARE = 0.01
PACED_CONNECTIONS = 16
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
        f"gunicorn {gunicorn.__version__}, {wrk}"
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


# Paces wrk: ``delay`` runs before each request and returns the milliseconds
# until that request's slot. It is appended to a script that defines
# ``request`` or sets ``wrk.method`` and ``wrk.body``.
PACING = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } pacing_timespec;
int clock_gettime(int clock_id, pacing_timespec *tp);
]]
local clock = ffi.new("pacing_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end
local interval = 1000 / RATE
local next_slot = nil
late = 0
max_lag_ms = 0
delay = function()
  local now = now_ms()
  if next_slot == nil then next_slot = now end
  next_slot = next_slot + interval
  local wait = next_slot - now
  if wait < 0 then
    late = late + 1
    if -wait > max_lag_ms then max_lag_ms = -wait end
    return 0
  end
  return math.floor(wait)
end
"""

# Prints what wrk's summary leaves out: more percentiles and the late sends.
REPORT = """
local threads = {}
setup = function(thread) table.insert(threads, thread) end
done = function(summary, latency, requests)
  local late, lag = 0, 0
  for _, thread in ipairs(threads) do
    late = late + (thread:get("late") or 0)
    lag = math.max(lag, thread:get("max_lag_ms") or 0)
  end
  io.write(string.format("figures: requests=%d seconds=%.3f errors=%d late=%d max_lag_ms=%.3f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f\\n",
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout,
    late, lag, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency:percentile(99.9) / 1000))
end
"""


def cpu_seconds(pids):
    """Return the user plus system CPU seconds that the processes ``pids`` have used."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def run_wrk(url, script, seconds, connections=16, rate=None, server=None):
    """Run wrk with a Lua ``script``, paced to ``rate`` requests/s when given; return its figures.

    With ``server``, the figures also hold the CPU seconds per request of
    the server's processes and of wrk.
    """
    text = script + (f"RATE = {rate}\n" + PACING if rate else "") + REPORT
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(text)
    pids = [] if server is None else [server.pids()[0], *server.pids()[1]]
    server_before = cpu_seconds(pids)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        output = subprocess.run(
            ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "-s", handle.name, url],
            capture_output=True, text=True, check=True,
        ).stdout
    finally:
        os.unlink(handle.name)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = cpu_seconds(pids) - server_before

    line = next(line for line in output.splitlines() if line.startswith("figures: "))
    figures = {key: float(value) for key, value in (pair.split("=") for pair in line[len("figures: "):].split())}
    figures["rate"] = figures["requests"] / figures["seconds"]
    figures["target"] = rate
    wrk_cpu = (children_after.ru_utime - children_before.ru_utime) + (children_after.ru_stime - children_before.ru_stime)
    figures["server_cpu_ms"] = server_cpu / figures["requests"] * 1000
    figures["wrk_cpu_ms"] = wrk_cpu / figures["requests"] * 1000
    return figures


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


def user_ids_of(model_dir):
    """Return every user id of the published model."""
    from hybrid.model import HybridRecommender

    return HybridRecommender.load(model_dir).users.ids.tolist()


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
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed; install the load generator with: apt-get install wrk")

    fixed_seconds, wrk_seconds, memory_seconds = (5, 5, 2) if arguments.quick else (20, 15, 4)
    work = Path(tempfile.mkdtemp(prefix="serving-benchmark-"))
    model_dir = work / "model"
    log_path = work / "server.log"
    results = {"machine": machine(), "load_before": os.getloadavg()[0]}
    try:
        started = time.monotonic()
        server = Server(model_dir, 2, log_path)
        results["start_seconds"] = time.monotonic() - started
        all_users = user_ids_of(model_dir)
        results["user_count"] = len(all_users)
        try:
            users = users_script(all_users)
            results["fixed"] = [
                run_wrk(server.url, users, fixed_seconds, connections=PACED_CONNECTIONS, rate=rate) for rate in FIXED_RATES
            ]
            results["saturation"] = run_wrk(server.url, users, wrk_seconds, server=server)
            cold_url = f"{server.url}/recommendations"
            results["cold_fixed"] = run_wrk(cold_url, cold_start_script(), fixed_seconds, connections=PACED_CONNECTIONS, rate=COLD_START_RATE)
            results["cold_saturation"] = run_wrk(cold_url, cold_start_script(), wrk_seconds, server=server)
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


def sustained(step):
    """Return whether a paced run held its rate: 98% reached, few late sends, p99 within the target."""
    return (
        step["rate"] >= 0.98 * step["target"]
        and step["late"] <= SUSTAINED_LATE_SHARE * step["requests"]
        and step["p99_ms"] <= SUSTAINED_P99_MS
    )


def report(results, *, quick):
    held = [step["target"] for step in results["fixed"] if sustained(step)]
    one, four = results["memory"]
    per_worker = (four["total_pss"] - one["total_pss"]) / 3

    lines = [
        "## Serving",
        "",
        f"`python benchmarks/serving.py{' --quick' if quick else ''}` on {results['machine']}.",
        "The server is `true-recommend serve` with 2 sync workers on an empty model directory: it",
        f"trained on the bundled ml-latest-small first and responded after {results['start_seconds']:.0f} s, and it",
        "reads the default SQLite ratings store (empty) on each request. wrk ran on the same two",
        "cores, paced by a Lua script for the fixed rates. Latency is measured from the moment wrk",
        "sends the request to the last byte of the response; the sync workers close each",
        "connection, so each request also opens one. The 1-minute load average just before the run",
        f"was {results['load_before']:.1f}: other processes that use the cores during the run lower these figures.",
        "",
        f"`GET /users/<id>/recommendations?n=10`, a random one of the {results['user_count']} users per request:",
        "",
        "| target rate | achieved | median | p90 | p99 | p99.9 | late sends | errors |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for step in results["fixed"]:
        lines.append(
            f"| {step['target']:,} /s | {step['rate']:,.0f} /s | {step['p50_ms']:.2f} ms | {step['p90_ms']:.2f} ms | "
            f"{step['p99_ms']:.2f} ms | {step['p999_ms']:.2f} ms | {step['late']:.0f} | {step['errors']:.0f} |"
        )

    saturation = results["saturation"]
    cold_fixed, cold_saturation = results["cold_fixed"], results["cold_saturation"]
    lines += [
        "",
        f"Highest fixed rate sustained (98% reached, at most {SUSTAINED_LATE_SHARE:.0%} late, p99 <= {SUSTAINED_P99_MS:g} ms): "
        + (f"{max(held):,} requests/s." if held else "none of the rates above."),
        f"At saturation (16 connections): {saturation['rate']:,.0f} requests/s, median {saturation['p50_ms']:.2f} ms, "
        f"p99 {saturation['p99_ms']:.2f} ms, {saturation['errors']:.0f} errors.",
        f"The server's processes used {saturation['server_cpu_ms']:.2f} ms of CPU per request and wrk "
        f"{saturation['wrk_cpu_ms']:.2f} ms, so two cores with",
        f"nothing else to run could serve about {2000 / (saturation['server_cpu_ms'] + saturation['wrk_cpu_ms']):,.0f} "
        "requests/s (an estimate from CPU time, not a measured rate).",
        "",
        f"`POST /recommendations` with 5 ratings: at {COLD_START_RATE} requests/s median {cold_fixed['p50_ms']:.2f} ms, "
        f"p99 {cold_fixed['p99_ms']:.2f} ms ({cold_fixed['late']:.0f} late, {cold_fixed['errors']:.0f} errors); at saturation "
        f"{cold_saturation['rate']:,.0f} requests/s, median {cold_saturation['p50_ms']:.2f} ms, "
        f"{cold_saturation['server_cpu_ms']:.2f} ms of server CPU per request.",
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
