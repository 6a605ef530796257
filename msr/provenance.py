"""Provenance: where, when and with what code a stored result was computed.

One schema for every stored item (the results store, ``msr bench``, the book's captions).
:func:`provenance` returns exactly the keys of :data:`KEYS`:

``git_commit``
    the 40-hex commit of the code that ran; for a copy of the code without git history
    (``git rev-parse HEAD`` prints ``HEAD`` there) the commit named by ``MSR_GIT_COMMIT``
    (7 to 40 hex digits); else ``"unknown"``. Never ``"HEAD"``.
``git_dirty``
    whether tracked code differed from that commit (generated ``results/`` and
    ``figures/`` do not count); ``None`` where git cannot tell.
``device``
    the torch device type that computed it: ``"cpu"`` or ``"cuda"``.
``hardware``
    the hardware in words: the GPU's name, or the CPU model and torch's thread count.
``torch``, ``python``
    their versions.
``date_utc``
    the UTC time the computation started, ``YYYY-MM-DDTHH:MM:SSZ``.
``wall_time_s``
    seconds the computation took; ``None`` until it has ended (the results store and
    the bench fill it in).

No host name or user name is recorded.  A producer may add keys that describe how it
ran (the training loop adds ``speed``, its runtime switches); readers use only
:data:`KEYS` through :func:`hardware_of`, :func:`commit_of` and :func:`date_of`.
"""
from __future__ import annotations

import ast
import datetime as _dt
import hashlib
import os
import platform
import re
import subprocess
from pathlib import Path

import torch

#: The keys of a provenance record, in the order they are written.
KEYS = ("git_commit", "git_dirty", "device", "hardware", "torch", "python", "date_utc", "wall_time_s")
#: Names the commit of a copy of the code that has no git history.
COMMIT_ENV = "MSR_GIT_COMMIT"
#: The repository the package lives in (where git is asked).
REPO = Path(__file__).resolve().parent.parent
UNKNOWN = "unknown"


def _git(root: Path, *args: str) -> str | None:
    """stdout of ``git args`` in ``root``, or None where git fails or is absent."""
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def is_commit(value) -> bool:
    """Whether ``value`` is a git commit hash, 7 to 40 hex digits (not ``HEAD``, ``unknown``
    or empty)."""
    return isinstance(value, str) and re.fullmatch(r"[0-9a-f]{7,40}", value) is not None


def git_commit(root: str | Path = REPO) -> str:
    """The commit checked out in ``root`` (40 hex digits), else ``$MSR_GIT_COMMIT`` when it
    is 7 to 40 hex digits, else ``"unknown"``."""
    commit = _git(Path(root), "rev-parse", "--verify", "-q", "HEAD^{commit}") or ""
    if re.fullmatch(r"[0-9a-f]{40}", commit):
        return commit
    named = os.environ.get(COMMIT_ENV, "").strip().lower()
    return named if is_commit(named) else UNKNOWN


def git_dirty(root: str | Path = REPO) -> bool | None:
    """Whether tracked files of ``root`` (outside ``results/`` and ``figures/``) differ from
    the checked-out commit; None without a git history."""
    if _git(Path(root), "rev-parse", "--verify", "-q", "HEAD^{commit}") is None:
        return None
    status = _git(Path(root), "status", "--porcelain", "--untracked-files=no", "--", ":(top)",
                  ":(top,exclude)results", ":(top,exclude)figures")
    return None if status is None else bool(status)


#: The test files whose ``gpu``-marked tests are ``scripts/gpu_run.sh``'s self-check of the
#: fast paths (CUDA-graph training, resident data, the Triton LIF), in the script's order.
SELF_CHECK_TESTS = ("tests/test_speed.py", "tests/test_resident.py", "tests/test_kernels.py")


def _imports(path: Path, root: Path) -> set[str]:
    """The ``msr`` modules ``path`` imports anywhere in its code (inside functions too), with
    each name a ``from msr.x import y`` may mean (module ``msr.x.y`` or a name in ``msr.x``)."""
    package = path.relative_to(root).parts[:-1]  # a module's package; an __init__.py's own
    found = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, one level up per extra dot
                up = package[:len(package) - (node.level - 1)]
                base = ".".join([*up, *([node.module] if node.module else [])])
            found |= {base, *(f"{base}.{a.name}" for a in node.names)}
    return {m for m in found if m == "msr" or m.startswith("msr.")}


def imported_sources(files, root: str | Path = REPO) -> list[Path]:
    """``files`` (paths relative to ``root``) and every ``msr`` source they import, directly
    or through one another, with the packages on the way (``__init__.py``), sorted.

    Read from the code, not imported: every import statement counts, those inside
    functions too, so the list holds every source whose change can change what ``files``
    run, short of a module imported by a name computed at run time (msr's compute path
    has none)."""
    root = Path(root)
    seen, todo = set(), [root / f for f in files]
    while todo:
        path = todo.pop()
        if path in seen or not path.is_file():
            continue
        seen.add(path)
        for module in _imports(path, root):
            parts = module.split(".")
            for i in range(1, len(parts) + 1):
                base = root.joinpath(*parts[:i])
                todo += [base / "__init__.py", base.with_suffix(".py")]
    return sorted(seen)


def code_digest(root: str | Path = REPO, tests=SELF_CHECK_TESTS) -> str:
    """12 hex digits of the sha256 of the sources the self-check's ``tests`` can run: the
    test files, ``tests/conftest.py``, ``pyproject.toml`` (pytest's settings) and every
    ``msr`` module they import (:func:`imported_sources`), paths included.

    ``scripts/gpu_run.sh`` keys its self-check verdict on it, with the GPU and torch: the
    verdict holds for every later commit that changed only results, figures, notes or code
    those tests cannot reach (the book's chapters and rendering, packing, the command
    line), so a GPU command weeks later, carrying the committed ``.gpustate``, skips the
    self-check unless the fast paths' code changed."""
    root = Path(root)
    h = hashlib.sha256()
    files = [*imported_sources([*tests, "tests/conftest.py"], root), root / "pyproject.toml"]
    for f in files:
        if f.is_file():
            h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``, else what :mod:`platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _device(device: str | torch.device | None) -> torch.device:
    """``device`` as a torch device; None: CUDA where present, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(device)!r} asked for, but CUDA is not available here; valid: cpu")
    return dev


def hardware_name(device: str | torch.device | None = None) -> str:
    """The GPU's name, or ``"<CPU model> (<n> threads)"`` with torch's intra-op thread count."""
    dev = _device(device)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"{cpu_model()} ({torch.get_num_threads()} threads)"


def hardware_slug(device: str | torch.device | None = None) -> str:
    """A file-name-safe key of the hardware: ``nvidia-h100-80gb-hbm3``, ``cpu-amd-epyc-2t``
    (the key of ``msr bench`` results)."""
    dev = _device(device)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else \
        f"cpu-{cpu_model()}-{torch.get_num_threads()}t"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def provenance(device: str | torch.device | None = None, *, root: str | Path = REPO) -> dict:
    """A provenance record (:data:`KEYS`) of a computation starting now on ``device``
    (None: CUDA where present, else the CPU), with ``wall_time_s`` still None."""
    dev = _device(device)
    return {
        "git_commit": git_commit(root),
        "git_dirty": git_dirty(root),
        "device": dev.type,
        "hardware": hardware_name(dev),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wall_time_s": None,
    }


# ----------------------------------------------------------------- readers ----

def hardware_of(prov: dict | None) -> str:
    """The hardware a stored record names, or ``"unknown"``."""
    return str((prov or {}).get("hardware") or UNKNOWN)


#: What :func:`commit_of` says of a record without a commit hash.
NOT_RECORDED = "not recorded"


def commit_of(prov: dict | None) -> str:
    """The record's commit, first 10 characters, ``+dirty`` when the code differed from it;
    ``"not recorded"`` when the record holds no commit hash (never ``HEAD`` or ``unknown``)."""
    c = (prov or {}).get("git_commit")
    if not is_commit(c):
        return NOT_RECORDED
    return c[:10] + ("+dirty" if prov.get("git_dirty") else "")


def date_of(prov: dict | None) -> str:
    """The record's UTC start time ``YYYY-MM-DDTHH:MM:SS``, or ``"unknown"``."""
    return str((prov or {}).get("date_utc") or UNKNOWN)[:19]


__all__ = ["COMMIT_ENV", "KEYS", "NOT_RECORDED", "SELF_CHECK_TESTS", "code_digest", "commit_of", "cpu_model",
           "date_of", "git_commit", "git_dirty", "hardware_name", "hardware_of", "imported_sources", "is_commit",
           "hardware_slug", "provenance"]
