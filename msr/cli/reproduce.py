"""``msr reproduce``: execute the book's notebooks with papermill (:func:`msr.reproduce.execute_book`)."""
from __future__ import annotations

import argparse

from msr.cli._options import add_device, add_profile, device_of


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_profile(p)
    p.add_argument("--only", nargs="+", metavar="NAME", help="chapters to execute (default: all)")
    p.add_argument("--recompute", action="store_true", help="ignore stored results and compute again")
    p.add_argument("--render-only", action="store_true",
                   help="never train: render what results/ holds, 'not computed yet' boxes elsewhere")
    add_device(p)
    p.add_argument("--data-root", default="data", help="where data sets live")
    p.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                   help="extra notebook parameter (validated against the notebook's parameters cell)")
    p.add_argument("--fill-missing", action="store_true",
                   help="also render (render-only) chapters outside --only that have no executed copy "
                        "for this profile, so the book builds, and the summary page")
    p.add_argument("--timeout", type=int, default=None, help="per-cell timeout in seconds")


def _value(text: str):
    """``-p`` values as papermill's CLI reads them: numbers, booleans, else strings."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def main(args: argparse.Namespace) -> int:
    from msr.reproduce import execute_book

    return execute_book(args.profile, only=args.only, recompute=args.recompute, render_only=args.render_only,
                        device=device_of(args), data_root=args.data_root,
                        extra={k: _value(v) for k, v in args.parameter}, fill_missing=args.fill_missing,
                        timeout=args.timeout)
