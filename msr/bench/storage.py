"""Where bench results live: the results store, ``<root>/bench/performance/<hash>.json``,
keyed by the hardware and the mode (``{"hardware": slug, "quick": bool}``); ``root`` is
the results root (``$MSR_RESULTS`` or ``results``), as for every other result."""
from __future__ import annotations

import os
from pathlib import Path

from msr.results import ResultsStore, default_root

#: The results store's folder of bench results: ``<root>/bench/performance/``.
PROFILE, EXPERIMENT = "bench", "performance"


def store_config(result: dict) -> dict:
    """The results-store key of a bench result: hardware and mode."""
    return {"hardware": result["environment"]["hardware_slug"], "quick": bool(result["quick"])}


def _store(root: str | os.PathLike | None) -> ResultsStore:
    return ResultsStore(default_root() if root is None else Path(root))


def store_result(result: dict, root: str | os.PathLike | None = None) -> Path:
    """Store ``result`` (atomically) under the results root ``root``; returns the file."""
    return _store(root).put(PROFILE, EXPERIMENT, store_config(result), result)


def load_results(root: str | os.PathLike | None = None, include_quick: bool = False) -> dict[str, dict]:
    """The stored full-mode results (and quick ones if asked) by hardware slug, the newest
    per hardware (for the book's Performance chapter)."""
    found = [r for r in _store(root).list(PROFILE, EXPERIMENT) if include_quick or not r["quick"]]
    return {r["config"]["hardware"]: r for r in sorted(found, key=lambda r: r["provenance"]["date_utc"])}


def best_jobs(device: str | None = None, root: str | os.PathLike | None = None) -> tuple[int, float] | None:
    """How many runs at once trained fastest on this device's hardware: the N and the images/s
    of the best ``ok`` row of "runs trained at once" (:func:`msr.bench.loop.bench_jobs`) in the
    newest full-mode bench stored for that hardware; None where no stored bench measured it.
    ``scripts/gpu_run.sh`` takes its ``JOBS`` from here unless told."""
    from msr.provenance import hardware_slug

    result = load_results(root).get(hardware_slug(device))
    rows = [r for r in (result or {}).get("jobs", []) if r.get("status") == "ok" and r.get("images_per_s")]
    if not rows:
        return None
    best = max(rows, key=lambda r: r["images_per_s"])
    return int(best["jobs"]), float(best["images_per_s"])
