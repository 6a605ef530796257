"""Helpers the book's notebooks share: parameters, figure style, provenance captions,
tables beside the paper's values, and the "not computed yet" box.

A notebook is narrative plus a few calls into :mod:`msr.chapters` (compute) and this
module (render).  Everything here renders; nothing here trains.

Labelling rules the helpers enforce:

* every figure carries a footer naming the profile, the data set, the hardware and the
  commit that produced it (from the stored provenance);
* values from :mod:`msr.paper` are labelled ``paper``; ours are labelled with the profile;
* an item the results store does not hold is shown as a warning box with the command
  that computes it, never as a blank or a copied value.
"""
from __future__ import annotations

import math
import os
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from msr.provenance import commit_of, date_of, hardware_of

#: The parameters every chapter notebook takes (its first code cell, tagged ``parameters``).
PARAMETERS: dict[str, Any] = {
    "profile": "fmnist",
    "device": "cpu",
    "recompute": False,
    "render_only": False,
    "data_root": "data",
}
#: Names IPython puts into a kernel's namespace; never parameters.
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}

ROOT = Path(os.environ.get("MSR_ROOT", Path(__file__).resolve().parents[1]))
FIGURES = ROOT / "figures"


class ParameterError(ValueError):
    """A notebook parameter is unknown, misspelt or impossible."""


def profile_names() -> list[str]:
    from msr.profiles import PROFILES

    return list(PROFILES)


def check_device(device: str, require: bool = True) -> str:
    """``cpu``, ``cuda``, ``cuda:N`` or ``auto``; ``auto`` picks CUDA when present.
    ``require=False`` (render-only runs, which never compute on it) accepts a CUDA
    device this machine lacks."""
    if not isinstance(device, str):
        raise ParameterError(f"device must be a string (cpu, cuda, cuda:N, auto), got {device!r}")
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    base, _, idx = device.partition(":")
    if base not in ("cpu", "cuda") or (idx and not idx.isdigit()) or (base == "cpu" and idx):
        raise ParameterError(f"unknown device {device!r}; valid: cpu, cuda, cuda:N, auto")
    if base == "cuda" and require:
        import torch

        if not torch.cuda.is_available():
            raise ParameterError(f"device {device!r} asked for, but CUDA is not available here; use device='cpu'")
    return device


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ParameterError(f"parameter {name!r} must be true or false, got {value!r}")


@dataclass(frozen=True)
class Params:
    """The validated parameters of one notebook run."""

    profile: str
    device: str
    recompute: bool
    render_only: bool
    data_root: str
    extra: dict = field(default_factory=dict)


def check_parameters(values: dict[str, Any], extra_allowed: Iterable[str] = ()) -> Params:
    """Validate parameter values by name; unknown names and impossible values raise
    :class:`ParameterError` naming what is valid."""
    allowed = set(PARAMETERS) | set(extra_allowed)
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))}; valid parameters: {', '.join(sorted(allowed))}"
        )
    v = {**PARAMETERS, **values}
    profiles = profile_names()
    if v["profile"] not in profiles:
        raise ParameterError(f"unknown profile {v['profile']!r}; valid profiles: {', '.join(profiles)}")
    recompute = _as_bool("recompute", v["recompute"])
    render_only = _as_bool("render_only", v["render_only"])
    if recompute and render_only:
        raise ParameterError("recompute and render_only cannot both be true (render_only never computes)")
    if not isinstance(v["data_root"], str) or not v["data_root"]:
        raise ParameterError(f"data_root must be a non-empty path, got {v['data_root']!r}")
    device = check_device(v["device"], require=not render_only)
    return Params(v["profile"], device, recompute, render_only, v["data_root"],
                  {k: v[k] for k in sorted(set(extra_allowed) & set(v))})


def parameters(namespace: dict[str, Any], extra: Iterable[str] = ()) -> Params:
    """Validate the parameters a notebook holds after papermill injected its own.

    Papermill only *warns* about a parameter the notebook does not declare and then
    defines it anyway; this looks at every public, non-module global of the notebook
    (call it before any import besides ``msr.book``), so ``-p profle smoke`` stops the
    notebook with a message naming the valid parameters.
    """
    values = {
        k: v for k, v in namespace.items()
        if not k.startswith("_") and k not in _IPYTHON_NAMES and not isinstance(v, types.ModuleType)
        and not callable(v)
    }
    return check_parameters(values, extra)


# ---------------------------------------------------------------- provenance ----
# hardware_of, commit_of, date_of: the readers of msr.provenance's schema (imported above).

def dataset_of(profile: str, experiment: str | None = None) -> str:
    """The data set a profile's runs use (from :mod:`msr.profiles`)."""
    from msr.profiles import get_profile

    p = get_profile(profile)
    for key in ("dataset", "data"):
        val = getattr(p, key, None) if not isinstance(p, dict) else p.get(key)
        if isinstance(val, str):
            return val
        if isinstance(val, dict) and experiment in val:
            return str(val[experiment])
    return {"smoke": "synthetic / tiny subset", "fmnist": "Fashion-MNIST", "paper": "paper's data sets"}.get(profile, "?")


def provenance_line(profile: str, provs: Iterable[dict | None], dataset: str | None = None) -> str:
    """``profile smoke · data synthetic · hardware CPU ... · commit abc · 2025-..``
    for one or more stored results (distinct values are joined)."""
    provs = [p for p in provs if p]
    if not provs:
        return f"profile {profile} · data {dataset or dataset_of(profile)} · no stored results yet"

    def uniq(fn):
        vals = sorted({fn(p) for p in provs}) or ["unknown"]
        return ", ".join(vals[:3]) + (f" (+{len(vals) - 3})" if len(vals) > 3 else "")
    parts = [f"profile {profile}"]
    parts.append(f"data {dataset or dataset_of(profile)}")
    parts.append(f"hardware {uniq(hardware_of)}")
    parts.append(f"commit {uniq(commit_of)}")
    parts.append(f"date {uniq(lambda p: date_of(p)[:10])}")
    return " · ".join(parts)


def local_provenance() -> dict:
    """Provenance of something computed right here (structure counts, analytic values)."""
    from msr.provenance import provenance

    return provenance()


# ---------------------------------------------------------------- rendering ----

PALETTE = {"plain": "#7f7f7f", "vanilla": "#d62728", "wolif": "#ff7f0e", "ms": "#1f77b4",
           "sr_a": "#1f77b4", "sr_b": "#2ca02c", "sr_c": "#9467bd", "paper": "#000000"}
BLOCK_LABELS = {"plain": "PlainNet", "vanilla": "Vanilla spiking ResNet", "wolif": "W/O interblock LIF",
                "ms": "MS-ResNet (SR-A)", "sr_a": "MS-ResNet (SR-A)", "sr_b": "SR-B", "sr_c": "SR-C"}


def use_style() -> None:
    """The one figure style of the book (seaborn, colour-blind palette, readable sizes)."""
    import matplotlib

    matplotlib.rcParams.update({"svg.hashsalt": "msr", "svg.fonttype": "none"})
    import seaborn as sns

    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind",
                  rc={"figure.dpi": 100, "savefig.dpi": 120, "figure.figsize": (7.0, 4.2),
                      "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 9,
                      "savefig.bbox": "tight", "svg.hashsalt": "msr", "svg.fonttype": "none"})


def save_figure(fig, name: str, profile: str, footer: str):
    """Stamp ``footer`` (profile, data set, hardware, commit) on ``fig`` and write
    ``figures/<profile>/<name>.png`` and ``.svg``; returns the figure for display."""
    import matplotlib.pyplot as plt

    try:
        fig.tight_layout()
    except Exception:  # noqa: BLE001 - polar/complex layouts: keep matplotlib's own
        pass
    fig.text(0.0, -0.01, footer, fontsize=7, color="#555555", ha="left", va="top",
             transform=fig.transFigure)
    out = FIGURES / profile
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / f"{name}.png")
    fig.savefig(out / f"{name}.svg", metadata={"Date": None})
    plt.close(fig)
    return fig


def md(text: str):
    """A MyST-markdown output (rendered by the book like page text)."""
    from IPython.display import Markdown

    return Markdown(text)


def not_computed(name: str, profile: str, what: str = "this result") -> str:
    """The MyST box shown where the store holds nothing for an item."""
    return (
        ":::{admonition} Not computed yet\n:class: warning\n"
        f"The results store holds no `{profile}` result for {what}. Compute it with\n\n"
        f"`msr reproduce --profile {profile} --only {name}` (or `msr compute {name} --profile {profile} --device cuda`).\n"
        ":::\n"
    )


def smoke_note(profile: str) -> str:
    if profile != "smoke":
        return ""
    return (":::{admonition} Smoke profile: these numbers mean nothing\n:class: caution\nThe numbers and figures on this page come from the `smoke` "
            "profile: tiny models, T = 2, a few steps on synthetic or tiny data. They prove that the "
            "pipeline runs end to end and **mean nothing** about the paper's claims.\n:::\n")


def header(params: Params, chapter: str):
    """Markdown shown at the top of every chapter: the run's parameters and, for smoke,
    the warning that its numbers mean nothing."""
    mode = "render only (reads the results store)" if params.render_only else (
        "recompute" if params.recompute else "compute what the store lacks")
    text = (f"*Rendered with profile `{params.profile}` (data: {dataset_of(params.profile)}), "
            f"mode: {mode}.*\n\n" + smoke_note(params.profile))
    return md(text)


def fmt(x: Any, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def table(df, name: str, profile: str, caption: str, footer: str, digits: int = 2):
    """Write ``results/<profile>/tables/<name>.csv`` and return a styled table whose
    caption names the provenance.  Columns from the paper should be named ``paper ...``."""
    from msr.results import default_root

    out = default_root() / profile / "tables"
    out.mkdir(parents=True, exist_ok=True)
    df.to_csv(out / f"{name}.csv", index=True)
    styler = df.style.format(lambda v: fmt(v, digits), na_rep="—")
    paper_cols = [c for c in df.columns if "paper" in str(c).lower()]
    if paper_cols:
        styler = styler.set_properties(subset=paper_cols, **{"color": "#555", "font-style": "italic"})
    styler = styler.set_caption(f"{caption}<br><small>{footer}</small>")
    styler = styler.set_table_attributes('class="msr-table"')
    return styler


#: How a claim row of each kind (msr.chapters.CLAIM_KINDS) reads: only ``evidence`` rows are
#: reproduction results; the others are checks that cannot tell us whether the paper holds.
CLAIM_VERDICTS = {
    "evidence": {True: "**shown** by our run", False: "**not shown** by our run", None: "**not run** yet"},
    "arithmetic": {True: "**agrees**", False: "**disagrees**", None: "**not run** yet"},
    "by construction": {True: "**holds**", False: "**fails**", None: "**not run** yet"},
}
CLAIM_LABELS = {"evidence": "evidence",
                "arithmetic": "arithmetic check, not a reproduction result",
                "by construction": "holds by construction, not a reproduction result"}


def verdict(shown: bool | None, kind: str = "evidence") -> str:
    """A computed claim status in words, for a claim of ``kind``."""
    if kind not in CLAIM_VERDICTS:
        raise ValueError(f"unknown claim kind {kind!r}; valid: {', '.join(CLAIM_VERDICTS)}")
    return CLAIM_VERDICTS[kind][shown]


def claim_md(paper: str, shown: bool | None, evidence: str, profile: str, kind: str = "evidence") -> str:
    verdict_text = verdict(shown, kind)  # validates kind
    return f"- *Paper:* {paper}  \n  *Ours ({profile}) [{CLAIM_LABELS[kind]}]:* {verdict_text} — {evidence}"


# ------------------------------------------------------- chapter 1: structure ----

_KIND_STYLE = {"Conv": ("Conv 3x3", "#9ecae1"), "Norm": ("BN", "#a1d99b"), "LIF": ("LIF", "#fdae6b")}


def draw_block_flows(flows: dict, order=("plain", "vanilla", "wolif", "ms", "sr_b", "sr_c")):
    """Fig. 1 / 2a / 6: one column per block type, drawn from the forward order traced
    on the module (:func:`msr.structure.block_flow`), not from a picture."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    order = [b for b in order if b in flows]
    fig, axes = plt.subplots(1, len(order), figsize=(2.1 * len(order), 6.2))
    for ax, name in zip(axes, order):
        f = flows[name]
        steps = f["path"] + (["+"] if f["shortcut"] else []) + f["post"]
        n = len(steps) + 2
        ys = {i: 1 - (i + 0.5) / n for i in range(n)}
        carried = "membrane pot." if not f["spiking_input"] else (
            "spikes" if f["spiking_output"] else "spikes / prev. sum")
        ax.text(0.5, ys[0], f"input\n({carried})", ha="center", va="center", fontsize=8)
        prev = ys[0]
        for i, step in enumerate(steps, 1):
            y = ys[i]
            ax.annotate("", xy=(0.5, y + 0.035), xytext=(0.5, prev - 0.035),
                        arrowprops=dict(arrowstyle="->", lw=1.0, color="#333"))
            if step == "+":
                ax.text(0.5, y, "\u2295", ha="center", va="center", fontsize=18)
                # shortcut: from the input around the right-hand side into the adder
                ax.plot([0.5, 0.9, 0.9, 0.535], [ys[0] - 0.03, ys[0] - 0.03, y, y], color="#d62728", lw=1.2)
                ax.text(0.93, (ys[0] + y) / 2, "shortcut", rotation=90, va="center", fontsize=7, color="#d62728")
            else:
                label, colour = _KIND_STYLE.get(f["kinds"].get(step, ""), (step, "#dddddd"))
                ax.add_patch(FancyBboxPatch((0.2, y - 0.03), 0.6, 0.06, boxstyle="round,pad=0.005",
                                            fc=colour, ec="#333", lw=0.8, transform=ax.transAxes))
                ax.text(0.5, y, f"{label}  ({step})", ha="center", va="center", fontsize=7.5)
            prev = y
        out = "spikes" if f["spiking_output"] else "membrane pot."
        ax.annotate("", xy=(0.5, ys[n - 1] + 0.03), xytext=(0.5, prev - 0.035),
                    arrowprops=dict(arrowstyle="->", lw=1.0, color="#333"))
        ax.text(0.5, ys[n - 1], f"output\n({out})", ha="center", va="center", fontsize=8)
        ax.set_title(BLOCK_LABELS.get(name, name), fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.axis("off")
    fig.suptitle("Residual blocks as built: forward order traced with hooks on the modules", fontsize=11)
    return fig


def models_frame(structure: dict):
    """Parameters and MACs of every model (ours, counted) beside the paper's (Table IV, V)."""
    import pandas as pd
    from msr import paper

    rows = []
    for r in structure["models"]:
        p = paper.TABLE_V.get(r["label"], {})
        rows.append({
            "model": r["label"], "input": "x".join(map(str, r["input_size"])),
            "params (M)": r["params"] / 1e6,
            "paper params (M)": paper.DVS_PARAMS / 1e6 if r["label"] == "dvs_resnet20" else None,
            "residual MACs (M)": r["macs_residual"] / 1e6,
            "paper FLOPs (M)": p["flops"] / 1e6 if p else None,
            "encoding MACs (M)": r["macs_encoding"] / 1e6, "shortcut MACs (M)": r["macs_shortcut"] / 1e6,
            "total MACs (M)": r["macs_total"] / 1e6,
        })
    return pd.DataFrame(rows).set_index("model")


def stages_frame(shapes: list[dict], depth_check: bool = False):
    """A structure table as built (Table I / IX) from traced stage shapes."""
    import pandas as pd

    rows = []
    for s in shapes:
        if s["stage"] == 0:
            rows.append({"stage": "stem (encoding layer)", "layers": 1, "blocks": "",
                         "output": s.get("output", ""), "channels": s.get("channels", ""),
                         "note": f"{s.get('kernel')}x{s.get('kernel')} conv, stride {s.get('stride')}"})
        else:
            rows.append({"stage": str(s["stage"]), "layers": 2 * s["blocks"], "blocks": s["blocks"],
                         "output": s["output"], "channels": s["channels"], "note": ""})
    return pd.DataFrame(rows).set_index("stage")


# ---------------------------------------------------------- chapter 3: Eq. 8 ----

def plot_eq8(eq8: dict):
    """P(state change) against sigma: closed form (lines), Monte-Carlo (dots), paper's point."""
    import matplotlib.pyplot as plt
    import pandas as pd
    from msr import paper

    df = pd.DataFrame(eq8["grid"])
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for rate, g in df.groupby("rate"):
        line, = ax.plot(g["sigma"], g["analytic"], label=f"Eq. 8, firing rate {rate:g}")
        ax.plot(g["sigma"], g["monte_carlo"], "o", ms=4, color=line.get_color(), label=f"Monte-Carlo, rate {rate:g}")
    ax.plot([paper.NEURON["v_th"]], [paper.EQ8_PROBABILITY], "k*", ms=12, label="paper: about 16 % at sigma = V_th")
    ax.set_xlabel("sigma of the residual F (V_th = 0.5)")
    ax.set_ylabel("P(block changes the firing state)")
    ax.legend(fontsize=8)
    ax.set_title("Unavailing residuals (Eq. 7-8)")
    return fig


# ----------------------------------------------------------- chapter 12: report ----

def report_frame(rows: list, profile: str):
    import pandas as pd

    return pd.DataFrame([r.as_dict(profile) for r in rows])


def claims_md(claims: list[dict], profile: str) -> Any:
    return md("\n".join(claim_md(c["paper"], c["shown"], c["evidence"], profile, c.get("kind", "evidence"))
                        for c in claims))


def claim_tally(claims: list[dict]) -> dict:
    """Counts for the report: ``shown`` / ``not shown`` / ``not run`` over the ``evidence``
    claims only, and how many claims of the other kinds (checks, not results) there are."""
    ev = [c for c in claims if c.get("kind", "evidence") == "evidence"]
    other = {k: sum(c.get("kind") == k for c in claims) for k in CLAIM_VERDICTS if k != "evidence"}
    return {"shown": sum(c["shown"] is True for c in ev), "not shown": sum(c["shown"] is False for c in ev),
            "not run": sum(c["shown"] is None for c in ev), "evidence": len(ev), **other}


def box(name: str, profile: str, what: str, needs: str | None = None):
    """The "not computed yet" box as a displayable; ``needs``: the chapter whose runs it reads."""
    text = not_computed(needs or name, profile, what)
    if needs:
        text = text.replace(":::\n", f"(This chapter analyses the runs of chapter `{needs}`; then rerun `--only {name}`.)\n:::\n")
    return md(text)


def provs(*items) -> list:
    """Provenance records of stored results (dicts with a ``provenance`` key), skipping None."""
    out = []
    for it in items:
        if isinstance(it, dict) and "provenance" in it:
            out.append(it["provenance"])
        elif isinstance(it, dict):
            out += provs(*it.values())
        elif isinstance(it, (list, tuple)):
            out += provs(*it)
    return out


# ------------------------------------------------------ chapter 2: degradation ----

def acc_cell(r: dict | None, digits: int = 2):
    """A table cell of a trained accuracy over seeds (:func:`msr.chapters._runs.seed_summary`):
    ``"91.23 ± 0.41 (3)"`` for n > 1 seeds, ``"91.23 (1)"`` for one, ``(2 of 3)`` when
    seeds asked for are missing, ``"not run"`` for none."""
    if not r:
        return "not run"
    n, planned = r.get("n", 1), r.get("planned", r.get("n", 1))
    count = f"({n})" if planned <= n else f"({n} of {planned})"
    if n > 1 and r.get("std") is not None:
        return f"{r['acc']:.{digits}f} ± {r['std']:.{digits}f} {count}"
    return f"{r['acc']:.{digits}f} {count}"


#: caption note for tables of :func:`acc_cell` cells
SEEDS_CAPTION = "ours: mean ± std over seeds (n seeds in brackets)"


def _errorbars(ax, points: list[tuple], color, label=None, fmt="o-"):
    """``points``: [(x, summary)]: the mean with ± std bars and each seed's value as a small dot."""
    pts = sorted(points, key=lambda p: p[0])
    xs = [x for x, _ in pts]
    ax.errorbar(xs, [r["acc"] for _, r in pts], yerr=[r.get("std") or 0.0 for _, r in pts], fmt=fmt, color=color,
                capsize=3, label=label)
    seeds = [(x, a) for x, r in pts if r.get("n", 1) > 1 for a in r.get("accs", ())]
    if seeds:
        ax.plot(*zip(*seeds), ".", color=color, alpha=0.4, markersize=4)

def accuracy_frame(table: dict, paper_table: dict, labels: dict, depths=None):
    """Rows: block type; columns: ``ours d`` and ``paper d`` for each depth (Table II / VI)."""
    import pandas as pd

    depths = depths or sorted({d for _, d in table} | {d for v in paper_table.values() for d in v})
    rows = []
    for block, label in labels.items():
        row = {"model": label}
        for d in depths:
            r = table.get((block, d))
            row[f"ours {d}"] = acc_cell(r)
            row[f"paper {d}"] = paper_table.get(block, {}).get(d)
        rows.append(row)
    return pd.DataFrame(rows).set_index("model")


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
    return pd.DataFrame(rows).set_index("model")


def plot_depth(table: dict, paper_table: dict, labels: dict, title: str):
    """Accuracy against depth per block type: ours solid, mean ± std over seeds with each
    seed as a small dot; the paper's dashed."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    for block, label in labels.items():
        c = PALETTE.get(block)
        ours = [(d, r) for (b, d), r in table.items() if b == block and r]
        if ours:
            _errorbars(axes[0], ours, c, label)
        pp = sorted((d, a) for d, a in paper_table.get(block, {}).items() if a is not None)
        if pp:
            axes[1].plot(*zip(*pp), "s--", color=c, label=label)
    axes[0].set_title("ours (mean ± std over seeds, dots: seeds)")
    axes[1].set_title("paper")
    for ax in axes:
        ax.set_xlabel("depth")
        ax.set_ylabel("test accuracy (%)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    return fig


# ------------------------------------------------------- chapter 3: trained ----

def plot_ssim(series: dict):
    import matplotlib.pyplot as plt

    from msr.analysis.ssim import plot_ssim_radar

    fig, axes = plt.subplots(1, 2, figsize=(11, 5), subplot_kw={"projection": "polar"})
    for ax, depth in zip(axes, (44, 56)):
        s = {f"{'vanilla' if k.startswith('vanilla') else 'MS'} ResNet-{depth}": v["ssim"]
             for k, v in series.items() if k.endswith(f"-{depth}")}
        if s:
            plot_ssim_radar(ax, s)
        ax.set_title(f"depth {depth}: SSIM of consecutive blocks", fontsize=10)
    return fig


def plot_state_change(rows_by_label: dict, eq8: float):
    import matplotlib.pyplot as plt

    from msr.analysis.unavailing import plot_state_changes

    fig, ax = plt.subplots(figsize=(7, 4))
    plot_state_changes(ax, rows_by_label, eq8=eq8)
    ax.set_title("How often a vanilla block changes a neuron's firing state")
    return fig


# ------------------------------------------------------ chapter 4: isometry ----

def plot_isometry(rows: list[dict]):
    import matplotlib.pyplot as plt

    init = [r for r in rows if r["state"] == "init"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for ax, block in zip(axes[:2], ("vanilla", "ms")):
        for r in sorted((r for r in init if r["block"] == block), key=lambda r: r["depth"]):
            g = np.asarray(r["grad_norms"], dtype=float)
            ax.plot(np.linspace(0, 1, len(g)), np.where(g > 0, g, np.nan), label=f"depth {r['depth']}")
        ax.set_yscale("log")
        ax.set_title(f"{BLOCK_LABELS[block]} at initialisation", fontsize=10)
        ax.set_xlabel("relative block position (input = 0)")
        ax.set_ylabel("||dL / d x_i||")
        ax.legend(fontsize=7)
    for block in ("vanilla", "ms"):
        pts = sorted((r["depth"], float(np.mean(r["phi"]))) for r in init if r["block"] == block and r.get("phi"))
        if pts:
            axes[2].plot(*zip(*pts), "o-", color=PALETTE[block], label=BLOCK_LABELS[block])
    axes[2].axhline(1.0, color="k", lw=0.8, ls="--", label="isometry: phi = 1")
    axes[2].set_xscale("log")
    axes[2].set_xlabel("depth")
    axes[2].set_ylabel("mean phi(J J^T) over blocks")
    axes[2].legend(fontsize=8)
    return fig



# ---------------------------------------------------- chapter 5: benchmarks ----

def benchmark_frames(R: dict, profile: str):
    """Table III and IV: the paper's rows (labelled paper or cited) and ours."""
    import pandas as pd
    from msr import paper

    def ours(exp, model):
        for b in R.get(exp, []):
            if b["model"] == model:
                return (b["result"]["acc"] if b["result"] else f"not run ({b['why']}): {b['command']}"), b
        return "not in this profile's sweep", None

    rows = [{"method": m, "work": w, "model": mo, "T": t, "paper / cited acc (%)": a, "ours": ""}
            for m, w, mo, t, a in paper.TABLE_III_OTHERS]
    for (model, T), acc in paper.TABLE_III.items():
        o, b = ours("imagenet", model)
        rows.append({"method": "direct training", "work": "MS-ResNet (paper)", "model": model, "T": str(T),
                     "paper / cited acc (%)": acc, "ours": o if b is None or b["T"] == T else f"{o} (T = {b['T']})"})
    rows.append({"method": "direct training", "work": "MS-ResNet (paper)", "model": "imagenet_resnet104, 288 px",
                 "T": "5", "paper / cited acc (%)": paper.TABLE_III_104_AT_288, "ours": "not in this profile's sweep"})
    t3 = pd.DataFrame(rows)
    o, b = ours("dvs", "dvs_resnet20")
    rows = [{"work": w, "method": m, "params (M)": (p / 1e6 if p else None), "paper / cited acc (%)": a,
             "ours": o if w == "paper" else "", "our data": (b or {}).get("data", "") if w == "paper" else ""}
            for w, m, p, a in paper.TABLE_IV]
    t4 = pd.DataFrame(rows).set_index("work")
    return t3, t4


def plot_event_frames(ex: dict, max_frames: int = 10):
    """Emulated DVS samples (:func:`msr.data.emulated_examples`): the source image, then
    its event frames (equal event count each), ON events orange, OFF events blue."""
    import matplotlib.pyplot as plt

    frames = np.asarray(ex["frames"])  # [n, T, 2, S, S]
    n, T = frames.shape[:2]
    shown = min(T, max_frames)
    on_c, off_c = np.array([0.90, 0.62, 0.0]), np.array([0.0, 0.45, 0.70])  # colour-blind safe pair
    fig, axes = plt.subplots(n, shown + 1, figsize=(1.25 * (shown + 1), 1.35 * n), squeeze=False)
    for i in range(n):
        scale = max(float(np.percentile(frames[i][frames[i] > 0], 99)) if (frames[i] > 0).any() else 1.0, 1.0)
        axes[i, 0].imshow(ex["images"][i], cmap="gray", vmin=0, vmax=255)
        axes[i, 0].set_title(f"{ex['classes'][i]}", fontsize=7)
        axes[i, 0].set_ylabel(f"{ex['counts'][i]:,} events", fontsize=7)
        for k in range(shown):
            on = np.clip(frames[i, k, 1] / scale, 0, 1)[..., None]
            off = np.clip(frames[i, k, 0] / scale, 0, 1)[..., None]
            rgb = np.clip(1.0 - on * (1.0 - on_c) - off * (1.0 - off_c), 0, 1)
            axes[i, k + 1].imshow(rgb, interpolation="nearest")
            if i == 0:
                axes[i, k + 1].set_title(f"frame {k + 1}", fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.grid(False)
    p = ex["params"]
    fig.suptitle(f"{ex['label']}: T = {T} frames of equal event count (ON orange, OFF blue); "
                 f"{p['sensor']}x{p['sensor']} sensor, C = {p['threshold']}, saccades of {p['amplitude']:g} px "
                 f"x 3 x {p['move_ms']:g} ms", fontsize=8)
    return fig


# ------------------------------------------------------- chapter 6: energy ----

def measured_energy_frame(measured: dict):
    import pandas as pd
    from msr import paper

    rows = []
    for label, m in measured.items():
        p = paper.TABLE_V.get(label, {})
        rows.append({"model": label, "data": m["dataset"], "training": m.get("budget"), "T": m["T"],
                     "counted per": "frame" if m.get("per_frame") else "sample",
                     "our rate": m["rate"],
                     "paper rate": p.get("rate"), "our MACs (M)": m["flops"] / 1e6,
                     "our SyOPs (M)": m["syops"] / 1e6, "our E(ANN) mJ": m["e_ann_mj"],
                     "our E(SNN) mJ": m["e_snn_mj"], "our ratio": m["ratio"],
                     "our ratio (per-conv rates)": m["ratio_measured"], "paper ratio": p.get("ratio")})
    return pd.DataFrame(rows).set_index("model")


# ------------------------------------------------------- chapter 7: firing ----

def plot_firing(models: dict, rasters: dict):
    import matplotlib.pyplot as plt

    from msr.analysis.firing import plot_block_rates, plot_raster

    n = len(models)
    fig, axes = plt.subplots(n, 2, figsize=(13, 3.8 * n), squeeze=False)
    for (label, m), row in zip(models.items(), axes):
        plot_block_rates(row[0], m["blocks"])
        row[0].set_title(f"{label}: firing rate per block and LIF (network {m['network_rate']:.3f})", fontsize=10)
        r = {f"{m['kept'][i]}": rasters[f"{label}__{i}"] for i in range(len(m["kept"])) if f"{label}__{i}" in rasters}
        if r:
            plot_raster(row[1], r, T=m["T"])
        row[1].set_title(f"{label}: spikes of 100 neurons, 3 layers", fontsize=10)
    return fig


# ---------------------------------------------------- chapter 8: landscape ----

def plot_landscapes(landscapes: dict):
    import matplotlib.pyplot as plt

    from msr.analysis.landscape import plot_landscape

    keys = sorted(landscapes, key=lambda k: (k.split("-")[0] != "vanilla", int(k.split("-")[1])))
    depths = sorted({int(k.split("-")[1]) for k in keys})
    fig, axes = plt.subplots(2, len(depths), figsize=(3.6 * len(depths), 7), squeeze=False)
    for k in keys:
        b, d = k.split("-")
        ax = axes[0 if b == "vanilla" else 1][depths.index(int(d))]
        plot_landscape(ax, landscapes[k], levels=15, log=True, clabel=False)
        ax.set_title(f"{BLOCK_LABELS[b].split(' (')[0]}-{d}\nnon-convex share {landscapes[k]['nonconvexity']:.2f}",
                     fontsize=9)
    return fig


# --------------------------------------------------------- chapter 9: init ----

def plot_init(a: list[dict], b: list[dict]):
    import matplotlib.pyplot as plt
    import pandas as pd

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    df = pd.DataFrame([r for r in a if r.get("acc") is not None])
    for ax, norm in zip(axes[:2], ("bn", "tdbn")):
        sub = df[df["norm"] == norm] if len(df) else df
        if len(sub):
            piv = sub.pivot_table(index="gamma1", columns="gamma2", values="acc")
            import seaborn as sns

            sns.heatmap(piv, annot=True, fmt=".1f", cmap="viridis", ax=ax, cbar_kws={"label": "acc after epoch 1 (%)"})
        ax.set_title(f"Fig. 5a, {norm.upper()}: first-epoch accuracy", fontsize=10)
    for r in b:
        if r.get("curve"):
            ls = "-" if r["gamma2"] == 0 else "--"
            axes[2].plot(r["curve"]["step"], r["curve"]["loss"], ls,
                         label=f"{r['norm'].upper()}, gamma2 = {r['gamma2']:g}")
    axes[2].set_xlabel("step")
    axes[2].set_ylabel("training loss")
    axes[2].set_title("Fig. 5b: MS-ResNet104 training loss", fontsize=10)
    axes[2].legend(fontsize=8)
    return fig


# ---------------------------------------------------- chapter 10: shortcuts ----

def table6_frame(t6: dict, dataset: str):
    import pandas as pd
    from msr import paper

    pdata = "cifar100" if dataset == "cifar100" else "cifar10"
    rows = []
    for depth, by_block in paper.TABLE_VI[pdata].items():
        row = {"depth": depth}
        for block in ("ms", "sr_b", "sr_c"):
            r = t6.get((dataset, block, depth))
            row[f"ours {BLOCK_LABELS[block]}"] = acc_cell(r)
            row[f"paper {BLOCK_LABELS[block]} ({pdata})"] = by_block[block]
        rows.append(row)
    return pd.DataFrame(rows).set_index("depth")


def plot_table6(t6: dict, dataset: str):
    """Table VI against depth: SR-A, SR-B, SR-C on ``dataset``, mean ± std over seeds with
    each seed as a small dot, beside the paper's (dashed, its CIFAR-10 or CIFAR-100 column)."""
    import matplotlib.pyplot as plt

    from msr import paper

    pdata = "cifar100" if dataset == "cifar100" else "cifar10"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    for block in ("ms", "sr_b", "sr_c"):
        c, label = PALETTE[block], BLOCK_LABELS[block]
        ours = [(d, r) for (ds, b, d), r in t6.items() if ds == dataset and b == block and r]
        if ours:
            _errorbars(axes[0], ours, c, label)
        pp = sorted((d, by[block]) for d, by in paper.TABLE_VI[pdata].items() if by.get(block) is not None)
        if pp:
            axes[1].plot(*zip(*pp), "s--", color=c, label=label)
    axes[0].set_title(f"ours on {dataset} (mean ± std over seeds, dots: seeds)")
    axes[1].set_title(f"paper ({pdata})")
    for ax in axes:
        ax.set_xlabel("depth")
        ax.set_ylabel("test accuracy (%)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle("Accuracy against depth (Table VI)")
    return fig


def claims_of(R: dict, profile: str):
    """The claims a chapter's compute step checked, as Markdown."""
    return claims_md(R.get("claims", []), profile)


# --------------------------------------------------- chapter 13: performance ----

def performance_tables(result: dict, profile: str, slug: str):
    """msr bench results of one machine: targets, LIF timings and training steps."""
    from IPython.display import HTML

    from msr import bench

    p = result["provenance"]
    footer = (f"hardware {hardware_of(p)} · torch {p.get('torch')} · commit {commit_of(p)} · "
              f"{'quick' if result.get('quick') else 'full'} bench · {date_of(p)[:10]}")
    t = bench.bench_table(result)
    parts = [md(f"### {hardware_of(p)}\n")]
    for key, caption in (("targets", "Targets: measured ratios (same hardware)"),
                         ("lif", "LIF forward + backward, median ms, and ratios to the fastest msr backend"),
                         ("train", "Training steps: ms per step, images/s, speed-up over the authors' execution")):
        parts.append(HTML(table(t[key], f"bench_{slug}_{key}", profile, f"{caption} on {hardware_of(p)}",
                                footer, digits=3).to_html()))
    from IPython.display import display

    for x in parts:
        display(x)
    return md("")
