"""Chapter 13, performance: the bench's speed-up figure and tables per machine.

Render step of ``book/notebooks/performance.md``: :mod:`msr.chapters.performance` computes,
this module draws (figures and tables from what its ``compute`` returned). The shared pieces
(style, figure saving, tables, boxes, provenance lines) come from :mod:`msr.book`.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from msr.book import Page, committed_in, md
from msr.provenance import commit_of, date_of, hardware_of, is_commit


def bench_commit(result: dict) -> str:
    """The commit of a bench result: its recorded hash, else the commit that stored the
    result file (a run in a copy without git history records none)."""
    p = result.get("provenance") or {}
    if is_commit(p.get("git_commit")):
        return f"commit {commit_of(p)}"
    stored = committed_in(Path("results") / "bench" / "performance" / f"{result.get('hash')}.json") \
        if result.get("hash") else None
    return "code commit not recorded" + (f" (result stored in commit {stored})" if stored else "")


def bench_footer(result: dict) -> str:
    p = result["provenance"]
    return (f"hardware {hardware_of(p)} · torch {p.get('torch')} · {bench_commit(result)} · "
            f"{'quick' if result.get('quick') else 'full'} bench · {date_of(p)[:10]}")


def bench_frames(result: dict) -> dict:
    """The bench tables a reader uses: targets (judged by :func:`msr.bench.summarize` on the
    stored rows, so that an older bench reads as today's targets), LIF median ms per backend,
    training steps."""
    import pandas as pd

    from msr.bench import summarize, target_text

    targets = pd.DataFrame([{"target": t["target"], "measured": target_text(t),  # formatted: digits per target
                             "threshold": target_text(t, "threshold"), "met": t["met"]}
                            for t in summarize(result)])  # today's rules on the stored rows
    lif = pd.DataFrame([r for r in result["lif"] if r.get("median_ms") is not None])
    lif = lif.pivot_table(index=["neurons", "T"], columns="backend", values="median_ms")
    lif.columns = [f"{c} (ms)" for c in lif.columns]
    train = pd.DataFrame([r for r in result["train"] if r.get("status") == "ok"])
    base = train[train["strategy"] == "authors"].set_index("model")["median_ms"]
    cols = {"model": "model", "strategy": "strategy", "batch": "batch", "T": "T", "median_ms": "ms per step",
            "images_per_s": "images/s", "speedup": "speed-up over the authors' (x)",
            "conv_share": "time in convolutions (%)", "peak_mem_MB": "peak memory (MB)"}
    train["speedup"] = [base.get(m, np.nan) / ms for m, ms in zip(train["model"], train["median_ms"], strict=True)]
    train["conv_share"] = 100 * train["conv_share"]
    train = train[[c for c in cols if c in train]].rename(columns=cols)
    return {"targets": targets, "lif": lif, "train": train, "loop": loop_frame(result), "jobs": jobs_frame(result)}


def loop_frame(result: dict):
    """The training-loop rows (:mod:`msr.bench.loop`; absent in results of older benches):
    images/s of the warm second epoch and the cold first, with the speed-up of each row
    over the eager loop of the same model where one ran."""
    import pandas as pd

    rows = [r for r in result.get("loop", []) if r.get("status") == "ok"]
    if not rows:
        return None
    loop = pd.DataFrame(rows).sort_values("model", kind="stable")  # measured strategy by strategy
    eager = loop[loop["strategy"] == "loop-eager"].set_index("model")["images_per_s"]
    if len(eager):  # a CPU bench has no eager variant to compare with
        loop["speedup"] = [s / eager[m] if m in eager else np.nan
                           for m, s in zip(loop["model"], loop["images_per_s"], strict=True)]
    cols = {"model": "model", "strategy": "strategy", "dataset": "data", "batch": "batch", "T": "T",
            "steps_per_epoch": "steps per epoch", "images_per_s": "images/s (2nd epoch)",
            "first_epoch_images_per_s": "images/s (1st epoch)",
            "first_epoch_extra_s": "1st epoch's extra s (compilation, capture)",
            "speedup": "speed-up over the eager loop (x)", "lif_backend": "LIF", "cuda_graph": "CUDA graph",
            "compile": "torch.compile", "resident_data": "data on the device"}
    return loop[[c for c in cols if c in loop]].rename(columns=cols)


def jobs_frame(result: dict):
    """The concurrency rows (:func:`msr.bench.loop.bench_jobs`; absent in older benches):
    wall time of the same runs trained N at once, all runs' images/s over it, and the
    speed-up over one run at a time."""
    import pandas as pd

    rows = [r for r in result.get("jobs", []) if r.get("status") == "ok"]
    if not rows:
        return None
    jobs = pd.DataFrame(rows)
    one = jobs.loc[jobs["jobs"] == 1, "wall_s"]
    jobs["speedup"] = one.iloc[0] / jobs["wall_s"] if len(one) else np.nan
    cols = {"model": "model", "dataset": "data", "batch": "batch", "runs": "runs", "epochs": "epochs each",
            "jobs": "runs at once", "wall_s": "wall time (s)", "images_per_s": "images/s (all runs)",
            "run_images_per_s": "images/s per run (2nd epoch)", "speedup": "speed-up over one at a time (x)"}
    return jobs[[c for c in cols if c in jobs]].rename(columns=cols)


#: Distinct colours for the bench's series: matplotlib's tab10, then four dark tab20b hues.
SERIES_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                  "#bcbd22", "#7f7f7f", "#393b79", "#637939", "#8c6d31", "#843c39"]


def series_names() -> tuple[str, ...]:
    """Every series the bench figures can show, once: the training strategies of
    :func:`msr.bench.steps.strategies` (CPU and CUDA), then the LIF backends
    (:data:`LIF_BACKENDS`); a name in both (``spikingjelly``: SpikingJelly's neuron) is one series."""
    import torch

    from msr.bench.steps import strategies

    named = [s["strategy"] for d in ("cpu", "cuda") for s in strategies(torch.device(d))] + list(LIF_BACKENDS)
    return tuple(dict.fromkeys(named))


def series_colour(kind: str, name: str, names: tuple[str, ...] | None = None) -> str:
    """One colour per training strategy or LIF backend (``kind``: ``"strategy"`` or
    ``"backend"``, kept for the callers; both draw from one list), the same on every
    machine's figure and never shared by two series of one figure: the name's place in
    ``names`` (:func:`series_names`, which a figure asking for many colours passes once);
    black if unknown (no series of :data:`SERIES_PALETTE` is black)."""
    if kind not in ("strategy", "backend"):
        raise ValueError(f"series_colour: kind {kind!r}; valid: 'strategy', 'backend'")
    names = names or series_names()
    return SERIES_PALETTE[names.index(name) % len(SERIES_PALETTE)] if name in names else "#000000"


def plot_bench(result: dict):
    """Speed-up bars on one machine: training step over the authors' execution per model
    and msr strategy (top); LIF forward + backward over the reference implementation per
    backend at T = 6 (bottom)."""
    import matplotlib.pyplot as plt
    import pandas as pd

    device = hardware_of(result["provenance"])
    train = pd.DataFrame([r for r in result["train"] if r.get("status") == "ok"])
    base = train[train["strategy"] == "authors"].set_index("model")["median_ms"]
    train = train[train["strategy"] != "authors"].copy()
    train["speedup"] = [base.get(m, np.nan) / ms for m, ms in zip(train["model"], train["median_ms"], strict=True)]
    lif = pd.DataFrame([r for r in result["lif"] if r.get("median_ms") is not None])
    T = 6 if (lif["T"] == 6).any() else int(lif["T"].max())
    lif = lif[lif["T"] == T]
    ref = lif[lif["backend"] == "msr-reference"].set_index("neurons")["median_ms"]
    lif = lif.assign(speedup=[ref.get(n, np.nan) / ms for n, ms in zip(lif["neurons"], lif["median_ms"], strict=True)])
    fig, (ax, bx) = plt.subplots(2, 1, figsize=(6.4, 8.6))
    names = series_names()  # once for every bar's colour
    for axis, df, group, hue, title in (
            (ax, train, "model", "strategy", "Training step: speed-up over the authors' execution"),
            (bx, lif, "neurons", "backend", f"LIF forward + backward, T = {T}: speed-up over msr-reference")):
        groups = list(dict.fromkeys(df[group]))
        hues = list(dict.fromkeys(df[hue]))
        w = 0.8 / max(len(hues), 1)
        for j, h in enumerate(hues):
            vals = [df[(df[group] == g) & (df[hue] == h)]["speedup"].mean() for g in groups]
            xs = np.arange(len(groups)) + (j - (len(hues) - 1) / 2) * w
            bars = axis.bar(xs, vals, width=w, label=h, color=series_colour(hue, h, names))
            axis.bar_label(bars, labels=[("" if np.isnan(v) else f"{v:.1f}") for v in vals], fontsize=8.5, padding=1)
        axis.axhline(1.0, color="k", lw=0.8)
        axis.set_xticks(np.arange(len(groups)))
        axis.set_xticklabels([f"{g:,} neurons" if isinstance(g, (int, np.integer)) else str(g) for g in groups])
        axis.set_ylabel("speed-up (x)")
        axis.set_title(title, fontsize=12)
        top = np.nanmax(df["speedup"].to_numpy(dtype=float)) if len(df) else 1.0
        axis.set_ylim(0, 1.45 * max(top, 1.0))  # headroom: the legend sits above the bars
        axis.legend(fontsize=9, ncol=3, loc="upper left")
    fig.suptitle(device)
    return fig


def strategy_words(s: dict) -> str:
    """What a training-step strategy runs, in words, from its switches: a strategy of
    :func:`msr.bench.steps.strategies` or a stored training row (which carries them)."""
    if s["strategy"] == "authors":
        return "the authors' release's execution (a Python loop over T per layer), fp32"
    parts = ["SpikingJelly's LIF neuron" if s.get("lif") == "spikingjelly" else "msr's fused LIF",
             "channels-last" if s.get("channels_last") else "", "bf16 autocast" if s.get("amp") else "fp32",
             "CUDA graphs" if s.get("graphs") else "", "torch.compile" if s.get("compile") else ""]
    return ", ".join(p for p in parts if p)


def strategy_legend(device: str, rows: list[dict] | None = None) -> str:
    """One line naming what each training-step strategy runs: those of the training ``rows``
    that were measured (status ok; what the table and figure show), in the order they ran,
    or without ``rows`` every strategy a bench on ``device`` (``cpu`` or ``cuda``) runs
    (:func:`msr.bench.steps.strategies`)."""
    if rows is None:
        import torch

        from msr.bench.steps import strategies

        shown = strategies(torch.device(device))
    else:
        first: dict[str, dict] = {}
        for r in rows:
            if r.get("status") == "ok":
                first.setdefault(r["strategy"], r)
        shown = list(first.values())
    return "Strategies: " + "; ".join(f"`{s['strategy']}`: {strategy_words(s)}" for s in shown) + "."


#: What each LIF backend of the bench (:func:`msr.bench.lif.lif_candidates`) runs, in
#: words: the one place its names are explained.
LIF_BACKENDS = {
    "msr-reference": "msr's reference LIF (`backend=\"reference\"`, `msr.neuron.lif_reference`): plain PyTorch "
                     "ops per timestep under autograd, which keeps the float membrane and a graph per step; the "
                     "oracle every other backend is tested against, and the figure's baseline",
    "msr-cpu": "msr's `cpu` backend (`msr.kernels.cpu_lif`): one autograd Function running a few in-place "
               "PyTorch ops per timestep, saving one int8 per neuron and timestep for the backward; despite its "
               "name it runs on whichever device holds the tensors",
    "msr-triton": "msr's `triton` backend (`msr.kernels.triton_lif`, CUDA only): one Triton kernel for the forward "
                  "and one for the backward, each looping over T with the membrane in registers, saving one uint8 "
                  "per neuron and timestep",
    "authors-loop": "the authors' release's `mem_update` loop (`msr.bench.authors_baseline.authors_lif`): small "
                    "ops and a clone per timestep",
    "spikingjelly": "SpikingJelly's multi-step `LIFNode` with msr's parameters and rectangular surrogate (its "
                    "PyTorch path: its fused kernels do not take that surrogate)",
    "spikingjelly-fused-sigmoid": "SpikingJelly's `LIFNode` with its default sigmoid surrogate (the same forward, "
                                  "another surrogate gradient), the one its fused kernels take: its fastest LIF "
                                  "where it has such kernels",
}

#: What a LIF backend runs on a GPU's tensors, where its name could mislead.
LIF_ON_GPU = {
    "msr-cpu": "here on GPU tensors, so not a CPU run: each of those ops is a CUDA kernel launch of its own, "
               "several per timestep, where `msr-triton` launches one kernel per pass",
}


def lif_backend_words(backend: str, device: str = "cpu") -> str:
    """What the bench's LIF ``backend`` runs on ``device`` (``cpu`` or ``cuda``), in words."""
    if backend not in LIF_BACKENDS:
        raise KeyError(f"LIF backend {backend!r} has no words in msr.render.performance.LIF_BACKENDS")
    extra = LIF_ON_GPU.get(backend) if device == "cuda" else None
    return LIF_BACKENDS[backend] + (f"; {extra}" if extra else "")


def lif_legend(rows: list[dict], device: str) -> str:
    """One line naming what each LIF backend of the bench's LIF ``rows`` that holds a time
    (the backends the LIF table and figure show) runs on ``device``, in the order they ran."""
    shown = list(dict.fromkeys(r["backend"] for r in rows if r.get("median_ms") is not None))
    return "LIF backends: " + "; ".join(f"`{b}`: {lif_backend_words(b, device)}" for b in shown) + "."


#: A fused-LIF call that takes more than this many times what its kernels alone take at the
#: bandwidth the bench measured is bound by the fixed cost of a call, not by memory traffic.
FIXED_COST_FACTOR = 2.0


def bandwidth_frame(result: dict):
    """The LIF kernels alone (``lif_bandwidth``, GPU benches): milliseconds, bytes moved and
    the share of the device's copy bandwidth they reach; None where the bench has none."""
    import pandas as pd

    rows = (result.get("lif_bandwidth") or {}).get("rows") or []
    if not rows:
        return None
    cols = {"kernel": "kernel", "dtype": "dtype", "T": "T", "neurons": "neurons", "median_ms": "ms",
            "bytes": "MB moved", "GBps": "GB/s", "fraction_of_copy": "share of copy bandwidth (%)"}
    df = pd.DataFrame(rows)[list(cols)].rename(columns=cols)
    df["MB moved"] = df["MB moved"] / 1e6
    df["share of copy bandwidth (%)"] = 100 * df["share of copy bandwidth (%)"]
    return df


def fixed_cost_note(result: dict, backend: str = "msr-triton") -> str | None:
    """Which of ``backend``'s LIF rows are bound by the fixed cost of a call: each row's time
    against what its forward and backward kernels alone take at the bandwidth the bench
    measured (fp32, scaled by neurons x T); a row over :data:`FIXED_COST_FACTOR` times that
    is named. None where the bench measured no bandwidth or no row is that slow."""
    bw = {r["kernel"]: r for r in (result.get("lif_bandwidth") or {}).get("rows") or [] if r["dtype"] == "float32"}
    if not {"forward", "backward"} <= set(bw):
        return None
    per_step = sum(bw[k]["median_ms"] / (bw[k]["neurons"] * bw[k]["T"]) for k in ("forward", "backward"))
    timed = [r for r in result.get("lif") or [] if r["backend"] == backend and r.get("median_ms")]
    kernels = [(r, per_step * r["neurons"] * r["T"]) for r in timed if r.get("dtype", "float32") == "float32"]
    slow = [(r, k) for r, k in kernels if r["median_ms"] > FIXED_COST_FACTOR * k]
    if not slow:
        return None
    def span(xs):
        return f"{min(xs):.3f}" if min(xs) == max(xs) else f"{min(xs):.3f} to {max(xs):.3f}"

    by_n: dict[int, list] = {}
    for r, k in slow:
        by_n.setdefault(r["neurons"], []).append((r, k))
    cases = "; ".join(f"{n:,} neurons at T = {', '.join(str(r['T']) for r, _ in g)}: "
                      f"{span([r['median_ms'] for r, _ in g])} ms against {span([k for _, k in g])} ms"
                      for n, g in by_n.items())
    return (f"`{backend}`: {len(slow)} of its {len(timed)} LIF rows take more than {FIXED_COST_FACTOR:g} times what "
            f"its forward and backward kernels alone take at the bandwidth measured below ({cases}). The rest is the "
            "fixed cost of a call (launches, autograd, Python; not measured apart), so at those sizes its times "
            "barely grow with neurons or T and scatter between neighbouring rows, and a ratio over another backend "
            "there compares overheads. The kernels themselves are the bandwidth table's rows.")


#: The bench sections whose rows carry a status, as a reader names them.
ROW_SECTIONS = {"lif": "LIF", "train": "training step", "loop": "training loop", "jobs": "runs at once"}


def failed_rows(result: dict) -> str | None:
    """Why a measurement of this bench reads —: its rows that measured nothing (an error, or a
    skip such as SpikingJelly not installed; not the rows its time budget left out, which
    :func:`performance_section` names), grouped by what they ran and why, and the notes stored
    with the bench. None where every row measured and no note is stored."""
    from msr.bench.loop import NOT_RUN

    groups: Counter = Counter()  # (what ran, why it measured nothing) -> rows
    for key, section in ROW_SECTIONS.items():
        for r in result.get(key) or []:
            status = r.get("status", "ok")
            if status in ("ok", NOT_RUN):
                continue
            what = r.get("backend") or r.get("strategy") or f"jobs {r.get('jobs')}"
            name = f"{section} `{what}`" + (f" ({r['model']})" if r.get("model") and key != "lif" else "")
            groups[(name, status)] += 1
    lines = [f"- {name}, {n} row{'s' if n > 1 else ''}: {status}" for (name, status), n in groups.items()]
    if result.get("notes"):
        lines.append(f"- The bench's note: {result['notes']}")
    return ("**What this bench did not measure, and why:**\n\n" + "\n".join(lines) + "\n") if lines else None


def performance_section(result: dict, page: "Page", slug: str) -> None:
    """One machine's bench results: heading, speed-up figure, then its tables."""
    from IPython.display import display

    p = result["provenance"]
    footer = bench_footer(result)
    t = bench_frames(result)
    display(md(f"## On {hardware_of(p)}\n"))
    if result.get("not_run"):
        display(md(f"Not run within this bench's time budget ({result['environment'].get('budget_s', 0):.0f} s): "
                   + "; ".join(result["not_run"]) + ".\n"))
    if (why := failed_rows(result)) is not None:
        display(md(why))
    display(page.figure(plot_bench(result), f"bench_{slug}", footer,
                        what=f"On {hardware_of(p)}: the speed-up of a training step over the authors' "
                             "execution for each model, one bar per msr strategy (top), and of the LIF neuron's "
                             "forward and backward pass over msr's reference LIF for each number of neurons, one "
                             "bar per backend (bottom; each is named under the LIF table); the black line marks "
                             "no speed-up."))
    display(page.table(t["train"], f"bench_{slug}_train", f"Training steps on {hardware_of(p)}", footer,
                       digits={"images/s": 0, "peak memory (MB)": 0, "ms per step": 1,
                               "speed-up over the authors' (x)": 2, "time in convolutions (%)": 0}))
    display(md(strategy_legend(p.get("device", "cpu"), result["train"])))
    if t["loop"] is not None:
        display(page.table(t["loop"], f"bench_{slug}_loop",
                           f"The training loop on {hardware_of(p)} (msr.train.train, two epochs): images/s", footer,
                           digits={"images/s (2nd epoch)": 0, "images/s (1st epoch)": 0,
                                   "1st epoch's extra s (compilation, capture)": 1,
                                   "speed-up over the eager loop (x)": 2}))
    if t["jobs"] is not None:
        display(page.table(t["jobs"], f"bench_{slug}_jobs",
                           f"Runs trained at once on {hardware_of(p)} (msr.jobs, --jobs N): the same runs, "
                           "process start, data loading and compilation included", footer,
                           digits={"wall time (s)": 1, "images/s (all runs)": 0, "images/s per run (2nd epoch)": 0,
                                   "speed-up over one at a time (x)": 2}))
    display(page.table(t["lif"], f"bench_{slug}_lif",
                       f"LIF forward + backward on {hardware_of(p)}: median time per call", footer, digits=3))
    display(md(lif_legend(result["lif"], p.get("device", "cpu"))))
    if (note := fixed_cost_note(result)) is not None:
        display(md(note))
    if (bw := bandwidth_frame(result)) is not None:
        copy = (result.get("lif_bandwidth") or {}).get("device_copy_GBps")
        display(page.table(bw, f"bench_{slug}_bandwidth",
                           f"The fused LIF kernels alone on {hardware_of(p)}: bytes moved per call and the share of "
                           f"the device's copy bandwidth ({copy:,.0f} GB/s measured) they reach", footer,
                           digits={"ms": 3, "MB moved": 0, "GB/s": 0, "share of copy bandwidth (%)": 1}))
    display(page.table(t["targets"], f"bench_{slug}_targets",
                       f"Speed targets on {hardware_of(p)}: measured value, threshold, met",
                       footer, digits=2))
