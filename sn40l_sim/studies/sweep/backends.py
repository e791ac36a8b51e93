"""Where sweep points run: a local process pool (default) or a Ray cluster, both calling run_point.

A backend takes points with ``submit`` and hands back finished ones with ``wait_one`` in the order
they finish, so the driver can write each at once and feed SLO searches their next probe. The
driver alone writes results; workers only compute and return a row, so killing a worker can never
leave a half-written file.
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from typing import Any, Protocol

from sn40l_sim.errors import InputError
from sn40l_sim.studies.sweep.task import SweepPoint, run_point

Finished = tuple[SweepPoint, dict[str, Any] | None, BaseException | None]


class Backend(Protocol):
    def submit(self, point: SweepPoint) -> None: ...

    def n_running(self) -> int: ...

    def wait_one(self) -> Finished: ...

    def close(self, *, cancel: bool) -> None: ...


PR_SET_PDEATHSIG = 1  # linux/prctl.h
MAX_WORKERS = 256  # each worker is a Python process of ~200 MB
WATCHDOG_PERIOD_S = 0.5


def _die_with_parent(parent_pid: int) -> None:
    """End this worker when the driver dies, however it dies (SIGKILL included).

    A worker orphaned by a killed driver would keep simulating, hold the caller's output pipe
    open (so the caller hangs) and keep its memory. On Linux the kernel sends SIGKILL when the
    parent exits (``PR_SET_PDEATHSIG``); everywhere, a daemon thread also watches the parent's pid
    and exits when the worker has been re-parented.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watchdog below still covers it
    if os.getppid() != parent_pid:  # the driver died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(WATCHDOG_PERIOD_S)
        os._exit(1)

    threading.Thread(target=watch, name="sn40l-parent-watchdog", daemon=True).start()


def _init_worker(parent_pid: int) -> None:
    """Workers leave Ctrl-C and SIGTERM to the driver, which stops them (a terminal or ``kill``
    of the process group signals every process), and die with the driver."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent(parent_pid)


class LocalBackend:
    """``--workers N`` processes on this machine (spawned, so no state leaks from the driver)."""

    def __init__(self, workers: int) -> None:
        if not 1 <= workers <= MAX_WORKERS:
            raise InputError(f"--workers must be from 1 to {MAX_WORKERS}, got {workers}",
                             field="--workers")
        self.pool = cf.ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                                           initargs=(os.getpid(),),
                                           mp_context=multiprocessing.get_context("spawn"))
        self.running: dict[cf.Future[Any], SweepPoint] = {}

    def submit(self, point: SweepPoint) -> None:
        self.running[self.pool.submit(run_point, point)] = point

    def n_running(self) -> int:
        return len(self.running)

    def wait_one(self) -> Finished:
        done, _ = cf.wait(list(self.running), return_when=cf.FIRST_COMPLETED)
        future = min(done, key=lambda f: self.running[f].order)  # deterministic among ties
        point = self.running.pop(future)
        exc = future.exception()
        return point, (None if exc else future.result()), exc

    def close(self, *, cancel: bool) -> None:
        if not cancel:
            self.pool.shutdown(wait=True)
            return
        processes = list(getattr(self.pool, "_processes", {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:  # points still running are abandoned, not waited for
            process.kill()  # workers ignore SIGTERM (left to the driver); SIGKILL cannot be
        for process in processes:
            process.join(timeout=10)


class RayBackend:
    """Points as Ray tasks: on a running cluster (``--ray-address`` / RAY_ADDRESS) or a local one."""

    def __init__(self, address: str | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise InputError("--backend ray needs Ray: pip install 'sn40l-sim[ray]'",
                             field="--backend") from None
        self.ray = ray
        self.owns_ray = not ray.is_initialized()
        if self.owns_ray:
            ray.init(address=address, log_to_driver=False, include_dashboard=False)
        self.task = ray.remote(num_cpus=1, max_retries=0)(run_point)
        self.running: dict[Any, SweepPoint] = {}

    def submit(self, point: SweepPoint) -> None:
        self.running[self.task.remote(point)] = point

    def n_running(self) -> int:
        return len(self.running)

    def wait_one(self) -> Finished:
        ready, _ = self.ray.wait(list(self.running), num_returns=1)
        ref = ready[0]
        point = self.running.pop(ref)
        try:
            return point, self.ray.get(ref), None
        except self.ray.exceptions.RayTaskError as exc:
            return point, None, exc.cause if getattr(exc, "cause", None) else exc
        except self.ray.exceptions.RayError as exc:
            return point, None, exc

    def close(self, *, cancel: bool) -> None:
        if cancel:
            for ref in self.running:
                self.ray.cancel(ref, force=True)
            self.running.clear()
        if self.owns_ray:
            self.ray.shutdown()


def make_backend(name: str, workers: int, ray_address: str | None = None) -> Backend:
    if name == "local":
        return LocalBackend(workers)
    if name == "ray":
        return RayBackend(ray_address)
    raise InputError(f"unknown backend {name!r} (expected 'local' or 'ray')", field="--backend")
