"""Chapter 12, reproduction report: every number of the paper beside ours.

Render step of ``book/notebooks/report.md``: :mod:`msr.chapters.report` computes, this
module draws (figures and tables from what its ``compute`` returned). The shared pieces
(style, figure saving, tables, boxes, provenance lines) come from :mod:`msr.book`.
"""
from __future__ import annotations

import numpy as np

from msr.book import dataset_name
from msr.chapters.report import COARSE_FIGURES


def report_frame(rows: list, profile: str):
    """Every number of the paper beside ours, each row in the unit it is shown in, with all
    decimals (the CSV; :func:`report_digits` says how the table prints them); the provenance
    of ours in one column (the profile is the page's)."""
    import pandas as pd

    out = []
    for r in rows:
        d = r.as_dict(profile)
        src = " · ".join(x for x in (d["data set"] and dataset_name(d["data set"]), d["hardware"],
                                     d["commit"] and f"commit {d['commit']}", d["date"]) if x)
        if r.kind == "setting":  # a constant of the code, not the output of a run
            src = "msr's default, no run"
        out.append({"section": d["section"], "quantity": d["quantity"], "unit": d["unit"], "paper": d["paper"],
                    "ours": d["ours"], "ours − paper": d["delta"], "ours: data, hardware, commit, date": src,
                    "note": d["note"]})
    return pd.DataFrame(out)


def report_digits(rows: list) -> dict:
    """Per column, the decimals each row prints with: the paper's value with those the
    paper gives it, ours and the difference with one more."""
    paper_decimals = [r.paper_decimals for r in rows]
    more = [d + 1 for d in paper_decimals]
    return {"paper": paper_decimals, "ours": more, "ours − paper": more}


#: The columns :func:`with_decimals` writes out: ours and the difference, at a fixed number of decimals.
FIXED_COLUMNS = ("ours", "ours − paper")


def fixed(value, decimals: int):
    """``value`` as text with exactly ``decimals`` decimals (0.040, -0.004; a difference that
    rounds to zero as 0.000, not -0.000); anything but a finite number comes back as it is.
    :func:`msr.book.fmt` writes a number below 0.1 with three significant digits, which would
    print -0.00403 beside a paper value printed as 3.53."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value):
        return value
    text = f"{float(value):,.{decimals}f}"
    return text.lstrip("-") if float(text.replace(",", "")) == 0 else text


def with_decimals(df, digits: dict, columns=FIXED_COLUMNS):
    """``df`` with ``columns`` written as text, each cell with its row's decimals of ``digits``
    (:func:`fixed`): the cells as the table prints them."""
    return df.assign(**{c: [fixed(v, d) for v, d in zip(df[c], digits[c], strict=True)] for c in columns})


def report_table(rows: list, profile: str, caption: str, footer: str, command: str | None = None):
    """The table "Every number" as printed (:func:`report_digits`: ours and the difference
    written out by :func:`with_decimals`); its CSV, the file beside the book's tables and the
    download, holds all decimals."""
    from msr import book

    frame, digits = report_frame(rows, profile), report_digits(rows)
    return book.table(with_decimals(frame, digits), "report", profile, caption, footer, digits=digits,
                      command=command, csv=frame)


def plotted_rows(rows: list, profile: str) -> list:
    """The rows :func:`plot_report` draws: a number of ours beside a nonzero paper value of the
    same quantity; settings are left out, and so are trained accuracies on another data set than
    the paper's (:attr:`~msr.chapters.report.Row.on_other_data`: Fashion-MNIST over CIFAR-10 is
    no ratio of like to like; the table lists them with both data sets named). The figure's
    provenance line names only what it shows."""
    out = []
    for r in rows:
        d = r.as_dict(profile)
        if r.kind != "setting" and not isinstance(d["ours"], str) and d["paper"] and not r.on_other_data:
            out.append(r)
    return out


def other_data_rows(rows: list) -> list:
    """The held rows :func:`plotted_rows` leaves out because ours is on another data set."""
    return [r for r in rows if r.kind != "setting" and r.on_other_data]


def report_footer(rows: list, profile: str) -> str:
    """The provenance line of :func:`plot_report`: the data and results of the plotted rows only."""
    from msr import book

    shown = plotted_rows(rows, profile)
    data = ", ".join(sorted({book.dataset_name(r.dataset) for r in shown if r.dataset}))
    return book.provenance_line(profile, [r.prov for r in shown], dataset=data or None)


def _axis_limits(ratios, bars, log: bool) -> tuple[float, float]:
    """The x range of :func:`plot_report`: every dot and 1 with a margin, widened to each bar end
    that lies within half that range beyond it (a longer bar is clipped and marked at the edge).
    On a log axis a ratio of 0 (ours is 0) has no place: it is left out here, and its dot is
    drawn as cut at the left edge."""
    f = np.log if log else (lambda v: v)
    g = np.exp if log else (lambda v: v)
    shown = [r for r in ratios if r > 0] if log else list(ratios)
    lo, hi = f(min(shown)), f(max(shown))
    pad = max(0.08 * (hi - lo), 0.01)
    lo, hi = lo - pad, hi + pad
    reach = 0.5 * (hi - lo)
    ends = [f(e) for bar in bars for e in bar if 0 < e < np.inf]
    lo = min([lo] + [e for e in ends if lo - reach <= e < lo])
    hi = max([hi] + [e for e in ends if hi < e <= hi + reach])
    return float(g(lo)), float(g(hi))


def plot_report(rows: list, profile: str):
    """Every number we have beside the paper's, as ours / paper by section (1 = equal). A dot is
    hollow where the paper prints its value coarsely (:attr:`msr.chapters.report.Row.coarse`);
    the pale bar through each dot spans the ratios the paper's rounding allows
    (:attr:`~msr.chapters.report.Row.paper_bounds`); a bar longer than the axis is cut at its
    edge and marked there with a triangle.  The dots of a section sit at fixed, evenly spread
    heights within its row, so that equal ratios stay apart."""
    import matplotlib.pyplot as plt
    from matplotlib.legend_handler import HandlerTuple
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, NullFormatter

    pts = []  # (section, ours / paper, lowest and highest ratio the rounding allows, accuracy?, coarse?)
    for r in plotted_rows(rows, profile):
        d = r.as_dict(profile)
        lo, hi = r.paper_bounds
        pts.append((d["section"], d["ours"] / d["paper"], d["ours"] / hi, d["ours"] / lo if lo > 0 else np.inf,
                    d["unit"] == "%", r.coarse))
    sections = list(dict.fromkeys(p[0] for p in pts))
    fig, ax = plt.subplots(figsize=(6.4, 1.3 + 0.4 * max(len(sections), 3) + 0.2 * len(pts)))
    colours = {True: ("#1f77b4", "accuracy (%), on the paper's data set"), False: ("#ff7f0e", "counts, rates, energy")}
    ratios = np.array([p[1] for p in pts] + [1.0])
    log = bool(len(pts)) and ratios.max() / max(ratios.min(), 1e-300) > 4
    left, right = _axis_limits(ratios, [(p[2], p[3]) for p in pts], log)
    used, cut = set(), False
    for section in sections:
        mine = [p for p in pts if p[0] == section]
        step = min(0.2, 0.8 / max(len(mine) - 1, 1))
        offsets = [(i - (len(mine) - 1) / 2) * step for i in range(len(mine))]
        for (_, ratio, lo, hi, acc, coarse), dy in zip(mine, offsets, strict=True):
            y, colour = sections.index(section) + dy, colours[acc][0]
            ax.plot([max(lo, left), min(hi, right)], [y, y], color=colour, lw=3, alpha=0.3, solid_capstyle="butt")
            for end, edge, marker in ((lo, left, "<"), (hi, right, ">")):
                if (end < edge) if marker == "<" else (end > edge):
                    ax.plot([edge], [y], marker, ms=5, color=colour, alpha=0.6, clip_on=False)
                    cut = True
            if log and ratio <= 0:  # ours is 0: no place on a log axis, so marked as cut at the left edge
                ax.plot([left], [y], "<", ms=7, color=colour, clip_on=False)
                cut = True
            else:
                ax.plot([ratio], [y], "o", ms=5.5, alpha=0.85, color=colour, mfc="white" if coarse else colour,
                        mew=1.5)
            used.add(acc)
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("ours / paper (log scale; 1 = the paper's value)")
    else:
        ax.set_xlabel("ours / paper (1 = the paper's value)")
    ax.set_xlim(left, right)
    ax.axvline(1.0, color="k", lw=0.8, ls="--")
    ax.set_yticks(range(len(sections)))
    ax.set_yticklabels([f"{s} ({sum(p[0] == s for p in pts)})" for s in sections], fontsize=10)
    ax.set_ylim(len(sections) - 0.5, -0.5)
    kinds = [acc for acc in (True, False) if acc in used]
    handles = [Line2D([], [], ls="", marker="o", color=colours[acc][0], label=colours[acc][1]) for acc in kinds]
    if any(p[5] for p in pts):
        handles.append(Line2D([], [], ls="", marker="o", color="grey", mfc="white", mew=1.5,
                              label=f"paper value printed with ≤ {COARSE_FIGURES} significant figures"))
    # the rounding bars' swatch in the bars' own colours (one per kind drawn)
    bars = tuple(Line2D([], [], color=colours[acc][0], lw=3, alpha=0.3) for acc in kinds)
    labels = [h.get_label() for h in handles] + [
        "ratios the paper's rounding allows" + (" (◂ ▸: cut at the axis)" if cut else "")]
    handles.append(bars)
    ax.set_title("Our numbers relative to the paper's")
    apart = other_data_rows(rows)
    if apart:  # said in the legend, so that a reader does not look for them on the axis
        from msr.data import describe_dataset

        ours = ", ".join(sorted({describe_dataset(r.dataset) for r in apart}))
        theirs = ", ".join(sorted({describe_dataset(r.paper_data) for r in apart}))
        handles.append(Line2D([], [], ls="", marker=""))
        labels.append(f"not drawn: {len(apart)} trained {'accuracy' if len(apart) == 1 else 'accuracies'} "
                      f"of ours on {ours},\nthe paper's on {theirs} (the table lists them)")
    ax.legend(handles=handles, labels=labels, handler_map={tuple: HandlerTuple(ndivide=None, pad=0)},
              fontsize=9, loc="upper left", bbox_to_anchor=(0.0, -0.2), ncol=1, frameon=False)
    return fig
