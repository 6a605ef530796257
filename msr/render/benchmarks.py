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

    cited = "cited work, not reproduced"
    rows = [{"method": m, "work": w + (" †" if w in paper.TABLE_III_DAGGER_WORKS else ""), "model": mo, "T": t,
             "paper / cited top-1 (%)": a, "ours top-1 (%)": cited} for m, w, mo, t, a in paper.TABLE_III_OTHERS]
    for (model, T), acc in paper.TABLE_III.items():
        o, b = ours("imagenet", model)
        rows.append({"method": "direct training", "work": "MS-ResNet (paper)", "model": paper_name(model), "T": str(T),
                     "paper / cited top-1 (%)": acc,
                     "ours top-1 (%)": o if b is None or b["T"] == T else f"{fmt(o)} (T = {b['T']})"})
    big, T288, acc288 = paper_at_288()
    rows.append({"method": "direct training", "work": "MS-ResNet (paper)", "model": paper_name(big) + ", 288 px",
                 "T": str(T288), "paper / cited top-1 (%)": acc288,
                 "ours top-1 (%)": "not run: no sweep evaluates at 288 px"})
    rows += [{"method": "ANN", "work": "the ANN twin (paper)", "model": paper_name(model).removeprefix("MS-"),
              "T": "", "paper / cited top-1 (%)": acc, "ours top-1 (%)": "not in scope: msr trains spiking networks"}
             for model, acc in paper.TABLE_III_ANN.items()]
    t3 = pd.DataFrame(rows)
    o, b = ours("dvs", "dvs_resnet20")
    rows = [{"work": w, "method": m, "params (M)": (p / 1e6 if p else None), "paper / cited top-1 (%)": a,
             "ours top-1 (%)": o if w == "paper" else cited,
             "our data": (b or {}).get("data", "") if w == "paper" else ""}
            for w, m, p, a in paper.TABLE_IV]
    return t3, pd.DataFrame(rows)


#: What each benchmark experiment trains, as a reader names it.
BENCHMARK_NAMES = {"imagenet": "ImageNet (Table III)", "dvs": "event data (Table IV)"}


def benchmark_commands(R: dict) -> str:
    """Markdown, one line per benchmark experiment with runs not stored: how many, why (the
    first clause of each reason) and the command that trains them."""
    from msr.book import count

    lines = []
    for exp, runs in R.items():
        missing = [b for b in runs if not b["result"]]
        if not missing:
            continue
        whys = "; ".join(sorted({str(b["why"]).split(":")[0] for b in missing if b["why"]})) or "not stored"
        cmds = " and ".join(f"`{c}`" for c in sorted({b["command"] for b in missing}))
        lines.append(f"- {BENCHMARK_NAMES.get(exp, exp)}: {count(len(missing), 'run')} not stored: {whys}; "
                     f"{cmds} trains {'it' if len(missing) == 1 else 'them'}.")
    return "\n".join(lines)


def cited_points() -> list[tuple[str, str, float, float]]:
    """Table III's cited works as (label, method, T, top-1) points, one per model and T.  The
    label names the first author and the model, and T where a work reports one model at two T
    (Li et al.: ResNet-34 at 256 and at 32), so that no two points share a label."""
    from collections import Counter

    from msr import paper

    rows = [(work.split(" ")[0].rstrip(","), m, method, t, a) for work, m, method, t, a in paper.table_iii_cited()]
    twice = Counter((w, m) for w, m, *_ in rows)
    return [(f"{w}, {m}" + (f", T = {t:g}" if twice[w, m] > 1 else ""), method, t, a) for w, m, method, t, a in rows]


def paper_at_288() -> tuple[str, int, float]:
    """Table III's starred row: MS-ResNet104 (trained at 224 px, at its Table III T) tested on
    288x288 crops, as (model, T, top-1)."""
    from msr import paper

    model = "imagenet_resnet104"
    return model, next(T for (m, T) in paper.TABLE_III if m == model), paper.TABLE_III_104_AT_288


#: Where a point's label may go, in order of preference: (dx, dy) points from the point, ha, va.
_LABEL_SPOTS = ((7, 0, "left", "center"), (-7, 0, "right", "center"), (5, 4, "left", "bottom"),
                (5, -4, "left", "top"), (-5, 4, "right", "bottom"), (-5, -4, "right", "top"),
                (0, 7, "center", "bottom"), (0, -7, "center", "top"), (5, 11, "left", "bottom"),
                (5, -11, "left", "top"), (-5, 11, "right", "bottom"), (-5, -11, "right", "top"))


def _place_labels(ax, labels, marker_pt: float = 10.0) -> None:
    """Annotate each ``(text, (x, y), style)`` of ``labels`` at the first of :data:`_LABEL_SPOTS`
    where it stays inside ``ax`` and overlaps no marker and no label placed before it (else
    where it overlaps least): close points keep legible labels whatever the data."""
    from matplotlib.transforms import Bbox

    fig = ax.figure
    fig.canvas.draw()  # fixes the limits, so data map to where they will be drawn
    renderer, inside = fig.canvas.get_renderer(), ax.get_window_extent()
    r = marker_pt / 2 * fig.dpi / 72
    taken = [Bbox.from_extents(x - r, y - r, x + r, y + r)
             for line in ax.get_lines() for x, y in ax.transData.transform(line.get_xydata())]
    for text, xy, style in labels:
        best = None
        for dx, dy, ha, va in _LABEL_SPOTS:
            a = ax.annotate(text, xy, xytext=(dx, dy), textcoords="offset points", ha=ha, va=va, **style)
            box = a.get_window_extent(renderer).padded(1.5)
            out = not (inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1)
            cost = 10 * out + sum(box.overlaps(o) for o in taken)
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, a, box)
            else:
                a.remove()
            if cost == 0:
                break
        taken.append(best[2])


def plot_benchmarks(R: dict, ours_label: str):
    """Top: ImageNet top-1 against timesteps T (Table III): the paper's MS-ResNets (and
    MS-ResNet104 tested at 288 px, Table III's starred row), the cited works (each labelled
    by first author and model) and ours apart.  Bottom: CIFAR10-DVS top-1 (Table IV), ours apart."""
    import matplotlib.pyplot as plt

    from msr import paper

    fig, (ax, bx) = plt.subplots(2, 1, figsize=(6.4, 10.5), gridspec_kw={"height_ratios": [1.5, 1]})
    cited = cited_points()
    for method, marker in (("ANN conversion", "^"), ("direct training", "o")):
        pts = [(t, a) for _, m, t, a in cited if m == method]
        ax.plot(*zip(*pts, strict=True), marker, color="#8c8c8c", ms=7, ls="none", label=f"cited works: {method}")
    pp = sorted((T, acc, model) for (model, T), acc in paper.TABLE_III.items())
    ax.plot([p[0] for p in pp], [p[1] for p in pp], "ks", ms=8, label="MS-ResNet, paper (224 px)")
    big, T288, acc288 = paper_at_288()
    ax.plot([T288], [acc288], "D", color="k", mfc="white", mew=1.6, ms=8, ls="none",
            label=f"{paper_name(big)}, paper, tested at 288 px")
    ours = [(b["T"], b["result"]["acc"], b["model"]) for b in R.get("imagenet", []) if b["result"]]
    if ours:
        ax.plot([o[0] for o in ours], [o[1] for o in ours], "*", color="#d62728", ms=14, ls="none",
                label=ours_label)
    ax.set_xscale("log")
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlim(2.2, 1.6e4)  # room for labels on either side of the extreme T
    lo = min([a for *_, a in cited] + [p[1] for p in pp] + [o[1] for o in ours])
    hi = max([a for *_, a in cited] + [acc288] + [o[1] for o in ours])
    ax.set_ylim(lo - 1.2, hi + 1.2)
    ax.set_xlabel("timesteps T (log scale)")
    ax.set_ylabel("ImageNet top-1 (%)")
    ax.set_title("Table III: accuracy against timesteps" + ("" if ours else " (no run of ours stored)"))
    ax.legend(fontsize=9.5, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    _place_labels(ax, [(paper_name(m), (T, a), {"fontsize": 10}) for T, a, m in pp]
                  + [(f"{paper_name(big)}, 288 px", (T288, acc288), {"fontsize": 10})]
                  + [(label, (t, a), {"fontsize": 9, "color": "#555"}) for label, _, t, a in cited])
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


def distinct_classes(classes: list) -> list[int]:
    """The rows :func:`plot_event_frames` draws: the first sample of each class
    (:func:`msr.data.first_of_each_class`), so that a few samples show as many classes as they
    can (examples from :func:`msr.data.emulated_examples` are one per class already)."""
    from msr.data import first_of_each_class

    return first_of_each_class(classes)


def plot_event_frames(ex: dict, image: bool = True):
    """Emulated DVS samples (:func:`msr.data.emulated_examples`), one row per class (the first
    sample of each, :func:`distinct_classes`): its source image (``image``), then its T event
    frames in time order (equal event count each), T read from the frames; ON events orange,
    OFF events blue, a pixel with both their mix (the legend shows all three)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    rows = distinct_classes(list(ex["classes"]))
    frames = np.asarray(ex["frames"])[rows]  # [n, T, 2, S, S]
    n, T = frames.shape[:2]
    ncol = T + int(image)
    cell = max(6.4 / ncol, 0.75)  # inches: the column's width, wider (then scaled down) only at large T
    on_c, off_c = np.array([0.90, 0.62, 0.0]), np.array([0.0, 0.45, 0.70])  # colour-blind safe pair

    def colour(on, off):
        """A pixel's colour from its ON and OFF counts (each scaled to [0, 1]): white, tinted
        toward orange by ON and toward blue by OFF; both give a dark olive mix."""
        return np.clip(1.0 - on * (1.0 - on_c) - off * (1.0 - off_c), 0, 1)

    fig, axes = plt.subplots(n, ncol, figsize=(cell * ncol, n * (cell + 0.45) + 0.6), squeeze=False)
    for i, j in enumerate(rows):
        scale = max(float(np.percentile(frames[i][frames[i] > 0], 99)) if (frames[i] > 0).any() else 1.0, 1.0)
        if image:
            src = axes[i, 0]
            src.imshow(ex["images"][j], cmap="gray", vmin=0, vmax=255)
            src.set_title(f"{ex['classes'][j]}", fontsize=9)
            src.set_xlabel(f"{ex['counts'][j]:,} events", fontsize=8.5)
        for k in range(T):
            ax = axes[i, int(image) + k]
            on = np.clip(frames[i, k, 1] / scale, 0, 1)[..., None]
            off = np.clip(frames[i, k, 0] / scale, 0, 1)[..., None]
            ax.imshow(colour(on, off), interpolation="nearest")
            ax.set_title(f"frame {k + 1}", fontsize=8.5)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    p = ex["params"]
    fig.suptitle(f"{ex['label']}: T = {T} frames of equal event count, in time order left to right; "
                 f"{p['sensor']}x{p['sensor']} sensor, contrast threshold C = {p['threshold']:g}; "
                 f"{len(p['path']) - 1} saccades of {p['amplitude']:g} px, {p['move_ms']:g} ms each",
                 fontsize=10.5)
    fig.legend(handles=[Patch(fc=colour(1.0, 0.0), label="ON events"), Patch(fc=colour(0.0, 1.0), label="OFF events"),
                        Patch(fc=colour(0.5, 0.5), label="ON and OFF in one pixel")],
               loc="upper center", ncol=3, fontsize=9, frameon=False, bbox_to_anchor=(0.5, 0.0))
    return fig
