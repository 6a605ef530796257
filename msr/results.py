"""The results store: small JSON (+ NPZ) files keyed by a hash of the full config.

``results/<profile>/<experiment>/<hash>.json`` holds ``{"config", "hash",
"provenance", **payload}`` (provenance: :mod:`msr.provenance`); arrays go to
``<hash>.npz`` beside it (the JSON holds their sha256, so arrays torn from their
result by a kill are detected).  Every write is
atomic (a temp file unique to the process in the same folder, then ``os.replace``),
so concurrent runs never clobber each other and a killed run never leaves a
half-written file (the temp files of a killed writer are removed by the next write
of the same file, once their process is gone).  Results are validated on read: a file
that is not a msr result raises :class:`ResultError` naming it.  Checkpoints (``runs/``)
use the same atomic writes and are read with ``torch.load(..., weights_only=True)``:
nothing but tensors and plain containers is ever unpickled.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from msr.provenance import provenance

RESULTS_ENV = "MSR_RESULTS"


class CheckpointError(ValueError):
    """A checkpoint file exists but cannot be read; the file is left untouched."""


class ResultError(ValueError):
    """A result file exists but is not a msr result; the file is left untouched."""


class IncompleteInputs(ValueError):
    """An analysis could not load every trained model it was asked for; nothing was stored."""


#: Keys every stored result has (written by :meth:`ResultsStore.put`).
RESULT_KEYS = ("config", "hash", "provenance")


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


def check_writable_dir(path: str | Path, what: str) -> Path:
    """Raise a one-line ``ValueError`` unless ``path`` is (or can be created as) a writable
    directory; ``what`` names where it came from (``--results``).  Creates nothing."""
    path = Path(path)
    probe = path
    while not probe.exists() and probe != probe.parent:  # nearest existing ancestor
        probe = probe.parent
    if not probe.is_dir():
        where = "is a file" if probe == path else f"cannot be created: {probe} is a file"
        raise ValueError(f"{what} '{path}' {where}, not a directory; give a writable directory")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as err:
        where = "" if probe == path else f" (it would be created in {probe})"
        raise ValueError(f"{what} '{path}' is not writable{where}: {err.strerror or err}; fix its permissions "
                         f"or give another directory") from None
    return path


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.tmp$")


def remove_stale_temps(folder: str | Path, name: str | None = None) -> list[Path]:
    """Delete the temp files of :func:`atomic_write_bytes` in ``folder`` (for target file
    ``name``, or all) whose writing process is gone (killed mid-write); returns them."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for p in folder.glob(f".{name}.*.tmp" if name else ".*.tmp"):
        m = _TEMP.match(p.name)
        if m and (name is None or m["name"] == name) and not pid_alive(int(m["pid"])):
            try:
                p.unlink()
                removed.append(p)
            except FileNotFoundError:
                pass
    return removed


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
    except Exception as err:  # any unpickling failure means a bad file
        raise CheckpointError(
            f"checkpoint {path} is corrupt or not a msr checkpoint ({type(err).__name__}: {str(err)[:120]}); "
            f"it was left as it is: delete it or rerun with --force to start this run afresh"
        ) from err
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(state).__name__}, not a dict; it was left as it is")
    return state


_WHAT_TO_DO = ("it was left as it is: delete it, or compute it again with --recompute (msr compute, "
               "msr reproduce) or --force (msr train, msr sweep)")


def read_result(path: str | Path) -> dict:
    """A stored result, validated: UTF-8 JSON, an object with the keys of a result
    (:data:`RESULT_KEYS`) whose hash is the file's name; else :class:`ResultError` naming the file."""
    path = Path(path)
    try:
        rec = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise ResultError(f"result file {path} is not UTF-8 text; {_WHAT_TO_DO}") from None
    except json.JSONDecodeError as err:
        raise ResultError(f"result file {path} is not valid JSON ({err}); {_WHAT_TO_DO}") from None
    if not isinstance(rec, dict):
        raise ResultError(f"result file {path} holds a JSON {type(rec).__name__}, not a result object; {_WHAT_TO_DO}")
    missing = [k for k in RESULT_KEYS if k not in rec]
    if missing:
        raise ResultError(f"result file {path} lacks the key(s) {', '.join(missing)} of a result; {_WHAT_TO_DO}")
    if rec["hash"] != path.stem:
        raise ResultError(f"result file {path} holds the result of another config (hash {rec['hash']!r}); "
                          f"{_WHAT_TO_DO}")
    return rec


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
        return read_result(path)

    def put(self, profile: str, experiment: str, config: dict, payload: dict, *,
            arrays: dict[str, np.ndarray] | None = None, device=None) -> Path:
        path = self.path(profile, experiment, config)
        npz = path.with_suffix(".npz")
        for name in (path.name, npz.name):  # left by a writer killed mid-write
            remove_stale_temps(path.parent, name)
        record = {"config": _jsonable(config), "hash": config_hash(config)}
        record["provenance"] = payload.get("provenance") or provenance(device)
        record.update({k: v for k, v in payload.items() if k not in ("config", "hash", "provenance", "arrays_sha256")})
        if arrays is not None:  # arrays first; the JSON names their digest, so a pair torn by a kill is detected
            buf = io.BytesIO()
            np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
            data = buf.getvalue()
            record["arrays_sha256"] = hashlib.sha256(data).hexdigest()
            atomic_write_bytes(npz, lambda f: f.write(data))
        else:
            npz.unlink(missing_ok=True)  # arrays of an earlier computation do not belong to this result
        return atomic_write_json(path, record)

    def get_arrays(self, profile: str, experiment: str, config: dict) -> dict[str, np.ndarray] | None:
        """The arrays stored with the result of ``config`` (None: no result, or none stored)."""
        record = self.get(profile, experiment, config)
        path = self.path(profile, experiment, config).with_suffix(".npz")
        if record is None or not path.exists():
            return None
        data = path.read_bytes()
        if record.get("arrays_sha256", hashlib.sha256(data).hexdigest()) != hashlib.sha256(data).hexdigest():
            raise ResultError(f"result arrays {path} do not belong to the result beside them (a write was "
                              f"interrupted); {_WHAT_TO_DO}")
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as arrs:
                return {k: arrs[k] for k in arrs.files}
        except Exception as err:  # noqa: BLE001 - any read failure means a damaged file
            raise ResultError(f"result arrays {path} are unreadable ({type(err).__name__}: {str(err)[:80]}); "
                              f"{_WHAT_TO_DO}") from None

    def list(self, profile: str, experiment: str) -> list[dict]:
        """Every result of ``experiment``; a file that is not a msr result raises :class:`ResultError`."""
        folder = self.root / profile / experiment
        return [read_result(p) for p in sorted(folder.glob("*.json"))]

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
    "CheckpointError", "RESULT_KEYS", "ResultError", "ResultsStore", "atomic_write_bytes", "atomic_write_json",
    "check_writable_dir", "config_hash", "default_root", "load_checkpoint", "pid_alive", "read_result",
    "remove_stale_temps", "save_checkpoint",
]
