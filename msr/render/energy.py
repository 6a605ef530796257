"""Chapter 6, energy: Table V and the energy of our measured models.

Render step of ``book/notebooks/energy.md``: :mod:`msr.chapters.energy` computes, this
module draws (figures and tables from what its ``compute`` returned). The shared pieces
(style, figure saving, tables, boxes, provenance lines) come from :mod:`msr.book`.
"""
from __future__ import annotations

from msr import paper
from msr.book import computed_on, dataset_name
from msr.models import paper_name


def _ratio_decimals() -> int:
    """The decimals Table V prints its E(ANN) / E(SNN) column with (one precision per column)."""
    from msr.chapters.report import decimals

    return max(decimals(p["ratio"]) for p in paper.TABLE_V.values())


def energy_numbers(rows: list[dict]):
    """Table V, one row per number of the paper beside ours (:func:`msr.chapters.energy.table_v_rows`),
    each in the paper's unit (mJ or µJ, G or M), all decimals: the table's CSV."""
    import pandas as pd

    from msr.chapters.energy import table_v_rows
    from msr.render.report import report_frame

    df = report_frame(table_v_rows(rows), "")[["quantity", "unit", "paper", "ours", "ours − paper"]]
    return df.assign(ours=pd.to_numeric(df["ours"], errors="coerce"))  # "not run" reads as an empty cell here


def energy_frame(rows: list[dict]):
    """:func:`energy_numbers` as it prints: the paper's values as numbers (:func:`energy_digits`
    gives their decimals), ours and the difference written out with one decimal more
    (:func:`msr.render.report.with_decimals`)."""
    from msr.render.report import with_decimals

    return with_decimals(energy_numbers(rows), energy_digits(rows))


def energy_digits(rows: list[dict]) -> dict:
    """Per column of :func:`energy_frame`, the decimals of each row: the paper's as Table V prints
    them, ours and the difference with one more (:func:`msr.render.report.report_digits`)."""
    from msr.chapters.energy import table_v_rows
    from msr.render.report import report_digits

    return report_digits(table_v_rows(rows))


def energy_unit(measured: dict) -> tuple[str, float]:
    """The unit of :func:`measured_energy_frame`'s energies and its factor from mJ: µJ where every
    energy is below 1 mJ (Table V prints its DVS row in µJ), else mJ."""
    small = all(max(m["e_ann_mj"], m["e_snn_mj"]) < 1.0 for m in measured.values())
    return ("µJ", 1e3) if small else ("mJ", 1.0)


def with_note(name: str, note: str) -> str:
    """``name`` with ``note`` inside its closing bracket, one bracket, not two:
    ``MS-ResNet20 (DVS)`` and ``per frame`` give ``MS-ResNet20 (DVS, per frame)``."""
    return f"{name[:-1]}, {note})" if name.endswith(")") else f"{name} ({note})"


def measured_label(label: str, m: dict) -> str:
    """A measured model's name with its data and how it is counted: ``MS-ResNet20 (short run,
    Fashion-MNIST, per sample)``, so that a static model's ratio is not read as an event
    model's (per frame, Sec. IV-C)."""
    per = "frame" if m.get("per_frame") else "sample"
    return with_note(paper_name(label), f"{dataset_name(m['dataset'])}, per {per}")


def _tick_label(label: str) -> str:
    """A model's label on the energy figure's axis: the name, then its bracket on lines of at
    most 26 characters, so the labels leave the plot most of the figure's width."""
    import textwrap

    name, _, rest = label.partition(" (")
    return name + ("\n" + textwrap.fill("(" + rest, 26, break_on_hyphens=False) if rest else "")


def measured_energy_frame(measured: dict):
    """Energy from our measured firing rates: one row per quantity, one column per model."""
    import pandas as pd

    unit, scale = energy_unit(measured)
    rows = {}
    for label, m in measured.items():
        p = paper.TABLE_V.get(label, {})
        rows[paper_name(label)] = {"data": dataset_name(m["dataset"]), "training": m.get("budget"), "T": m["T"],
                       "counted per": "frame" if m.get("per_frame") else "sample",
                       "our firing rate": m["rate"], "paper firing rate": p.get("rate"),
                       "our MACs (M)": m["flops"] / 1e6, "our SyOPs (M)": m["syops"] / 1e6,
                       f"our E(ANN) ({unit})": m["e_ann_mj"] * scale, f"our E(SNN) ({unit})": m["e_snn_mj"] * scale,
                       "our E(ANN) / E(SNN)": m["ratio"], "our ratio, per-conv rates": m["ratio_measured"],
                       "paper E(ANN) / E(SNN)": p.get("ratio"), "hardware · commit": computed_on(m.get("provenance"))}
    df = pd.DataFrame(rows)
    df.index.name = "quantity"
    return df


def measured_energy_digits(measured: dict) -> dict:
    """Per column of :func:`measured_energy_frame`, the decimals of each row: three, the paper's
    firing rate and ratio as the paper prints them (0.2219, 24.73), our rate with one more."""
    from msr.chapters.report import decimals

    df, ratio = measured_energy_frame(measured), _ratio_decimals()
    out = {}
    for label in measured:
        p = paper.TABLE_V.get(label, {})
        rate = decimals(p["rate"]) if p.get("rate") else 2
        d = {"paper firing rate": rate, "our firing rate": max(3, rate + 1), "paper E(ANN) / E(SNN)": ratio}
        out[paper_name(label)] = [d.get(q, 3) for q in df.index]
    return out


def plot_energy(rows: list[dict], measured: dict | None = None):
    """Energy per sample (mJ, log scale; per frame for event data) of the ANN (squares) and the
    SNN (circles): the paper's (hollow grey) and ours (filled blue) per model of Table V, then
    our measured models; E(ANN) / E(SNN) printed beside each pair."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    ratio_decimals = _ratio_decimals()
    # (label, paper E(ANN), E(SNN), ratio, ours E(ANN), E(SNN)); event data: both sides per frame (Sec. IV-C)
    names = [with_note(paper_name(r["model"]), "per frame") if r["model"].startswith("dvs") else paper_name(r["model"])
             for r in rows]
    cats = [(name, r.get("paper E(ANN) mJ"), r.get("paper E(SNN) mJ"), r.get("paper ratio"), r.get("our E(ANN) mJ"),
             r.get("our E(SNN) mJ")) for name, r in zip(names, rows, strict=True)]
    cats += [(measured_label(k, m), None, None, None, m["e_ann_mj"], m["e_snn_mj"])
             for k, m in (measured or {}).items()]
    fig, ax = plt.subplots(figsize=(6.4, 2.4 + 0.6 * len(cats)))
    styles = {"paper": dict(color="#636363", mfc="white"), "ours": dict(color="#08519c")}
    right = []
    for i, (_, p_ann, p_snn, p_ratio, o_ann, o_snn) in enumerate(cats):
        pairs = [(src, ann, snn, ratio, d) for src, ann, snn, ratio, d in
                 (("paper", p_ann, p_snn, p_ratio, ratio_decimals),
                  ("ours", o_ann, o_snn, o_ann / o_snn if o_ann and o_snn else None, ratio_decimals + 1))
                 if ann is not None]
        for j, (src, ann, snn, ratio, d) in enumerate(pairs):
            y = i + (0.17 * (2 * j - 1) if len(pairs) == 2 else 0.0)
            style = styles[src]
            if snn is not None:
                ax.plot([snn, ann], [y, y], lw=1, color=style["color"], alpha=0.6)
                ax.plot([snn], [y], "o", ms=7, mew=1.5, **style)
            ax.plot([ann], [y], "s", ms=7, mew=1.5, **style)
            if ratio is not None:
                ax.annotate(f"{ratio:.{d}f}×", (ann, y), xytext=(8, 0), textcoords="offset points", va="center",
                            fontsize=9, color=style["color"])
            right.append(ann)
    ax.set_xscale("log")
    ax.set_xlim(right=max(right) * 12 if right else None)
    ax.set_yticks(range(len(cats)))
    ax.set_yticklabels([_tick_label(c[0]) for c in cats], fontsize=10)
    ax.set_ylim(len(cats) - 0.5, -0.5)
    ax.grid(axis="y", visible=False)  # a model's two pairs sit either side of its tick
    ax.set_xlabel(f"energy per sample or frame (mJ, log scale)\n{paper.ENERGY_PJ['mac']:g} pJ per MAC, "
                  f"{paper.ENERGY_PJ['ac']:g} pJ per AC")
    ax.set_title("Table V: energy of the ANN and the SNN")
    handles = [Line2D([], [], ls="", marker=m, ms=7, mew=1.5, label=f"{src} {what}", **styles[src])
               for src in ("paper", "ours") for m, what in (("s", "E(ANN)"), ("o", "E(SNN)"))]
    handles.append(Line2D([], [], ls="", marker=r"$n\times$", ms=16, color="#636363",
                          label="E(ANN) / E(SNN)"))
    ax.legend(handles=handles, fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.24), ncol=3, frameon=False)
    return fig
