"""What every benchmark shares about its child processes: one thread, and memory.

Each measurement runs in a fresh child process, so that one-off costs (imports, numba
compilation, Torch's first call) and peak memory belong to that measurement alone.
``run_child`` starts it with one thread per numerical library and reads its result
from the last line that carries ``mark``; the memory readers work inside the child.
"""

import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time

#: Set to 1 in every child (before numpy / torch / numba load), so methods compare on
#: one core each.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


def one_thread_environment():
    """``os.environ`` with every variable of ``THREAD_VARIABLES`` set to 1."""
    return dict(os.environ, **{name: "1" for name in THREAD_VARIABLES})


def run_child(command, mark, timeout=None):
    """Run ``command`` on one thread; return ``(result, wall seconds)``.

    ``result`` is the JSON after ``mark`` on the child's last such line of output, or
    ``{"error": ...}`` with the child's exit code and the end of its standard error.
    """
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command, env=one_thread_environment(), capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}, time.perf_counter() - start
    wall = time.perf_counter() - start
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(mark):
            return json.loads(line[len(mark) :]), wall
    return {"error": f"child exited {done.returncode}: {done.stderr[-2000:]}"}, wall


def _proc_status_mb(field):
    """A memory field of /proc/self/status in MB (Linux); None where unavailable."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def rss_mb():
    """Current resident memory in MB."""
    return _proc_status_mb("VmRSS")


def reset_peak_rss():
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS; False if not possible.

    ``ru_maxrss`` alone would not do: after fork + exec it starts at the parent's peak,
    and it cannot be reset between seeds.
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb():
    """Peak resident memory since the last reset (VmHWM), else ru_maxrss."""
    peak = _proc_status_mb("VmHWM")
    if peak is not None:
        return peak
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KB else


class RssSampler:
    """Resident memory sampled every ``interval`` seconds by a thread, while in the block.

    ``peak(start, end)`` is the largest sample between two ``time.perf_counter()``
    readings: the peak of one step of a call that times its steps itself (a step
    shorter than the interval may hold no sample: None).
    """

    def __init__(self, interval=0.005):
        self.interval, self.samples = interval, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), rss_mb()))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()

    def peak(self, start, end):
        inside = [rss for when, rss in self.samples if start <= when <= end and rss is not None]
        return max(inside) if inside else None


def compile_pynndescent(X, metric="auto", rows=2000):
    """Pay PyNNDescent's numba compilation (once per process) on ``rows`` rows; its seconds.

    Through skssl's own approximate miner, so that the same functions compile (or load
    from numba's cache) as in a fit that mines approximately.
    """
    from skssl._graph.mining import mine_neighbors, resolve_metric

    start = time.perf_counter()
    metric = resolve_metric(metric, X.shape[1])
    mine_neighbors(X[:rows], 15, metric=metric, method="approximate", random_state=0)
    return time.perf_counter() - start


def cpu_model():
    """The CPU's model name (Linux), else what ``platform`` says."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
