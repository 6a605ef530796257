"""Chapter 2, degradation: accuracy against depth (Table II, Sec. III-D) as figures and tables;
its depth panels serve the shortcuts chapter (Table VI) and the summary page too.

Render step of ``book/notebooks/degradation.md``: :mod:`msr.chapters.degradation` computes,
this module draws (figures and tables from what its ``compute`` returned). The shared pieces
(style, figure saving, tables, boxes, provenance lines) come from :mod:`msr.book`.
"""
from __future__ import annotations

from msr.book import PALETTE, acc_cell


def _errorbars(ax, points: list[tuple], color, label=None, fmt="o-", **kw):
    """``points``: [(x, summary)]: the mean with ± std bars and each seed's value as a small
    dot; ``kw``: line properties for :meth:`matplotlib.axes.Axes.errorbar`."""
    pts = sorted(points, key=lambda p: p[0])
    xs = [x for x, _ in pts]
    ax.errorbar(xs, [r["acc"] for _, r in pts], yerr=[r.get("std") or 0.0 for _, r in pts], fmt=fmt, color=color,
                capsize=3, label=label, **kw)
    seeds = [(x, a) for x, r in pts if r.get("n", 1) > 1 for a in r.get("accs", ())]
    if seeds:
        ax.plot(*zip(*seeds, strict=True), ".", color=color, alpha=0.4, markersize=4)


def accuracy_frame(table: dict, paper_table: dict, labels: dict, depths=None):
    """Rows: depth; per block type the columns ``<model>: ours`` and ``<model>: paper``
    (test accuracy, %; Table II and Sec. III-D)."""
    import pandas as pd

    depths = depths or sorted({d for _, d in table} | {d for v in paper_table.values() for d in v})
    rows = []
    for d in depths:
        row = {"depth": d}
        for block, label in labels.items():
            r = table.get((block, d))
            row[f"{label}: ours"] = acc_cell(r)
            row[f"{label}: paper"] = paper_table.get(block, {}).get(d)
        rows.append(row)
    return pd.DataFrame(rows)


def ablation_frame(table2: dict, ablation: dict, labels: dict, depths=None):
    """The gamma2 = 0 ablation beside Table II: one row per (block, gamma2), columns by
    depth; ``table2``/``ablation``: {(block, depth): {"acc": ...} or None}."""
    import pandas as pd

    depths = depths or sorted({d for _, d in table2} | {d for _, d in ablation})
    rows = []
    for block, label in labels.items():
        for name, table in ((f"{label}, gamma2 = 1 (Table II run)", table2), (f"{label}, gamma2 = 0", ablation)):
            row = {"model": name}
            for d in depths:
                r = table.get((block, d))
                row[f"ours {d}"] = acc_cell(r)
            rows.append(row)
    return pd.DataFrame(rows)


def _log_depth_axis(ax, xs, legend_below: bool = False) -> None:
    if xs:
        ax.set_xscale("log")
        ax.set_xticks(xs)
        ax.set_xticklabels([str(x) for x in xs])
        ax.minorticks_off()
    ax.set_xlabel("depth (layers)")
    ax.set_ylabel("test accuracy (%)")
    if ax.get_legend_handles_labels()[0]:
        if legend_below:  # error bars and seed dots fill the axes: the legend goes under them
            ax.legend(fontsize=9.5, loc="upper center", bbox_to_anchor=(0.5, -0.24), ncol=2, frameon=False)
        else:
            ax.legend(fontsize=10)


def depth_panel(ax, series: dict, labels: dict, style: str, colours: dict | None = None, depths=None):
    """One panel of accuracy against depth: ``series`` {block: [(depth, value)]}, where a
    value is a number (the paper's) or a seed summary (ours: mean ± std, seeds as dots);
    ``depths``: the axis' ticks and span (:func:`shared_depths`), else the panel's own depths."""
    for block, label in labels.items():
        pts = series.get(block, [])
        colour = (colours or PALETTE).get(block)
        if pts and isinstance(pts[0][1], dict):
            _errorbars(ax, pts, colour, label, fmt=style, lw=1.8, ms=6)
        elif pts:
            ax.plot(*zip(*sorted(pts), strict=True), style, color=colour, label=label, lw=1.8, ms=6)
    ours = any(pts and isinstance(pts[0][1], dict) for pts in series.values())
    xs = sorted(depths) if depths else sorted({d for pts in series.values() for d, _ in pts})
    _log_depth_axis(ax, xs, legend_below=ours)
    if depths:  # the same span in every panel, so that a depth sits at one place down the figure
        ax.set_xlim(min(xs) / 1.12, max(xs) * 1.12)


def shared_depths(*panels: dict) -> list[int]:
    """Every depth drawn in any of ``panels`` ({block: [(depth, value)]}): the one depth axis
    of a figure whose panels are ours and the paper's, so that ours, run at a few of the
    paper's depths, stands under the paper's points at those depths."""
    return sorted({d for series in panels for pts in series.values() for d, _ in pts})


def seeds_title(table: dict) -> str:
    """What a panel of ours draws: mean ± std over seeds when any point has several."""
    several = any((r or {}).get("n", 1) > 1 for r in table.values())
    return ": mean ± std over seeds, dots single seeds" if several else ""


def plot_depth(table: dict, paper_table: dict, labels: dict, title: str, ours_label: str = "ours",
               paper_label: str = "paper (CIFAR-10)"):
    """Accuracy against depth per block type: ours (solid, mean ± std over seeds with each
    seed as a small dot) above the paper's (dashed, squares), one panel each (their data
    sets differ).  With no run of ours stored the figure holds the paper's panel alone and
    says so in its title."""
    import matplotlib.pyplot as plt

    ours = {}
    for (b, d), r in table.items():
        if r and r.get("acc") is not None:
            ours.setdefault(b, []).append((d, r))
    paper_pts = {b: [(d, a) for d, a in v.items() if a is not None] for b, v in paper_table.items()}
    panels = ([(ours_label + seeds_title(table), ours, "o-")] if ours else []) + [(paper_label, paper_pts, "s--")]
    fig, axes = plt.subplots(len(panels), 1, figsize=(6.4, 3.9 * len(panels) + (0.8 if ours else 0)), squeeze=False)
    depths = shared_depths(*(series for _, series, _ in panels))
    for ax, (name, series, style) in zip(axes[:, 0], panels, strict=False):
        depth_panel(ax, series, labels, style, depths=depths)
        ax.set_title(name)
    fig.suptitle(title if ours else f"{title}: the paper's numbers only, no run of ours stored")
    return fig
