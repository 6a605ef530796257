"""Chapter 5, benchmarks: Tables III and IV beside ours, and the emulated event frames.

Render step of ``book/notebooks/benchmarks.md``: :mod:`msr.chapters.benchmarks` computes,
this module draws (figures and tables from what its ``compute`` returned). The shared pieces
(style, figure saving, tables, boxes, provenance lines) come from :mod:`msr.book`.
"""
from __future__ import annotations

import numpy as np

from msr.book import fmt
from msr.models import paper_name


def benchmark_frames(R: dict, profile: str):
    """Table III and IV: the paper's rows (labelled paper or cited) and ours."""
    import pandas as pd

    from msr import paper

    def ours(exp, model):
        for b in R.get(exp, []):
            if b["model"] == model:
                if b["result"]:
                    return b["result"]["acc"], b
                return "not run: " + ("data missing" if str(b["why"]).startswith("data missing") else str(b["why"])), b
        return "not run: not in this profile's sweep", None

    rows = [{"method": m, "work": w, "model": mo, "T": t, "paper / cited top-1 (%)": a, "ours top-1 (%)": ""}
            for m, w, mo, t, a in paper.TABLE_III_OTHERS]
    for (model, T), acc in paper.TABLE_III.items():
        o, b = ours("imagenet", model)
        rows.append({"method": "direct training", "work": "MS-ResNet (paper)", "model": paper_name(model), "T": str(T),
                     "paper / cited top-1 (%)": acc,
                     "ours top-1 (%)": o if b is None or b["T"] == T else f"{fmt(o)} (T = {b['T']})"})
    rows.append({"method": "direct training", "work": "MS-ResNet (paper)",
                 "model": paper_name("imagenet_resnet104") + ", 288 px",
                 "T": "5", "paper / cited top-1 (%)": paper.TABLE_III_104_AT_288,
                 "ours top-1 (%)": "not run: no sweep evaluates at 288 px"})
    rows += [{"method": "ANN", "work": "the ANN twin (paper)", "model": paper_name(model).removeprefix("MS-"),
              "T": "", "paper / cited top-1 (%)": acc, "ours top-1 (%)": "not in scope: msr trains spiking networks"}
             for model, acc in paper.TABLE_III_ANN.items()]
    t3 = pd.DataFrame(rows)
    o, b = ours("dvs", "dvs_resnet20")
    rows = [{"work": w, "method": m, "params (M)": (p / 1e6 if p else None), "paper / cited top-1 (%)": a,
             "ours top-1 (%)": o if w == "paper" else "", "our data": (b or {}).get("data", "") if w == "paper" else ""}
            for w, m, p, a in paper.TABLE_IV]
    return t3, pd.DataFrame(rows)


def benchmark_commands(R: dict) -> str:
    """Markdown: the command that trains each benchmark run that is not stored."""
    cmds = sorted({b["command"] for e in R.values() for b in e if not b["result"]})
    whys = sorted({str(b["why"]).split(":")[0] for e in R.values() for b in e if not b["result"] and b["why"]})
    if not cmds:
        return ""
    return (f"Runs not stored ({', '.join(whys)}) are trained with " + " and ".join(f"`{c}`" for c in cmds)
            + " on a machine with the data.")


def _cited_points() -> list[tuple[str, str, float, float]]:
    """Table III's cited works as (work, method, T, top-1) points, one per model."""
    from msr import paper

    pts = []
    for method, work, _, ts, accs in paper.TABLE_III_OTHERS:
        t, a = [float(x) for x in ts.split(" / ")], [float(x) for x in accs.split(" / ")]
        t = t * len(a) if len(t) == 1 else t
        pts += [(work, method, ti, ai) for ti, ai in zip(t, a, strict=True)]
    return pts


def plot_benchmarks(R: dict, ours_label: str):
    """Top: ImageNet top-1 against timesteps T (Table III): the paper's MS-ResNets, the
    cited works and ours apart.  Bottom: CIFAR10-DVS top-1 (Table IV), ours apart."""
    import matplotlib.pyplot as plt

    from msr import paper

    fig, (ax, bx) = plt.subplots(2, 1, figsize=(6.4, 9.5), gridspec_kw={"height_ratios": [1.25, 1]})
    for method, marker in (("ANN conversion", "^"), ("direct training", "o")):
        pts = [(t, a) for w, m, t, a in _cited_points() if m == method]
        ax.plot(*zip(*pts, strict=True), marker, color="#8c8c8c", ms=7, ls="none", label=f"cited works: {method}")
    for i, (w, _m, t, a) in enumerate(_cited_points()):  # alternate above / below: close points stay legible
        ax.annotate(w.split(" ")[0].rstrip(","), (t, a), xytext=(4, 3 if i % 2 else -12), textcoords="offset points",
                    fontsize=9, color="#555")
    pp = sorted((T, acc, model) for (model, T), acc in paper.TABLE_III.items())
    ax.plot([p[0] for p in pp], [p[1] for p in pp], "ks", ms=8, label="MS-ResNet, paper")
    for T, acc, model in pp:
        ax.annotate(paper_name(model), (T, acc), xytext=(6, -4), textcoords="offset points",
                    fontsize=10)
    ours = [(b["T"], b["result"]["acc"], b["model"]) for b in R.get("imagenet", []) if b["result"]]
    if ours:
        ax.plot([o[0] for o in ours], [o[1] for o in ours], "*", color="#d62728", ms=14, ls="none",
                label=ours_label)
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("timesteps T (log scale)")
    ax.set_ylabel("ImageNet top-1 (%)")
    ax.set_title("Table III: accuracy against timesteps" + ("" if ours else " (no run of ours stored)"))
    ax.legend(fontsize=9.5, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    works = [(f"{w}: {m}", a, w == "paper") for w, m, _, a in paper.TABLE_IV]
    dvs = next((b for b in R.get("dvs", []) if b["result"]), None)
    if dvs:
        works.append((f"ours on {dvs['data']}" if dvs.get("data") else ours_label, dvs["result"]["acc"], None))
    ys = np.arange(len(works))[::-1]
    colours = ["#d62728" if p is None else ("#000000" if p else "#8c8c8c") for _, _, p in works]
    bx.scatter([a for _, a, _ in works], ys, c=colours, s=[160 if p is None else 70 for _, _, p in works],
               marker="o", zorder=3)
    lo, hi = min(a for _, a, _ in works), max(a for _, a, _ in works)
    for y, (name, a, _) in zip(ys, works, strict=True):  # names beside the dots: the axes keep the figure's width
        right = a < (lo + hi) / 2
        bx.annotate(f"{name}: {a:.2f}" if right else f"{name}: {a:.2f}", (a, y), xytext=(9 if right else -9, 0),
                    textcoords="offset points", va="center", ha="left" if right else "right", fontsize=10)
    bx.set_yticks([])
    bx.set_ylim(-0.7, len(works) - 0.3)
    bx.set_xlim(lo - 0.08 * (hi - lo + 1), hi + 0.08 * (hi - lo + 1))
    bx.set_xlabel("CIFAR10-DVS top-1 (%)")
    bx.set_title("Table IV: CIFAR10-DVS" + ("" if dvs else " (no run of ours stored)"))
    return fig


def plot_event_frames(ex: dict, max_frames: int = 10, per_row: int = 5):
    """Emulated DVS samples (:func:`msr.data.emulated_examples`): per sample, the source
    image, then its event frames (equal event count each), ``per_row`` frames to a row so
    the figure keeps the column's width; ON events orange, OFF events blue."""
    import matplotlib.pyplot as plt

    frames = np.asarray(ex["frames"])  # [n, T, 2, S, S]
    n, T = frames.shape[:2]
    shown = min(T, max_frames)
    ncol = per_row  # the same cell size at any T
    lines = -(-shown // ncol)  # rows of frames per sample
    on_c, off_c = np.array([0.90, 0.62, 0.0]), np.array([0.0, 0.45, 0.70])  # colour-blind safe pair
    fig, axes = plt.subplots(n * lines, ncol + 1, figsize=(6.4, 6.4 / (ncol + 1) * 1.12 * n * lines + 0.8),
                             squeeze=False)
    for i in range(n):
        scale = max(float(np.percentile(frames[i][frames[i] > 0], 99)) if (frames[i] > 0).any() else 1.0, 1.0)
        src = axes[i * lines, 0]
        src.imshow(ex["images"][i], cmap="gray", vmin=0, vmax=255)
        src.set_title(f"{ex['classes'][i]}", fontsize=9)
        src.set_xlabel(f"{ex['counts'][i]:,} events", fontsize=8.5)
        for k in range(shown):
            ax = axes[i * lines + k // ncol, 1 + k % ncol]
            on = np.clip(frames[i, k, 1] / scale, 0, 1)[..., None]
            off = np.clip(frames[i, k, 0] / scale, 0, 1)[..., None]
            rgb = np.clip(1.0 - on * (1.0 - on_c) - off * (1.0 - off_c), 0, 1)
            ax.imshow(rgb, interpolation="nearest")
            ax.set_title(f"frame {k + 1}", fontsize=8.5)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
        if not ax.images:
            ax.axis("off")
    p = ex["params"]
    fig.suptitle(f"{ex['label']}: T = {T} frames of equal event count (ON orange, OFF blue); "
                 f"{p['sensor']}x{p['sensor']} sensor, C = {p['threshold']}, saccades of {p['amplitude']:g} px "
                 f"x 3 x {p['move_ms']:g} ms", fontsize=10.5)
    return fig
