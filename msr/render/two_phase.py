"""Chapter 11, two-phase training (Appendix B): accuracy per phase.

Render step of ``book/notebooks/two_phase.md``: :mod:`msr.chapters.two_phase` computes, this
module draws (figures and tables from what its ``compute`` returned). The shared pieces
(style, figure saving, tables, boxes, provenance lines) come from :mod:`msr.book`.
"""
from __future__ import annotations

import numpy as np

from msr.paper import TWO_PHASE_NAMES as PHASES
from msr.paper import TWO_PHASE_RUN_T as RUN_T


def phase_label(key: str, eval_T: int | None = None, whose: str = "") -> str:
    """A phase in words (:data:`msr.paper.TWO_PHASE_NAMES`), with the T it is tested at where
    that differs from the T it runs at (:data:`msr.paper.TWO_PHASE_RUN_T`): the paper's finetuned
    model runs at T = 6 but its 74.21 % is measured at T = 5, so ``finetuned at T = 6, tested
    at T = 5``, or with ``whose="paper"`` ``finetuned at T = 6 (paper: tested at T = 5)``."""
    name = PHASES.get(key, key)
    if eval_T is None or RUN_T.get(key, eval_T) == eval_T:
        return name
    return f"{name} ({whose}: tested at T = {eval_T})" if whose else f"{name}, tested at T = {eval_T}"


def two_phase_frame(P: dict, model: str):
    """Appendix B: test accuracy (%) per phase, the paper's and ours, each with the T it is
    measured at (the paper's finetuned model: Table III's T = 5, which its phase's name says)."""
    import pandas as pd

    from msr import paper

    return pd.DataFrame([{"phase": phase_label(k, paper.TWO_PHASE_EVAL_T[k], "paper"),
                          "paper (ImageNet, MS-ResNet104) (%)": v,
                          "paper: evaluated at T": paper.TWO_PHASE_EVAL_T[k],
                          f"ours ({model}) (%)": P[k]["acc"] if k in P else "not run",
                          "ours: evaluated at T": P[k].get("eval_T") if k in P else None}
                         for k, v in paper.TWO_PHASE.items()])


def two_phase_digits() -> dict:
    """Decimals per row of :func:`two_phase_frame`'s paper column, as the paper prints each value
    (72.8 beside 74.21); ours at 2."""
    from msr import paper
    from msr.chapters.report import decimals

    return {"paper (ImageNet, MS-ResNet104) (%)": [decimals(v) for v in paper.TWO_PHASE.values()]}


def plot_two_phase(P: dict, ours_label: str):
    """Appendix B: test accuracy per phase, the paper's (ImageNet, ResNet-104) and ours,
    one panel each (dots: the accuracy axis need not start at zero)."""
    import matplotlib.pyplot as plt

    from msr import paper

    keys = list(paper.TWO_PHASE)
    ours = [P[k]["acc"] if k in P else np.nan for k in keys]
    has = not all(np.isnan(ours))
    # each value as its source prints it (ours to 2 decimals, the paper's as printed), with its T
    # and each row named with the T its panel's value is tested at where that is not the phase's own
    panels = ([(ours_label, ours, "#1f77b4", [f"{v:.2f} % at T = {P[k].get('eval_T', '?')}" if k in P else "not run"
                                              for k, v in zip(keys, ours, strict=True)],
                [phase_label(k, P[k].get("eval_T") if k in P else None) for k in keys])] if has else []) + [
        ("paper (ImageNet, MS-ResNet104)", [paper.TWO_PHASE[k] for k in keys], "#000000",
         [f"{paper.TWO_PHASE[k]:g} % at T = {paper.TWO_PHASE_EVAL_T[k]}" for k in keys],
         [phase_label(k, paper.TWO_PHASE_EVAL_T[k]) for k in keys])]
    fig, axes = plt.subplots(len(panels), 1, figsize=(6.4, 2.6 * len(panels) + 0.9), squeeze=False)
    for ax, (title, vals, colour, texts, names) in zip(axes[:, 0], panels, strict=False):
        ys = np.arange(len(keys))[::-1]
        ax.plot(vals, ys, "o", color=colour, ms=10)
        finite = [v for v in vals if not np.isnan(v)]
        span = max(max(finite) - min(finite), 1.0)
        for y, v, text in zip(ys, vals, texts, strict=True):
            ax.annotate(text, (v if not np.isnan(v) else min(finite), y),
                        xytext=(10, 0), textcoords="offset points", va="center", fontsize=11)
        ax.set_yticks(ys)
        ax.set_yticklabels([name.replace(", tested", ",\ntested") for name in names])
        ax.set_ylim(-0.6, len(keys) - 0.4)
        ax.set_xlim(min(finite) - 0.4 * span, max(finite) + 1.0 * span)
        ax.set_xlabel("test accuracy (%)")
        ax.set_title(title)
    fig.suptitle("Two-phase training: accuracy per phase"
                 + ("" if has else "\n(the paper's numbers only, no run of ours stored)"))
    return fig
