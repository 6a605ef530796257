"""The results store: small JSON (+ NPZ) files keyed by a hash of the full config.

``results/<profile>/<experiment>/<hash>.json`` holds ``{"config", "hash",
"provenance", **payload}``; arrays go to ``<hash>.npz`` beside it.  Every write is
atomic (a temp file unique to the process in the same folder, then ``os.replace``),
so concurrent runs never clobber each other and a killed run never leaves a
half-written file.  Checkpoints (``runs/``) use the same atomic writes and are read
with ``torch.load(..., weights_only=True)``: nothing but tensors and plain
containers is ever unpickled.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch

RESULTS_ENV = "MSR_RESULTS"


class CheckpointError(ValueError):
    """A checkpoint file exists but cannot be read; the file is left untouched."""


def default_root() -> Path:
    """``$MSR_RESULTS`` or ``results``."""
    return Path(os.environ.get(RESULTS_ENV, "results"))


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, torch.Tensor) and obj.numel() == 1:
        return obj.item()
    return obj


def canonical_json(config: dict) -> str:
    """Sorted keys, no whitespace, tuples as lists: the text that is hashed."""
    return json.dumps(_jsonable(config), sort_keys=True, separators=(",", ":"), allow_nan=True)


def config_hash(config: dict) -> str:
    """sha256 of the canonical JSON of ``config``, first 16 hex characters."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:16]


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: str | torch.device | None = None) -> str:
    """CUDA device name, or the CPU model."""
    dev = torch.device(device) if device is not None else None
    if (dev is None or dev.type == "cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(dev if dev is not None and dev.index is not None else None)
    return cpu_model()


def provenance(device: str | torch.device | None = None) -> dict:
    """Where and with what a result was computed (no host name)."""
    commit = _git("rev-parse", "HEAD")
    # dirty = tracked code differs from the commit; generated results and figures do not count
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ":(top)",
                  ":(top,exclude)results", ":(top,exclude)figures")
    return {
        "git_commit": commit,
        "git_dirty": bool(status) if status is not None else None,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": device_name(device),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def atomic_write_bytes(path: Path, write: Callable[[object], None], suffix: str = ".tmp") -> Path:
    """Call ``write(file)`` on a temp file next to ``path``, then ``os.replace`` it in."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def atomic_write_json(path: Path, obj: dict) -> Path:
    text = json.dumps(_jsonable(obj), indent=1, sort_keys=False, allow_nan=True).encode()
    return atomic_write_bytes(path, lambda f: f.write(text))


def save_checkpoint(path: Path, state: dict) -> Path:
    """Atomic ``torch.save`` of tensors and plain containers."""
    return atomic_write_bytes(path, lambda f: torch.save(state, f))


def load_checkpoint(path: Path, map_location="cpu") -> dict:
    """``torch.load(weights_only=True)``; a damaged file raises :class:`CheckpointError` naming it."""
    path = Path(path)
    try:
        with warnings.catch_warnings():  # a damaged file may look like an odd pickle protocol
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # noqa: BLE001 - any unpickling failure means a bad file
        raise CheckpointError(
            f"checkpoint {path} is corrupt or not a msr checkpoint ({type(err).__name__}: {str(err)[:120]}); "
            f"it was left as it is: delete it or rerun with --force to start this run afresh"
        ) from err
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, not a dict; it was left as it is")
    return state


class ResultsStore:
    """``results/<profile>/<experiment>/<hash>.json`` (+ ``.npz``), written atomically."""

    def __init__(self, root: str | Path = "results"):
        self.root = Path(root)

    def path(self, profile: str, experiment: str, config: dict) -> Path:
        for name, value in (("profile", profile), ("experiment", experiment)):
            if not value or "/" in value or value.startswith("."):
                raise ValueError(f"{name} must be a plain folder name, got {value!r}")
        return self.root / profile / experiment / f"{config_hash(config)}.json"

    def get(self, profile: str, experiment: str, config: dict) -> dict | None:
        path = self.path(profile, experiment, config)
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"result file {path} is not valid JSON ({err}); delete it to recompute") from err

    def put(self, profile: str, experiment: str, config: dict, payload: dict, *,
            arrays: dict[str, np.ndarray] | None = None, device=None) -> Path:
        path = self.path(profile, experiment, config)
        record = {"config": _jsonable(config), "hash": config_hash(config)}
        record["provenance"] = payload.get("provenance") or provenance(device)
        record.update({k: v for k, v in payload.items() if k not in ("config", "hash", "provenance")})
        if arrays is not None:  # arrays first: a JSON file always has its arrays beside it
            arrs = {k: np.asarray(v) for k, v in arrays.items()}
            atomic_write_bytes(path.with_suffix(".npz"), lambda f: np.savez(f, **arrs))
        return atomic_write_json(path, record)

    def get_arrays(self, profile: str, experiment: str, config: dict) -> dict[str, np.ndarray] | None:
        path = self.path(profile, experiment, config).with_suffix(".npz")
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def list(self, profile: str, experiment: str) -> list[dict]:
        folder = self.root / profile / experiment
        out = []
        for p in sorted(folder.glob("*.json")):
            try:
                out.append(json.loads(p.read_text()))
            except json.JSONDecodeError:
                continue
        return out

    def get_or_compute(self, profile: str, experiment: str, config: dict,
                       compute: Callable[[], dict | tuple[dict, dict]], *,
                       recompute: bool = False, device=None) -> dict:
        """The stored payload, or ``compute()`` (payload or ``(payload, arrays)``) stored first."""
        if not recompute:
            found = self.get(profile, experiment, config)
            if found is not None:
                return found
        prov = provenance(device)  # the code as it was when the computation started
        start = time.perf_counter()
        out = compute()
        payload, arrays = out if isinstance(out, tuple) else (out, None)
        payload = dict(payload)
        payload.setdefault("wall_time_s", time.perf_counter() - start)
        payload["provenance"] = {**prov, "wall_time_s": payload["wall_time_s"]}
        self.put(profile, experiment, config, payload, arrays=arrays)
        return self.get(profile, experiment, config)


__all__ = [
    "CheckpointError", "ResultsStore", "atomic_write_bytes", "atomic_write_json", "config_hash", "cpu_model",
    "default_root", "device_name", "load_checkpoint", "provenance", "save_checkpoint",
]
