"""What a budgeted command leaves, packed into a few verified files, and unpacked again.

A GPU command may hand back at most 8 files, each under 16 MiB and 64 MiB together
(``notes/gpu-runs.md``).  :func:`pack` writes into one folder:

* ``results.tar.gz``: the profile's results (``results/<profile>/**.json|npz``) that are
  new or changed since this working copy's baseline (recorded by the first
  ``msr unpack`` or budgeted ``msr compute`` here; without one, all of them);
* ``checkpoints.tar`` (``checkpoints.tar.part00``, ``.part01``, ... when larger than one
  part): the checkpoints still needed: ``last.pt`` of every run that stopped before it
  finished, and ``model.pt`` of a finished run whose weights are still needed (the first
  phase of two-phase training, or a run whose per-run analyses did not all run), the
  marker of a run that diverged (so that later commands skip it) and that of a run whose
  checkpoint is too large to travel (how long it trained before a budget stopped it);
* ``manifest.json``: size and sha256 of every part and of every file inside, what was
  left out and why (``left_out``: checkpoints that did not fit; ``stale``: checkpoints of
  runs no experiment asks for any more), and what the command did.

A pack into a folder that holds one already replaces it so that the folder holds one whole
pack at every moment (a budgeted command packs after each run it finishes, and may be
killed at any time): an unchanged archive is kept, a changed one is written under the
other of two names (``results.1.tar.gz``, ``checkpoints.1.tar...``), the manifest is
replaced in one step, and then the files it no longer lists are deleted.

:func:`unpack` checks every part against the manifest before it writes anything, then
restores the files into the results root and ``runs/``: a result already there is kept
(a differing one is reported, never overwritten), a checkpoint replaces an older one of
the same run.  The next command, on this or a fresh machine, continues where the last
one stopped.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path, PurePosixPath

MANIFEST = "manifest.json"
FORMAT = "msr-pack"
VERSION = 1
MIB = 2**20
PART_BYTES = 15 * MIB  # each file that comes back must stay under 16 MiB
MAX_FILES = 8
MAX_BYTES = 64 * MIB
_MANIFEST_ROOM = 256 * 1024  # bytes kept for manifest.json when checking the total


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def parse_size(text: str | int) -> int:
    """Bytes in ``"15MiB"``, ``"512KiB"``, ``"1000000"``."""
    m = re.fullmatch(r"\s*(\d+)\s*(KiB|MiB|GiB|B)?\s*", str(text))
    if not m:
        raise ValueError(f"size {text!r} not understood; valid: e.g. 15MiB, 512KiB, 1000000 (bytes)")
    return int(m.group(1)) * {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30}.get(m.group(2) or "B", 1)


# ------------------------------------------------------------ what travels ----

#: Folders that never travel with a command: git's, and the caches Python and pytest write.
_NEVER_TRAVEL = (".git", "__pycache__", ".pytest_cache")


def tree_bytes(root=".", *, leave_out=()) -> int:
    """Bytes of the working tree at ``root`` that travel with a GPU command besides the
    carried folders, which ``leave_out`` names (paths, absolute or relative to ``root``).

    With git history: the files git tracks or does not ignore, the copy a command receives.
    In a copy without it (the GPU machine's), every file but :data:`_NEVER_TRAVEL`'s: all the
    copy received, an upper bound where a previous command on the same machine left ignored
    files behind.  ``gpu_run.sh`` subtracts it from the carry limit, with the data, to know how
    many checkpoints the next command can carry.
    """
    root = Path(root).resolve()
    skip = [(p if p.is_absolute() else root / p).resolve() for p in map(Path, leave_out)]

    def kept(path: Path) -> bool:
        return not any(path == s or s in path.parents for s in skip)

    if (root / ".git").exists() and shutil.which("git"):
        listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others",
                                 "--exclude-standard"], capture_output=True, check=True).stdout
        files = [root / name for name in os.fsdecode(listed).split("\0") if name]
    else:
        files = []
        for folder, dirs, names in os.walk(root):
            here = Path(folder)
            dirs[:] = [d for d in dirs if d not in _NEVER_TRAVEL and kept(here / d)]
            files += [here / n for n in names]
    # a link travels as a link; a tracked file deleted here does not travel at all
    return sum(p.lstat().st_size for p in files if os.path.lexists(p) and not p.is_dir() and kept(p))


# ------------------------------------------------------------------ what goes ----

def baseline_path(profile: str, run_dir) -> Path:
    return Path(run_dir) / ".pack" / f"baseline-{profile}.json"


def result_files(profile: str, store_root) -> dict[str, Path]:
    """``{"results/<profile>/<experiment>/<file>": path}`` of every stored result (JSON and
    NPZ; rendered tables and temporary files are not results)."""
    root = Path(store_root) / profile
    out = {}
    for p in sorted(root.glob("*/*")) if root.is_dir() else []:
        if p.is_file() and p.suffix in (".json", ".npz") and not p.name.startswith(".") \
                and p.parent.name != "tables":
            out[f"results/{profile}/{p.parent.name}/{p.name}"] = p
    return out


def record_baseline(profile: str, store_root, run_dir) -> Path:
    """Remember the sha256 of the profile's results as they are now (once per working copy),
    so that :func:`pack` sends only what changed after."""
    path = baseline_path(profile, run_dir)
    if not path.exists():
        from msr.results import atomic_write_json

        atomic_write_json(path, {rel: sha256_file(p) for rel, p in result_files(profile, store_root).items()})
    return path


def changed_results(profile: str, store_root, run_dir) -> dict[str, Path]:
    """The profile's results that are new or differ from the baseline (all without one)."""
    path = baseline_path(profile, run_dir)
    base = json.loads(path.read_text()) if path.exists() else {}
    return {rel: p for rel, p in result_files(profile, store_root).items() if base.get(rel) != sha256_file(p)}


def discard_since_baseline(profile: str, store_root, run_dir, log=print) -> int:
    """Delete what this working copy computed since its baseline: the profile's results that
    are new or changed (:func:`changed_results`) and its run folders (checkpoints), e.g. the
    work of a training that started before the self-check of its fast paths failed
    (``scripts/gpu_run.sh``).  The carried state is then unpacked again (its results and
    checkpoints come back; the baseline stays).  Returns the number of results deleted."""
    import shutil

    changed = changed_results(profile, store_root, run_dir)
    for path in changed.values():
        path.unlink()
    runs = Path(run_dir) / profile
    shutil.rmtree(runs, ignore_errors=True)
    log(f"discarded {len(changed)} result(s) of {profile} and the checkpoints in {runs}")
    return len(changed)


def _stored(store, profile: str, experiment: str, run_hash: str) -> dict | None:
    path = store.root / profile / experiment / f"{run_hash}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _sweep_runs(profile: str) -> list:
    """``(experiment, config)`` of every run the profile's experiments (:mod:`msr.sweep`, all
    seeds) ask for."""
    from msr.sweep import EXPERIMENTS, experiment_configs

    return [(exp, cfg) for exp in EXPERIMENTS for cfg in experiment_configs(exp, profile)]


def asked_runs(profile: str, runs: list | None = None) -> set[tuple[str, str]]:
    """``(experiment, run hash)`` of every run the profile's experiments ask for (``runs``:
    :func:`_sweep_runs`, where the caller has them): the runs a budgeted command would resume."""
    return {(exp, cfg.hash()) for exp, cfg in (_sweep_runs(profile) if runs is None else runs)}


def stale_checkpoints(profile: str, run_dir, asked: set[tuple[str, str]] | None = None) -> list[tuple[str, Path]]:
    """``(name in the pack, path)`` of the ``last.pt`` files in the folders of the paper's
    experiments (``run_dir/<profile>/<experiment>/<hash>/``, :data:`msr.sweep.EXPERIMENTS`)
    of runs that no experiment of the profile asks for any more (a change of their
    configuration gave them a new hash): no budgeted command would resume them, so they
    never travel (:func:`pack` lists them as ``stale``).  Runs in other folders (``msr
    train``'s ``train``) are the user's own and travel as before."""
    asked = asked_runs(profile) if asked is None else asked
    return [(f"runs/{profile}/{ck.parent.parent.name}/{ck.parent.name}/last.pt", ck)
            for ck in sorted((Path(run_dir) / profile).glob("*/*/last.pt")) if _stale(ck.parent, asked)]


def _stale(folder: Path, asked: set[tuple[str, str]]) -> bool:
    """Whether run ``folder`` (``.../<experiment>/<hash>``) is one of the paper's experiments
    that no experiment of the profile asks for any more."""
    from msr.sweep import EXPERIMENTS

    return folder.parent.name in EXPERIMENTS and (folder.parent.name, folder.name) not in asked


def needed_checkpoints(profile: str, store, run_dir, asked: set[tuple[str, str]] | None = None
                       ) -> list[tuple[str, Path, str]]:
    """``(name in the pack, path, why)`` of the checkpoints under ``run_dir/<profile>`` that
    must travel, most valuable first: interrupted runs' ``last.pt``, then ``model.pt``
    files a pending run starts from, then those whose per-run analyses are missing.  An
    interrupted run travels only while an experiment of the profile asks for it
    (:func:`stale_checkpoints`): a carried state kept in git (``msr unpack --keep``) never
    drags along the checkpoints of configurations that changed since."""
    from msr import per_run
    from msr.budget import DIVERGED, UNFINISHED
    from msr.config import TrainConfig
    from msr.results import load_checkpoint

    root = Path(run_dir) / profile
    runs = _sweep_runs(profile)
    asked = asked_runs(profile, runs) if asked is None else asked
    interrupted, inits, analyses = [], [], []
    for mark in sorted(root.glob(f"*/*/{DIVERGED}")):  # a few bytes; the run's checkpoint stays behind
        interrupted.append((f"runs/{profile}/{mark.parent.parent.name}/{mark.parent.name}/{DIVERGED}", mark,
                            "marks a run that diverged: budgeted commands skip it"))
    for mark in sorted(root.glob(f"*/*/{UNFINISHED}")):  # a few bytes, where the checkpoint cannot travel
        exp, h = mark.parent.parent.name, mark.parent.name
        if not _stale(mark.parent, asked) and _stored(store, profile, exp, h) is None:
            interrupted.append((f"runs/{profile}/{exp}/{h}/{UNFINISHED}", mark,
                                "how long a run whose checkpoint cannot travel trained before a budget stopped it"))
    for ck in sorted(root.glob("*/*/last.pt")):
        exp, h = ck.parent.parent.name, ck.parent.name
        if not _stale(ck.parent, asked) and _stored(store, profile, exp, h) is None \
                and not (ck.parent / DIVERGED).exists():
            state = load_checkpoint(ck)
            interrupted.append((f"runs/{profile}/{exp}/{h}/last.pt", ck,
                                f"run stopped at epoch {state['epoch'] + 1}, step {state['step']}"))
    starts = {cfg.init_from[5:] for exp, cfg in runs if cfg.init_from and cfg.init_from.startswith("hash:")
              and store.get(profile, exp, cfg.hash_dict()) is None}
    for w in sorted(root.glob("*/*/model.pt")):
        exp, h = w.parent.parent.name, w.parent.name
        name = f"runs/{profile}/{exp}/{h}/model.pt"
        if h in starts:
            inits.append((name, w, "weights a pending run starts from (init_from)"))
            continue
        stored = _stored(store, profile, exp, h)
        if stored is None:
            continue
        cfg = TrainConfig.from_dict({k: v for k, v in stored["config"].items()
                                     if k in TrainConfig.__dataclass_fields__})
        missing = per_run.pending(exp, cfg, profile, store)
        if missing:
            analyses.append((name, w, f"per-run analyses still to run: {', '.join(missing)}"))
    return interrupted + inits + analyses


# ---------------------------------------------------------------------- pack ----

#: The files a pack writes besides its manifest: ``results.tar.gz`` and ``checkpoints.tar``
#: (``.partNN`` when split), or the same in the second slot (``results.1.tar.gz``, ...),
#: which a pack uses while the first slot's files are the ones the folder's manifest lists.
_OWNED = re.compile(r"(results|checkpoints)(\.1)?\.tar(\.gz)?(\.part\d\d)?")


def _tar_bytes(sizes) -> int:
    """An upper bound of an uncompressed tar's size holding files of ``sizes``."""
    raw = sum(1536 + math.ceil(s / 512) * 512 for s in sizes) + 1024
    return math.ceil(raw / 10240) * 10240


class _Parts:
    """A write-only file that cuts what is written into parts of ``part_bytes`` in ``out``:
    ``<stem><ext>.partNN``, renamed to ``<stem><ext>`` when one part holds it all; records
    each part's size and sha256 and the whole's as it goes."""

    def __init__(self, out: Path, stem: str, ext: str, part_bytes: int):
        self.out, self.base, self.part_bytes = out, f"{stem}{ext}", part_bytes
        self.whole, self.parts, self.total, self._f = hashlib.sha256(), [], 0, None

    def _open(self) -> None:
        name = f"{self.base}.part{len(self.parts):02d}"
        self._f, self._h, self._n = open(self.out / name, "wb"), hashlib.sha256(), 0
        self.parts.append({"file": name})

    def _finish(self) -> None:
        self._f.close()
        self.parts[-1].update(bytes=self._n, sha256=self._h.hexdigest())
        self._f = None

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        while view.nbytes:
            if self._f is None:
                self._open()
            chunk = view[:self.part_bytes - self._n]
            self._f.write(chunk)
            self._h.update(chunk)
            self.whole.update(chunk)
            self._n += chunk.nbytes
            self.total += chunk.nbytes
            view = view[chunk.nbytes:]
            if self._n == self.part_bytes:
                self._finish()
        return len(data)

    def tell(self) -> int:
        return self.total

    def flush(self) -> None:
        pass

    def close(self) -> dict:
        """Finish the last part; returns the archive's manifest entry (without its name)."""
        if self._f is not None:
            self._finish()
        if not self.parts:  # nothing was written: one empty part
            self._open()
            self._finish()
        if len(self.parts) == 1:
            os.replace(self.out / self.parts[0]["file"], self.out / self.base)
            self.parts[0]["file"] = self.base
        return {"bytes": self.total, "sha256": self.whole.hexdigest(), "parts": self.parts}


class _Hashing:
    """Reads ``f`` for tarfile and hashes what it hands over."""

    def __init__(self, f):
        self.f, self.h = f, hashlib.sha256()

    def read(self, n=-1) -> bytes:
        data = self.f.read(n)
        self.h.update(data)
        return data


def _write_archive(out: Path, name: str, slot: int, members: list[tuple[str, Path]], gz: bool,
                   part_bytes: int) -> tuple[dict, dict[str, dict]]:
    """A tar (gzipped where ``gz``) of ``members`` (``(name in the pack, path)``) written
    straight into parts in ``out`` (:class:`_Parts`) under the name of ``slot``; returns
    its manifest entry and ``{member: {"bytes", "sha256"}}`` of exactly what it holds.

    Each member's size and sha256 come from the open file that is archived: a file that a
    run replaces meanwhile (a new ``last.pt``, written atomically) cannot leave an entry
    that differs from what the archive holds."""
    stem, ext = name.split(".", 1)
    sink = _Parts(out, stem + (f".{slot}" if slot else ""), "." + ext, part_bytes)
    held = {}
    with tarfile.open(fileobj=sink, mode="w:gz" if gz else "w", format=tarfile.GNU_FORMAT) as tar:
        for arcname, p in members:
            with open(p, "rb") as f:
                info = tar.gettarinfo(arcname=arcname, fileobj=f)  # fstat of the open file
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = int(info.mtime)
                reader = _Hashing(f)
                tar.addfile(info, reader)
            held[arcname] = {"bytes": info.size, "sha256": reader.h.hexdigest()}
    return {"name": name, **sink.close(), "members": [n for n, _ in members]}, held


def _previous(out: Path) -> dict | None:
    """The manifest of the pack in ``out``, None where there is none; a ``manifest.json``
    that is not a msr pack's is refused (that folder is someone else's)."""
    m = out / MANIFEST
    if not m.exists():
        return None
    try:
        old = json.loads(m.read_text())
        _listed(old)  # raises where the manifest is not of this shape
        return old
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise ValueError(f"{m} exists but is not a msr pack manifest; choose an empty folder") from None


def _listed(m: dict | None) -> set[str]:
    return {part["file"] for a in (m or {}).get("archives", []) for part in a["parts"]}


def _archive(m: dict | None, name: str) -> dict | None:
    """The archive ``name`` of manifest ``m``, None where it has none."""
    return next((a for a in (m or {}).get("archives", []) if a["name"] == name), None)


def _free_slot(old: dict | None, name: str) -> int:
    """The slot an archive ``name`` is written in: the one the previous pack's does not use."""
    a = _archive(old, name)
    return 0 if a is None or a["parts"][0]["file"].startswith(f"{name.split('.', 1)[0]}.1.") else 1


def _reuse(old: dict | None, out: Path, name: str, members: list[tuple[str, Path]]) -> tuple[dict, dict] | None:
    """The previous pack's archive ``name`` and its members' entries, where it holds exactly
    ``members`` as they are now and its parts are whole; else None."""
    a = _archive(old, name)
    if a is None or a.get("members") != [n for n, _ in members]:
        return None
    entries = {f["path"]: f for f in old.get("files", [])}
    try:
        if any(entries[n]["sha256"] != sha256_file(p) for n, p in members):
            return None
        _check_parts(out, a)
    except (KeyError, OSError, ValueError):
        return None
    return a, {n: {"bytes": entries[n]["bytes"], "sha256": entries[n]["sha256"]} for n, _ in members}


def pack(out_dir, profile: str, *, store_root=None, run_dir="runs", part_bytes: int = PART_BYTES,
         max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES, note: dict | None = None, log=print,
         quiet: bool = False) -> dict:
    """Write the new results and the checkpoints still needed into ``out_dir`` (see the
    module docstring); returns the manifest.  Other files already in ``out_dir`` (a log)
    count against ``max_files`` and ``max_bytes``.  ``quiet``: log the summary line only
    (no warnings, no list of checkpoints), for the packs a command writes as it goes.

    A previous pack there is replaced such that the folder always holds one whole pack,
    whenever the process is killed: an archive whose content has not changed is kept as it
    is; a changed one is written beside the old one (the other slot), then the manifest is
    replaced in one step, and only then are the files it no longer lists deleted.  So a
    budgeted command can pack after every finished run (``msr compute --budget --pack-to``)
    and a command killed at any moment still hands back what it finished."""
    from msr.provenance import provenance
    from msr.results import ResultsStore, atomic_write_json, default_root

    if part_bytes < 1 or max_files < 3:
        raise ValueError(f"need part_bytes >= 1 and max_files >= 3, got {part_bytes} and {max_files}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    old = _previous(out)
    live = _listed(old)
    for p in out.iterdir():  # parts of a pack that was killed before its manifest: not listed, not needed
        if p.is_file() and _OWNED.fullmatch(p.name) and p.name not in live:
            p.unlink()
    store = ResultsStore(store_root or default_root())
    others = [p for p in out.iterdir()  # a log: the owned files left are the previous pack's, replaced below
              if p.is_file() and not p.name.startswith(".") and p.name != MANIFEST and not _OWNED.fullmatch(p.name)]
    files_left = max_files - len(others) - 1  # manifest.json
    bytes_left = max_bytes - sum(p.stat().st_size for p in others) - _MANIFEST_ROOM
    say = (lambda *a: None) if quiet else log
    if not baseline_path(profile, run_dir).exists():
        say(f"pack: no baseline of results/{profile} in {run_dir}: every stored result of the profile is packed")
    results = changed_results(profile, store.root, run_dir)
    asked = asked_runs(profile)
    checkpoints = needed_checkpoints(profile, store, run_dir, asked)

    def write(name: str, members: list[tuple[str, Path]], gz: bool) -> tuple[dict, dict]:
        kept = _reuse(old, out, name, members)
        if kept is not None:
            return kept
        return _write_archive(out, name, _free_slot(old, name), members, gz, part_bytes)

    archives, held = [], {}
    a, h = write("results.tar.gz", list(results.items()), gz=True)
    archives.append(a)
    held.update(h)
    used_files, used_bytes = len(a["parts"]), a["bytes"]
    if used_files > files_left or used_bytes > bytes_left:
        raise ValueError(f"the {len(results)} new results take {used_bytes / MIB:.1f} MiB in {used_files} parts: "
                         f"more than the {files_left} files / {bytes_left / MIB:.1f} MiB left in {out}")
    chosen, left_out = [], []
    stale = [name for name, _ in stale_checkpoints(profile, run_dir, asked)]
    for name in stale:
        say(f"pack: note: {name} is not packed: no experiment of the {profile} profile asks for that run any "
            f"more (its configuration changed), so no command would resume it")
    for name, path, why in checkpoints:
        size = _tar_bytes([p.stat().st_size for _, p, _ in chosen] + [path.stat().st_size])
        if used_files + math.ceil(size / part_bytes) <= files_left and used_bytes + size <= bytes_left:
            chosen.append((name, path, why))
        else:
            left_out.append({"path": name, "bytes": path.stat().st_size, "why": why,
                             "reason": f"does not fit: {files_left - used_files} files and "
                                       f"{(bytes_left - used_bytes) / MIB:.1f} MiB were left"})
            say(f"pack: WARNING {name} ({path.stat().st_size / MIB:.1f} MiB, {why}) does not fit the limits "
                f"and was NOT packed: that work will be redone")
    if chosen:
        a, h = write("checkpoints.tar", [(n, p) for n, p, _ in chosen], gz=False)
        archives.append(a)
        held.update(h)
    n_parts = sum(len(a["parts"]) for a in archives)
    total = sum(a["bytes"] for a in archives)
    if n_parts > files_left or total > bytes_left:  # a checkpoint grew while it was packed
        for p in {part["file"] for a in archives for part in a["parts"]} - live:
            (out / p).unlink(missing_ok=True)
        raise ValueError(f"the pack grew to {n_parts} files / {total / MIB:.1f} MiB while it was written (a run "
                         f"replaced its checkpoint): more than the {files_left} files / {bytes_left / MIB:.1f} MiB "
                         f"left in {out}; the previous pack there stands")
    whys = {n: why for n, _, why in chosen}
    files = [{"path": n, **e, **({"why": whys[n]} if n in whys else {})} for n, e in held.items()]
    manifest = {
        "format": FORMAT, "version": VERSION, "profile": profile,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "provenance": provenance(), "limits": {"max_files": max_files, "part_bytes": part_bytes,
                                               "max_bytes": max_bytes},
        "archives": archives, "files": files, "left_out": left_out, "stale": stale,
        "run": note or {},
    }
    atomic_write_json(out / MANIFEST, manifest)  # the one step from the previous pack to this one
    for p in live - _listed(manifest):
        (out / p).unlink(missing_ok=True)
    total += (out / MANIFEST).stat().st_size
    log(f"pack: {len(results)} results and {len(chosen)} checkpoints in {n_parts + 1} files "
        f"({total / MIB:.1f} MiB) in {out}" + (f"; {len(left_out)} checkpoints left out" if left_out else ""))
    for n, _, why in chosen:
        say(f"pack:   {n}: {why}")
    return manifest


# -------------------------------------------------------------------- unpack ----

def read_manifest(src) -> dict:
    path = Path(src) / MANIFEST
    if not path.exists():
        raise ValueError(f"no {MANIFEST} in {src}: not a msr pack (msr pack / msr compute --pack-to write one)")
    try:
        m = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is damaged ({err}); nothing was unpacked") from err
    if m.get("format") != FORMAT or m.get("version") != VERSION:
        raise ValueError(f"{path}: format {m.get('format')!r} version {m.get('version')!r}; "
                         f"this msr reads {FORMAT!r} version {VERSION}")
    return m


def verify(src) -> dict:
    """The manifest of the pack in ``src`` once every part has its recorded size and sha256;
    otherwise a ValueError naming the first damaged or missing part."""
    src = Path(src)
    m = read_manifest(src)
    for a in m["archives"]:
        _check_parts(src, a)
    return m


def _check_parts(src: Path, a: dict) -> None:
    """A ValueError naming the first part of archive ``a`` in ``src`` that is missing or
    differs from its recorded size and sha256."""
    for part in a["parts"]:
        p = src / part["file"]
        if not p.is_file():
            raise ValueError(f"{p} is missing (the pack lists it); nothing was unpacked")
        size, digest = p.stat().st_size, sha256_file(p)
        if size != part["bytes"] or digest != part["sha256"]:
            raise ValueError(f"{p} is damaged: {size} bytes, sha256 {digest[:16]}..., the manifest says "
                             f"{part['bytes']} bytes, {part['sha256'][:16]}...; nothing was unpacked")


def _archive_bytes(src: Path, a: dict) -> bytes:
    data = b"".join((src / part["file"]).read_bytes() for part in a["parts"])
    if hashlib.sha256(data).hexdigest() != a["sha256"]:
        raise ValueError(f"{src}: archive {a['name']} reassembled from its parts does not match the manifest")
    return data


def _destination(name: str, profile: str, store_root: Path, run_dir: Path) -> Path:
    parts = PurePosixPath(name).parts
    if (len(parts) < 3 or parts[0] not in ("results", "runs") or parts[1] != profile
            or any(p in ("..", "") or p.startswith("/") for p in parts)):
        raise ValueError(f"pack member {name!r} is not under results/{profile}/ or runs/{profile}/; refused")
    return (store_root if parts[0] == "results" else run_dir).joinpath(*parts[1:])


def _steps(path) -> int:
    from msr.results import load_checkpoint

    return int(load_checkpoint(path).get("step", -1))


def unpack(src, *, store_root=None, run_dir="runs", log=print) -> dict:
    """Verify the pack in ``src`` and restore its files; returns counts by outcome."""
    from msr.results import atomic_write_bytes, default_root

    src, run_dir = Path(src), Path(run_dir)
    store_root = Path(store_root or default_root())
    m = verify(src)
    profile = m["profile"]
    expected = {f["path"]: f for f in m["files"]}
    record_baseline(profile, store_root, run_dir)
    counts = {"new": 0, "same": 0, "kept": 0, "replaced": 0}
    seen = set()
    for a in m["archives"]:
        data = _archive_bytes(src, a)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for member in tar:
                name = member.name
                if not member.isfile() or name not in expected:
                    raise ValueError(f"{src}: archive {a['name']} holds {name!r}, which the manifest does not list")
                body = tar.extractfile(member).read()
                if hashlib.sha256(body).hexdigest() != expected[name]["sha256"]:
                    raise ValueError(f"{src}: {name} does not match its sha256 in the manifest")
                dest = _destination(name, profile, store_root, run_dir)
                seen.add(name)
                if not dest.exists():
                    atomic_write_bytes(dest, lambda f, b=body: f.write(b))
                    counts["new"] += 1
                elif sha256_file(dest) == expected[name]["sha256"]:
                    counts["same"] += 1
                elif dest.name == "last.pt":
                    tmp = atomic_write_bytes(dest.with_name(".incoming.pt"), lambda f, b=body: f.write(b))
                    if _steps(tmp) > _steps(dest):
                        tmp.replace(dest)
                        counts["replaced"] += 1
                    else:
                        tmp.unlink()
                        counts["kept"] += 1
                        log(f"unpack: kept {dest}: it is further along than the packed checkpoint")
                else:
                    counts["kept"] += 1
                    log(f"unpack: kept {dest}: it differs from the packed copy, which was not written")
    missing = sorted(set(expected) - seen)
    if missing:
        raise ValueError(f"{src}: the manifest lists {len(missing)} files the archives lack, e.g. {missing[0]}")
    log(f"unpack: {src} ({profile}): {counts['new']} files new, {counts['same']} already here, "
        f"{counts['replaced']} checkpoints replaced, {counts['kept']} kept as they were")
    for item in m.get("left_out", []):
        log(f"unpack: note: {item['path']} was left out of this pack ({item['reason']})")
    if (m.get("run") or {}).get("interim"):
        log("unpack: note: this pack was written while its command ran, which was stopped before its last pack: "
            "the runs it was training resume from the epoch end of their last.pt here, or start over")
    return counts


def keep(src, state, *, log=print) -> Path:
    """Make folder ``state`` a copy of the whole pack in ``src`` (its manifest, the parts it
    lists and the files beside them, such as ``gpu_run.log``), replacing what ``state``
    held; returns ``state``.

    ``state`` is what the next command carries (``gpu_run.sh``'s ``.gpustate``).  Kept in
    git, it reaches a command on a fresh machine weeks later, in a new checkout that has
    nothing but what was committed: that command resumes the runs this pack interrupted
    and reuses its self-check verdict.  The copy is verified before it replaces the old
    state, so a damaged pack leaves ``state`` as it was."""
    src, state = Path(src), Path(state)
    if state.exists() and src.resolve() == state.resolve():
        verify(state)
        return state
    m = verify(src)
    names = _listed(m) | {MANIFEST} | {p.name for p in src.iterdir() if p.is_file() and not p.name.startswith(".")
                                       and not _OWNED.fullmatch(p.name)}
    hidden = state.name if state.name.startswith(".") else f".{state.name}"
    incoming, old = state.with_name(f"{hidden}.incoming"), state.with_name(f"{hidden}.old")
    for d in (incoming, old):
        shutil.rmtree(d, ignore_errors=True)
    incoming.mkdir(parents=True)
    for name in sorted(names):
        shutil.copyfile(src / name, incoming / name)  # not the mode: files handed back may be read-only
    verify(incoming)
    if state.exists():
        state.rename(old)
    incoming.rename(state)
    shutil.rmtree(old, ignore_errors=True)
    n_ck = sum(1 for f in m["files"] if f["path"].startswith("runs/"))
    log(f"keep: {state} now holds the pack of {src} ({len(names)} files, {n_ck} checkpoints): commit it, so that "
        f"the next command resumes from it wherever it runs")
    return state


__all__ = ["MAX_BYTES", "MAX_FILES", "PART_BYTES", "asked_runs", "changed_results", "discard_since_baseline", "keep",
           "needed_checkpoints", "pack", "parse_size", "read_manifest", "record_baseline", "stale_checkpoints",
           "tree_bytes", "unpack", "verify"]
