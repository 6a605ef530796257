"""The ``msr`` command: a dispatcher that imports only the command that runs, one default
for ``--profile`` and ``--device``, and the one merge of recipe < profile < overrides
that ``msr train`` and ``msr sweep`` share."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from msr import cli
from msr.cli import _options
from msr.cli.train import config_from_args
from msr.recipes import make_config
from msr.sweep import experiment_configs

ROOT = Path(__file__).resolve().parents[1]
#: modules of other commands (training, chapters, notebooks); none may load for ``bench --help``
OTHERS = ("msr.train", "msr.data", "msr.sweep", "msr.chapters", "msr.book", "msr.reproduce", "msr.pack",
          "torchvision", "papermill", *(f"msr.cli.{c}" for c in cli.COMMANDS if c != "bench"))

IMPORTED = """
import json, sys
from msr import cli
try:
    cli.main(sys.argv[1:])
except SystemExit as e:
    assert e.code == 0, e.code
print(json.dumps(sorted(sys.modules)))
"""


def _imported_by(*argv: str) -> set[str]:
    """Modules a fresh interpreter holds after ``msr ARGV`` (a --help)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-c", IMPORTED, *argv], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    return set(json.loads(p.stdout.strip().splitlines()[-1]))


def test_help_imports_only_the_command_asked_for():
    top = _imported_by("--help")
    assert not [m for m in top if m.startswith("msr.cli.") and m != "msr.cli._options"]
    bench = _imported_by("bench", "--help")
    assert "msr.cli.bench" in bench
    assert sorted(set(OTHERS) & bench) == []


def test_every_command_has_its_module_and_help(capsys):
    assert list(cli.COMMANDS) == ["info", "train", "sweep", "reproduce", "compute", "pack", "unpack", "status", "bench"]
    for name in cli.COMMANDS:
        with pytest.raises(SystemExit) as exit_:
            cli.main([name, "--help"])
        assert exit_.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: msr {name}")
    with pytest.raises(SystemExit):
        cli.main(["nope"])
    assert "invalid choice: 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["train"], ["sweep", "table2"], ["compute", "all"], ["reproduce"], ["pack", "out"],
                                  ["status"]])
def test_one_default_profile_and_device(argv):
    """Every command with a profile: ``smoke`` and its device unless told otherwise."""
    args = cli.parse_args(argv)
    assert args.profile == _options.DEFAULT_PROFILE == "smoke"
    if hasattr(args, "device"):
        assert args.device is None and _options.device_of(args) == "cpu"  # the smoke profile's
        assert _options.device_of(cli.parse_args([*argv, "--profile", "fmnist"])) == "auto"
        assert _options.device_of(cli.parse_args([*argv, "--device", "cuda:1"])) == "cuda:1"
    assert _options.device_of(cli.parse_args(["bench"])) == "auto"  # no profile


def test_recipe_profile_overrides_known_answers():
    # Table VIII's 100-epoch schedule stretched to the profile's 8 epochs; the flag wins
    cfg = make_config("table2", "fmnist")
    assert (cfg.epochs, cfg.milestones, cfg.lr, cfg.batch_size, cfg.dataset, cfg.T) == \
        (8, (3, 5, 6), 0.1, 100, "fashion_mnist", 6)
    assert make_config("table2", "fmnist", epochs=10).milestones == (4, 6, 8)
    assert make_config("table2", "fmnist", milestones=(2,)).milestones == (2,)  # given: not stretched
    # the profile's experiment settings come over its defaults (and its builder keys stay out)
    assert make_config("table2", "smoke").batch_size == 16
    dvs = make_config("dvs", "smoke", "dvs", model="dvs_resnet20")
    assert (dvs.batch_size, dvs.subset, dvs.T, dvs.schedule) == (4, 8, 2, "cosine")
    assert make_config("table2", "fmnist", "table2").epochs == 8  # "seeds": 3 is no TrainConfig field
    bare = make_config(None, "smoke", lr=0.05)
    assert (bare.lr, bare.milestones, bare.recipe, bare.input_size) == (0.05, (), None, (1, 16, 16))


def test_train_flags_make_the_run_the_sweep_stores():
    """``msr train`` with a sweep's recipe and profile trains the very run (same key) that
    ``msr sweep`` trains: both go through msr.recipes.make_config."""
    argv = "train --recipe table2 --profile fmnist --model cifar_resnet --depth 20 --block ms".split()
    cfg = config_from_args(cli.parse_args(argv))
    sweep = {c.hash(): c for c in experiment_configs("table2", "fmnist")}
    assert cfg.hash() in sweep and sweep[cfg.hash()].depth == 20
    # a flag overrides both; runtime switches leave the key alone
    assert config_from_args(cli.parse_args([*argv, "--lr", "0.05"])).lr == 0.05
    assert config_from_args(cli.parse_args([*argv, "--device", "cpu", "--no-amp"])).amp is False
    assert cfg.weight_decay_all  # every parameter decays unless asked otherwise
    assert not config_from_args(cli.parse_args([*argv, "--decay-weights-only"])).weight_decay_all
    with pytest.raises(ValueError, match="unknown recipe 'table9'; valid: dvs"):
        config_from_args(cli.parse_args(["train", "--recipe", "table9"]))
