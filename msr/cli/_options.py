"""Options several ``msr`` commands take, each defined once: ``--profile``, ``--device``,
``--results`` and ``--runs``."""
from __future__ import annotations

import argparse

#: ``--profile`` when none is given: the cheap one, so that a command without it runs in
#: seconds on a CPU; the book and GPU commands name their profile.
DEFAULT_PROFILE = "smoke"
#: ``--device`` when none is given: the profile's device (smoke: cpu; fmnist, paper: auto),
#: and ``auto`` (CUDA where present) for a command without a profile.
DEFAULT_DEVICE = None


def add_profile(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default=DEFAULT_PROFILE,
                   help=f"smoke, fmnist or paper: budgets and results folder (msr.profiles; default {DEFAULT_PROFILE})")


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default=DEFAULT_DEVICE,
                   help="cpu, cuda, cuda:N or auto (default: the profile's device; auto for a command without profile)")


def device_of(args: argparse.Namespace) -> str:
    """``--device``, else the profile's device, else ``auto``."""
    if args.device is not None:
        return args.device
    if getattr(args, "profile", None) is None:
        return "auto"
    from msr.profiles import get_profile

    return get_profile(args.profile).device


def add_results(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", default=None, help="results root (default $MSR_RESULTS or results)")


def add_runs(p: argparse.ArgumentParser) -> None:
    """``--runs`` (``p``: a parser or an argument group)."""
    p.add_argument("--runs", default="runs", help="checkpoint root (default runs)")
