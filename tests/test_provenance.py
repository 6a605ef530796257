"""One provenance schema: the commit rule, the dirty flag, the keys, and the readers."""
from __future__ import annotations

import json
import re
import socket
import subprocess

import pytest
import torch

from msr import provenance as prov

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _git(root, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", *args],
                          cwd=root, capture_output=True, text=True)


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A folder git does not look above, and no commit named in the environment."""
    if subprocess.run(["git", "--version"], capture_output=True).returncode != 0:
        pytest.skip("git is not available")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    monkeypatch.delenv(prov.COMMIT_ENV, raising=False)
    return tmp_path


@pytest.fixture
def repo(isolated):
    """A git repository with one commit of one tracked file."""
    _git(isolated, "init", "-q")
    (isolated / "code.py").write_text("x = 1\n")
    _git(isolated, "add", "code.py")
    assert _git(isolated, "commit", "-q", "-m", "c").returncode == 0
    return isolated


def test_the_schema_has_exactly_the_documented_keys_and_no_hostname():
    p = prov.provenance("cpu")
    assert tuple(p) == prov.KEYS == ("git_commit", "git_dirty", "device", "hardware", "torch", "python",
                                     "date_utc", "wall_time_s")
    assert p["device"] == "cpu" and p["hardware"].endswith(f"({torch.get_num_threads()} threads)")
    assert p["torch"] == torch.__version__ and p["wall_time_s"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", p["date_utc"])
    assert p["git_commit"] != "HEAD"
    assert socket.gethostname() not in json.dumps(p)


def test_commit_and_dirty_of_a_repository(repo):
    head = _git(repo, "rev-parse", "HEAD").stdout.strip()
    assert prov.git_commit(repo) == head and prov.git_dirty(repo) is False
    (repo / "code.py").write_text("x = 2\n")
    assert prov.git_dirty(repo) is True
    p = prov.provenance("cpu", root=repo)
    assert (p["git_commit"], p["git_dirty"]) == (head, True)
    assert prov.commit_of(p) == head[:10] + "+dirty"


def test_generated_results_do_not_make_the_tree_dirty(repo):
    (repo / "results").mkdir()
    (repo / "results" / "r.json").write_text("{}")
    _git(repo, "add", "results/r.json")
    _git(repo, "commit", "-q", "-m", "r")
    (repo / "results" / "r.json").write_text('{"changed": 1}')
    assert prov.git_dirty(repo) is False


def test_a_checkout_wins_over_the_environment(repo, monkeypatch):
    monkeypatch.setenv(prov.COMMIT_ENV, COMMIT)
    assert prov.git_commit(repo) == _git(repo, "rev-parse", "HEAD").stdout.strip()


@pytest.mark.parametrize("history", ["empty repository", "no repository"])
def test_a_copy_without_history_is_unknown_or_the_named_commit_never_head(isolated, monkeypatch, history):
    """``git rev-parse HEAD`` prints ``HEAD`` in a repository without commits."""
    if history == "empty repository":
        _git(isolated, "init", "-q")
    assert prov.git_commit(isolated) == "unknown" and prov.git_dirty(isolated) is None
    monkeypatch.setenv(prov.COMMIT_ENV, COMMIT)
    assert prov.git_commit(isolated) == COMMIT
    assert prov.provenance("cpu", root=isolated)["git_commit"] == COMMIT
    for bad in ("HEAD", "not-a-commit", "abc"):
        monkeypatch.setenv(prov.COMMIT_ENV, bad)
        assert prov.git_commit(isolated) == "unknown"


def test_a_device_this_machine_lacks_is_refused():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ValueError, match="CUDA is not available here; valid: cpu"):
        prov.provenance("cuda")


def test_hardware_slug_is_a_file_name():
    slug = prov.hardware_slug("cpu")
    assert re.fullmatch(r"cpu-[a-z0-9-]+-\d+t", slug) and slug.endswith(f"-{torch.get_num_threads()}t")


def test_readers_use_the_schema_only():
    stored = {"git_commit": COMMIT, "git_dirty": False, "device": "cuda", "hardware": "NVIDIA H100 80GB HBM3",
              "date_utc": "2026-11-22T22:36:35Z"}
    assert prov.hardware_of(stored) == "NVIDIA H100 80GB HBM3"
    assert prov.commit_of(stored) == COMMIT[:10]
    assert prov.date_of(stored) == "2026-11-22T22:36:35"
    for reader in (prov.hardware_of, prov.date_of):
        assert reader(None) == reader({}) == "unknown"
    for missing in (None, {}, {"git_commit": "HEAD"}, {"git_commit": "unknown"}):
        assert prov.commit_of(missing) == "not recorded"
    # other key names are not read: the device type is not the hardware
    assert prov.hardware_of({"device": "cpu", "gpu": "x", "device_name": "y"}) == "unknown"
    assert prov.date_of({"date": "2026-01-01"}) == "unknown"


def test_stored_results_use_the_schema():
    """Every committed result's provenance starts with exactly the schema's keys, and its
    file name is still the hash of its config (the provenance is not hashed)."""
    from pathlib import Path

    from msr.results import config_hash, read_result

    root = Path(__file__).resolve().parents[1] / "results"
    files = sorted(f for profile in ("fmnist", "paper", "bench") for f in (root / profile).glob("*/*.json"))
    assert files
    for f in files:
        rec = read_result(f)
        assert config_hash(rec["config"]) == rec["hash"] == f.stem, f
        p = rec["provenance"]
        assert tuple(p)[:len(prov.KEYS)] == prov.KEYS, f
        assert p["device"] in ("cpu", "cuda") and p["git_commit"] != "HEAD", f


def test_code_digest_follows_the_sources_not_the_results(tmp_path):
    """The key of the GPU self-check's verdict: a new result, figure or note keeps it; an
    edited, added-and-imported or moved source that the self-check's tests import (directly,
    through another module, or inside a function) changes it, and so do conftest.py and
    pyproject.toml; a source they cannot reach and compiled caches do not count."""
    (tmp_path / "msr" / "sub").mkdir(parents=True)
    (tmp_path / "tests").mkdir()
    (tmp_path / "msr" / "__init__.py").write_text("")
    (tmp_path / "msr" / "sub" / "__init__.py").write_text("")
    (tmp_path / "msr" / "a.py").write_text("def f():\n    from .sub import b\n    return b\n")
    (tmp_path / "msr" / "sub" / "b.py").write_text("x = 1\n")
    (tmp_path / "msr" / "book.py").write_text("x = 1\n")  # imported by no test of the self-check
    (tmp_path / "tests" / "test_a.py").write_text("from msr import a\n\ndef test(): pass\n")
    (tmp_path / "tests" / "conftest.py").write_text("")
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    tests = ("tests/test_a.py",)
    assert [f.relative_to(tmp_path).as_posix() for f in prov.imported_sources(tests, tmp_path)] == [
        "msr/__init__.py", "msr/a.py", "msr/sub/__init__.py", "msr/sub/b.py", "tests/test_a.py"]
    first = prov.code_digest(tmp_path, tests)
    assert re.fullmatch(r"[0-9a-f]{12}", first)
    for other in ("results/fmnist/table2/r.json", "figures/fmnist/f.png", "notes/n.md", "msr/__pycache__/a.pyc",
                  "msr/book.py", "msr/new.py", "tests/test_other.py"):
        (tmp_path / other).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / other).write_text("new = 1\n")
    assert prov.code_digest(tmp_path, tests) == first
    (tmp_path / "msr" / "sub" / "b.py").write_text("x = 2\n")
    edited = prov.code_digest(tmp_path, tests)
    assert edited != first
    (tmp_path / "msr" / "a.py").write_text("def f():\n    from msr import new\n    return new\n")
    assert prov.code_digest(tmp_path, tests) not in (first, edited)
    (tmp_path / "msr" / "a.py").write_text("def f():\n    from .sub import b\n    return b\n")
    assert prov.code_digest(tmp_path, tests) == edited
    for f in ("tests/conftest.py", "pyproject.toml"):
        (tmp_path / f).write_text((tmp_path / f).read_text() + "# changed\n")
        assert prov.code_digest(tmp_path, tests) != edited
        edited = prov.code_digest(tmp_path, tests)


def test_the_self_check_key_holds_the_fast_paths_and_not_the_book():
    """The self-check's sources are the fast paths' code (training loop, graphs, resident data,
    kernels) and not the book's chapters, rendering, packing or command line, which change
    most often; gpu_run.sh tests exactly the files the key is computed from."""
    rel = {f.relative_to(prov.REPO).as_posix() for f in prov.imported_sources(prov.SELF_CHECK_TESTS)}
    assert {"msr/train.py", "msr/speed.py", "msr/resident.py", "msr/kernels/triton_lif.py", "msr/neuron.py",
            "msr/data.py", "msr/models.py", *prov.SELF_CHECK_TESTS} <= rel
    assert not rel & {"msr/book.py", "msr/pack.py", "msr/pending.py", "msr/reproduce.py"}
    assert not [f for f in rel if f.startswith(("msr/chapters/", "msr/render/", "msr/cli/"))]
    script = (prov.REPO / "scripts" / "gpu_run.sh").read_text()
    (files,) = re.findall(r"^\s*FILES=\(([^)]*)\)", script, re.M)
    assert tuple(files.split()) == prov.SELF_CHECK_TESTS
