"""Where a run lives on disk and who trains it.

A run's folder is ``<run_dir>/<profile>/<experiment>/<hash>/`` (checkpoints and final
weights, :mod:`msr.train`); its claim is ``<hash>.lock`` beside it (:func:`claim_run`),
so that two processes never train the same run.  :func:`resolve_init` finds the weights
a run starts from (two-phase training, Appendix B).
"""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

from msr.config import TrainConfig
from msr.results import pid_alive


class RunClaimed(RuntimeError):
    """Another live process holds the claim on this run (:func:`claim_run` with ``wait=False``)."""




def run_folder(run_dir: str | Path, profile: str, experiment: str, cfg: TrainConfig) -> Path:
    return Path(run_dir) / profile / experiment / cfg.hash()


def claim_path(folder: str | Path) -> Path:
    """The claim (lock) file of run folder ``folder``: ``<hash>.lock`` beside it."""
    folder = Path(folder)
    return folder.parent / f"{folder.name}.lock"


def _claim_holder(lock: Path) -> str:
    try:
        pid = int(lock.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return "another process"
    return f"pid {pid}" + ("" if pid_alive(pid) else " (gone; the lock is being released)")


def _say(message: str) -> None:
    print(message, flush=True)


@contextmanager
def claim_run(folder: str | Path, *, wait: bool = True, log=_say):
    """Hold the claim on run ``folder`` while the block runs; yields whether it had to wait.

    The claim is ``<hash>.lock`` beside the folder, holding the owner's pid, locked
    with ``flock``: the kernel drops the lock when its process ends (also on kill -9),
    so a lock file left by a dead process is stale and the next claimant takes it.
    Held by a live process: ``wait=True`` waits for it (one line through ``log``, a
    callable taking a string; None: silent), ``wait=False`` raises :class:`RunClaimed`
    at once.  The file is removed on release.
    """
    lock = claim_path(folder)
    lock.parent.mkdir(parents=True, exist_ok=True)
    waited = False
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _claim_holder(lock)
                if not wait:
                    raise RunClaimed(f"run {Path(folder).name} is claimed by {holder} ({lock})") from None
                if not waited and log is not None:
                    log(f"run {Path(folder).name} is being trained by {holder} ({lock}); waiting for it")
                waited = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:  # the previous holder may have removed the file while we waited: then claim the new one
                if os.fstat(fd).st_ino == os.stat(lock).st_ino:
                    break
            except FileNotFoundError:
                pass
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield waited
    finally:
        try:
            os.unlink(lock)
        except FileNotFoundError:
            pass
        os.close(fd)


def resolve_init(init_from: str, run_dir: str | Path) -> Path:
    """``hash:<16 hex>`` -> that run's ``model.pt`` under ``run_dir``; else a file path."""
    if init_from.startswith("hash:"):
        h = init_from[5:]
        found = sorted(Path(run_dir).glob(f"*/*/{h}/model.pt"))
        if not found:
            raise ValueError(f"init_from {init_from}: no finished run {h} under {run_dir}/*/*/ "
                             f"(train the first phase first)")
        return found[0]
    path = Path(init_from)
    if not path.exists():
        raise ValueError(f"init_from: weights file {path} does not exist")
    return path

