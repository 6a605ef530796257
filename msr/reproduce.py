"""Execute the book's notebooks with papermill (``msr reproduce``, :func:`execute_book`).

Sources are jupytext MyST-markdown files in ``book/notebooks/NAME.md``; each is
converted in memory and executed to ``book/_executed/NAME.ipynb`` (build output, not
committed) with the parameters injected.  One progress line per notebook, a summary
at the end; a failing notebook does not stop the others and makes the exit status 1.
A notebook executes into a temp file that replaces ``NAME.ipynb`` only on success: a
failed run keeps the last good executed copy and writes ``NAME.failed.ipynb`` beside it.

Parameters are validated twice: here, before anything runs (an unknown ``-p`` name
fails that notebook with the names it declares: papermill itself would only warn),
and inside each notebook by :func:`msr.book.parameters` (values: an unknown profile
names the valid ones).
"""
from __future__ import annotations

import ast
import os
import sys
import time
from pathlib import Path

from msr.book import PARAMETERS, ParameterError, check_parameters
from msr.chapters import CHAPTER_ORDER

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "book" / "notebooks"
EXECUTED = ROOT / "book" / "_executed"
#: The landing page: the paper's claims with our verdicts, read from the store the
#: chapters filled, so it runs after them (and never computes).
SUMMARY = "summary"


def chapters() -> list[str]:
    """Notebook names in execution order (every ``book/notebooks/*.md``): the chapters in
    book order, then the summary page that reads what they stored."""
    present = {p.stem for p in SOURCES.glob("*.md")}
    extra = sorted(present - set(CHAPTER_ORDER) - {SUMMARY})
    return [c for c in CHAPTER_ORDER if c in present] + extra + ([SUMMARY] if SUMMARY in present else [])


def tag_for_book(nb):
    """Tags that make the rendered page read results first: the parameters cells (the
    notebook's ``parameters`` and papermill's ``injected-parameters``) are removed, as the
    page's header line says what they hold; every other code cell is folded behind a
    toggle (``hide-input``) unless it already carries a ``remove-*`` or ``hide-*`` tag."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = list(cell.metadata.get("tags", []))
        if {"parameters", "injected-parameters"} & set(tags):
            new = "remove-cell"
        elif any(t.startswith(("remove-", "hide-")) for t in tags):
            continue
        else:
            new = "hide-input"
        if new not in tags:
            cell.metadata["tags"] = tags + [new]
    return nb


def load(name: str):
    """The notebook of chapter ``name`` as an nbformat node (jupytext, MyST markdown)."""
    import jupytext

    nb = jupytext.read(SOURCES / f"{name}.md")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def declared_parameters(nb) -> list[str]:
    """Names assigned in the notebook's cell tagged ``parameters``."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            names = []
            for node in ast.parse(cell.source).body:
                targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                names += [t.id for t in targets if isinstance(t, ast.Name)]
            return names
    raise ParameterError("the notebook has no code cell tagged 'parameters'")


def check_names(nb, given: dict) -> None:
    """Reject parameter names the notebook does not declare, naming the valid ones."""
    valid = declared_parameters(nb)
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))}; valid parameters: {', '.join(sorted(valid))}")


def executed_profile(name: str) -> str | None:
    """The profile the executed copy of ``name`` was rendered with (None: none exists)."""
    import nbformat

    path = EXECUTED / f"{name}.ipynb"
    if not path.exists():
        return None
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - an unreadable copy is as good as none
        return None
    return (nb.metadata.get("papermill", {}).get("parameters") or {}).get("profile")


def failed_copy(name: str) -> Path:
    """Where the executed copy of a failed run of ``name`` goes (beside the good one)."""
    return EXECUTED / f"{name}.failed.ipynb"


def execute(name: str, parameters: dict, timeout: int | None = None) -> None:
    """Execute chapter ``name`` to ``book/_executed/NAME.ipynb``; raises on failure, then
    the copy with the error is ``NAME.failed.ipynb`` and a good ``NAME.ipynb`` is kept."""
    import papermill as pm

    nb = load(name)
    check_names(nb, parameters)
    import nbformat

    EXECUTED.mkdir(parents=True, exist_ok=True)
    tmp = EXECUTED / f".{name}.{os.getpid()}.running.ipynb"

    def retag(path: Path) -> None:
        """Tag papermill's injected parameters cell too; a copy nbformat cannot read is kept
        as papermill wrote it (the tags only fold cells on the page)."""
        try:
            nb_out = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001 - never lose an executed copy over its tags
            return
        nbformat.write(tag_for_book(nb_out), path)

    env_root = os.environ.get("MSR_ROOT")
    os.environ["MSR_ROOT"] = str(ROOT)
    try:
        pm.execute_notebook(tag_for_book(nb), str(tmp), parameters=parameters, cwd=str(ROOT),
                            kernel_name="python3", progress_bar=False, execution_timeout=timeout)
        retag(tmp)
        os.replace(tmp, EXECUTED / f"{name}.ipynb")
        failed_copy(name).unlink(missing_ok=True)
    except BaseException:
        if tmp.exists() and tmp.stat().st_size > 0:
            retag(tmp)
            os.replace(tmp, failed_copy(name))
        raise
    finally:
        tmp.unlink(missing_ok=True)
        if env_root is None:
            os.environ.pop("MSR_ROOT", None)
        else:
            os.environ["MSR_ROOT"] = env_root


def _error_message(err: Exception) -> str:
    evalue = getattr(err, "evalue", None)  # PapermillExecutionError: the cell's exception
    ename = getattr(err, "ename", None)
    if evalue is not None:
        return f"{ename}: {evalue}"
    return f"{type(err).__name__}: {err}"


def execute_book(profile: str, *, only=None, recompute: bool = False, render_only: bool = False,
                 device: str = "auto", data_root: str = "data", extra: dict | None = None,
                 fill_missing: bool = False, timeout: int | None = None) -> int:
    """Execute the chapters ``only`` (default: all, in book order) with these notebook
    parameters (``extra``: more of them, checked against each notebook's own), one progress
    line each and a summary; returns the exit status (1 if any notebook failed).
    ``fill_missing``: also render (render-only) the other chapters whose executed copy is
    not of ``profile``, so the book builds, and the summary page."""
    names = chapters()
    only = only or names
    unknown = [n for n in only if n not in names]
    if unknown:
        raise ValueError(f"unknown notebook(s) {', '.join(unknown)}; valid: {', '.join(names)}")
    base = {"profile": profile, "device": device, "recompute": recompute, "render_only": render_only,
            "data_root": data_root}
    params = check_parameters(base)  # unknown profile / impossible values: stop before any kernel starts
    base["device"] = params.device
    plan = [(n, {**base, **(extra or {})}) for n in names if n in only]
    if fill_missing:
        render = {**base, "recompute": False, "render_only": True}
        plan = [(n, render) for n in names if n not in only and executed_profile(n) != profile] + plan
        if SUMMARY in names and SUMMARY not in {n for n, _ in plan}:
            plan.append((SUMMARY, render))  # the landing page reads what the chapters just stored
        plan.sort(key=lambda item: names.index(item[0]))
    results = []
    total_start = time.perf_counter()
    for i, (name, parameters) in enumerate(plan, 1):
        mode = "render-only" if parameters["render_only"] else ("recompute" if parameters["recompute"] else "compute")
        print(f"[{i}/{len(plan)}] {name} (profile {profile}, {mode}) ...", flush=True)
        start = time.perf_counter()
        try:
            execute(name, parameters, timeout)
            status, message = "ok", ""
        except Exception as err:  # noqa: BLE001 - report and go on with the next notebook
            status, message = "FAILED", _error_message(err)
        dt = time.perf_counter() - start
        results.append((name, status, dt, message))
        print(f"[{i}/{len(plan)}] {name}: {status} in {dt:.1f} s" + (f" -- {message}" if message else ""),
              flush=True)
    failed = [r for r in results if r[1] != "ok"]
    print(f"\nmsr reproduce, profile {profile}: {len(results) - len(failed)}/{len(results)} notebooks ok "
          f"in {time.perf_counter() - total_start:.1f} s")
    for name, status, dt, message in results:
        print(f"  {status:6s} {dt:7.1f} s  {name}" + (f"  ({message})" if message else ""))
    if failed:
        print(f"the copies with the error are {EXECUTED.relative_to(ROOT)}/NAME.failed.ipynb "
              f"(a good NAME.ipynb from an earlier run is kept)", file=sys.stderr)
    return 1 if failed else 0


__all__ = ["chapters", "tag_for_book", "load", "declared_parameters", "check_names", "execute", "execute_book",
           "PARAMETERS"]
