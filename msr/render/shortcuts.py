"""Chapter 10, shortcut positions: Table VI as a table and against depth.

Render step of ``book/notebooks/shortcuts.md``: :mod:`msr.chapters.shortcuts` computes, this
module draws (figures and tables from what its ``compute`` returned). The shared pieces
(style, figure saving, tables, boxes, provenance lines) come from :mod:`msr.book`.
"""
from __future__ import annotations

from msr.book import PALETTE, acc_cell, dataset_name
from msr.render.degradation import depth_panel, seeds_title, shared_depths


def paper_dataset(dataset: str) -> str:
    """The paper's data set that Table VI compares ours on ``dataset`` with: ``cifar100``
    for CIFAR-100, ``cifar10`` for every other."""
    return "cifar100" if dataset == "cifar100" else "cifar10"


def table6_frame(t6: dict, dataset: str):
    """Table VI for one of our data sets: per depth, ours and the paper's for SR-A/B/C (%)."""
    import pandas as pd

    from msr import paper

    pdata = paper_dataset(dataset)
    short = paper.SHORTCUT_NAMES
    rows = []
    for depth, by_block in paper.TABLE_VI[pdata].items():
        row = {"depth": depth}
        for block in ("ms", "sr_b", "sr_c"):
            r = t6.get((dataset, block, depth))
            row[f"{short[block]}: ours"] = acc_cell(r)
            row[f"{short[block]}: paper ({dataset_name(pdata)})"] = by_block[block]
        rows.append(row)
    return pd.DataFrame(rows)


def plot_table6(t6: dict, datasets: list[str], ours_label: str):
    """Table VI as accuracy against depth per shortcut position: ours per data set (when
    stored; mean ± std over seeds with each seed as a small dot), then the paper's CIFAR-10
    and CIFAR-100 panels (dashed)."""
    import matplotlib.pyplot as plt

    from msr import paper

    labels = {"ms": "SR-A (MS-ResNet)", "sr_b": "SR-B", "sr_c": "SR-C"}
    colours = {"ms": PALETTE["sr_a"], "sr_b": PALETTE["sr_b"], "sr_c": PALETTE["sr_c"]}
    panels = []
    for ds in datasets:
        s = {}
        for (d, b, depth), r in t6.items():
            if d == ds and r and r.get("acc") is not None:
                s.setdefault(b, []).append((depth, r))
        if s:
            mine = {k: r for k, r in t6.items() if k[0] == ds}
            panels.append((f"{ours_label} on {dataset_name(ds)}{seeds_title(mine)}", s, "o-"))
    for pdata, name in (("cifar10", "CIFAR-10"), ("cifar100", "CIFAR-100")):
        s = {}
        for depth, by in paper.TABLE_VI[pdata].items():
            for b, a in by.items():
                if a is not None:
                    s.setdefault(b, []).append((depth, a))
        panels.append((f"paper, {name}", s, "s--"))
    fig, axes = plt.subplots(len(panels), 1, figsize=(6.4, 3.5 * len(panels) + 0.8 * (len(panels) - 2)),
                             squeeze=False)
    depths = shared_depths(*(s for _, s, _ in panels))
    for ax, (name, s, style) in zip(axes[:, 0], panels, strict=False):
        depth_panel(ax, s, labels, style, colours, depths=depths)
        ax.set_title(name)
    ours = len(panels) > 2
    fig.suptitle("Table VI: accuracy against depth per shortcut position"
                 + ("" if ours else "\n(the paper's numbers only, no run of ours stored)"))
    return fig
