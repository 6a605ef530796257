"""`msr reproduce` and the notebooks' parameter validation.

A misspelt parameter or an unknown profile must stop the notebook with a message
naming the valid ones: the runner rejects unknown ``-p`` names before any kernel
starts, and each notebook validates what papermill injected (papermill alone only
warns about unknown names).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from msr import cli, reproduce
from msr.book import PARAMETERS
from msr.chapters import CHAPTER_ORDER

pm = pytest.importorskip("papermill")


def test_every_chapter_has_a_notebook_in_the_toc():
    """The summary page is the book's root and runs last (it reads what the chapters stored)."""
    toc = yaml.safe_load((reproduce.ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    executed = [f.split("/")[-1] for f in files if f.startswith("book/_executed/")]
    assert executed == [reproduce.SUMMARY, *CHAPTER_ORDER]
    assert reproduce.chapters() == [*CHAPTER_ORDER, reproduce.SUMMARY]


def test_book_tags_remove_parameters_and_fold_code():
    """Both parameters cells (the notebook's and the one papermill injects) are removed
    from the page; every other code cell is folded; an explicit tag is kept."""
    from papermill.parameterize import parameterize_notebook

    nb = reproduce.load("architectures")
    nb.cells[-1].metadata["tags"] = ["remove-input"]
    nb.metadata["papermill"] = {}
    for cell in nb.cells:  # as papermill's loader leaves them
        cell.metadata.setdefault("tags", [])
    nb = parameterize_notebook(reproduce.tag_for_book(nb), {"profile": "smoke"}, kernel_name="python3",
                               language="python")
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and "remove-cell" not in injected[0].metadata["tags"]  # papermill tags it alone
    tagged = reproduce.tag_for_book(nb)
    code = [c for c in tagged.cells if c.cell_type == "code"]
    removed = [c for c in code if "remove-cell" in c.metadata["tags"]]
    assert len(removed) == 2 and all("profile =" in c.source for c in removed)
    assert code[-1].metadata["tags"] == ["remove-input"]
    rest = [c for c in code[:-1] if c not in removed]
    assert rest and all(c.metadata["tags"] == ["hide-input"] for c in rest)
    assert not any(c.metadata["tags"] for c in tagged.cells if c.cell_type == "markdown")


@pytest.mark.parametrize("name", [*CHAPTER_ORDER, reproduce.SUMMARY])
def test_notebook_shape(name):
    """Parameters cell first, validated by msr.book in the next cell, thin notebooks."""
    nb = reproduce.load(name)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), f"{name}: first code cell must be tagged parameters"
    assert set(reproduce.declared_parameters(nb)) >= set(PARAMETERS)
    assert "book.parameters(globals()" in code[1].source, f"{name}: second cell must validate the parameters"
    before = code[1].source.split("book.parameters(globals()")[0]
    assert [line for line in before.splitlines() if line.strip()] == ["from msr import book", "params = "], \
        f"{name}: nothing but msr.book may be imported before validation"
    lines = sum(len([line for line in c.source.splitlines() if line.strip()]) for c in code)
    assert lines < 100, f"{name}: {lines} lines of code; move logic into msr"
    for c in code:
        ast.parse(c.source)


def test_runner_rejects_misspelt_parameter(capsys):
    rc = cli.main(["reproduce", "--profile", "smoke", "--only", "architectures", "-p", "profle", "smoke"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "unknown parameter(s) 'profle'" in out
    for name in PARAMETERS:
        assert name in out.split("valid parameters:")[1]


def test_runner_rejects_unknown_profile(capsys):
    rc = cli.main(["reproduce", "--profile", "smok", "--only", "architectures"])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown profile 'smok'" in err and "smoke, fmnist, paper" in err


def test_runner_rejects_unknown_notebook(capsys):
    rc = cli.main(["reproduce", "--profile", "smoke", "--only", "architecture"])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown notebook(s) architecture" in err and "architectures" in err


def test_runner_rejects_impossible_combination(capsys):
    rc = cli.main(["reproduce", "--profile", "smoke", "--recompute", "--render-only", "--only", "report"])
    assert rc == 2 and "cannot both be true" in capsys.readouterr().err


def _execute(tmp_path, parameters):
    nb = reproduce.load("architectures")
    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(nb, str(tmp_path / "out.ipynb"), parameters=parameters, cwd=str(reproduce.ROOT),
                            kernel_name="python3", progress_bar=False)
    return err.value


def test_notebook_stops_on_misspelt_parameter(tmp_path):
    """Papermill would only warn: the notebook's own validation stops it."""
    err = _execute(tmp_path, {"profle": "smoke", "render_only": True})
    assert err.ename == "ParameterError"
    assert "unknown parameter(s) 'profle'" in err.evalue and "valid parameters" in err.evalue
    assert "profile" in err.evalue.split("valid parameters:")[1]


def test_notebook_stops_on_unknown_profile(tmp_path):
    err = _execute(tmp_path, {"profile": "cifar", "render_only": True})
    assert err.ename == "ParameterError"
    assert "unknown profile 'cifar'" in err.evalue and "smoke, fmnist, paper" in err.evalue


def test_render_goes_through_a_temp_copy(tmp_path, monkeypatch):
    """A successful run replaces the executed copy and clears an earlier failed one; a
    failing run leaves the good copy and writes NAME.failed.ipynb (papermill writes its
    output while it runs, so it never writes NAME.ipynb itself)."""
    monkeypatch.setattr(reproduce, "EXECUTED", tmp_path)
    seen = []

    def fake_execute(nb, output, parameters, **kw):
        seen.append(output)
        (tmp_path / output).write_text(f"run {len(seen)}")
        if parameters.get("fail"):
            raise RuntimeError("cell failed")

    monkeypatch.setattr(pm, "execute_notebook", fake_execute)
    monkeypatch.setattr(reproduce, "check_names", lambda nb, given: None)
    reproduce.execute("architectures", {"profile": "smoke"})
    assert (tmp_path / "architectures.ipynb").read_text() == "run 1"
    with pytest.raises(RuntimeError, match="cell failed"):
        reproduce.execute("architectures", {"profile": "smoke", "fail": True})
    assert (tmp_path / "architectures.ipynb").read_text() == "run 1"
    assert (tmp_path / "architectures.failed.ipynb").read_text() == "run 2"
    reproduce.execute("architectures", {"profile": "smoke"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["architectures.ipynb"]
    assert (tmp_path / "architectures.ipynb").read_text() == "run 3"
    assert all(Path(o).name.startswith(".architectures.") for o in seen)
