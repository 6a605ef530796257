"""Compute step of every book chapter, as plain functions (``msr compute``).

One function per chapter, ``CHAPTERS[name](ctx) -> dict``.  Each one trains or
analyses through :mod:`msr.train`, :mod:`msr.sweep`, :mod:`msr.analysis` and stores
everything in the results store (:class:`msr.results.ResultsStore`), keyed by the hash
of the full configuration, so a second call with the same configuration only reads.

* ``ctx.recompute``: ignore what the store holds and compute again;
* ``ctx.render_only``: never train or analyse; an item the store lacks comes back as
  ``None`` and the book shows a "not computed yet" box for it.  Items marked *cheap*
  (structure counts, closed-form values: seconds on a CPU, no training) are computed
  even then.

The notebooks call the same functions, so ``msr compute NAMES --profile P --device cuda``
on a GPU box without Jupyter fills the store that ``make book`` then renders.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from msr import paper
from msr.results import ResultsStore, default_root, provenance

#: Chapters in book order (the names ``--only`` and ``msr compute`` take).
CHAPTER_ORDER = (
    "architectures", "degradation", "unavailing", "isometry", "benchmarks", "energy",
    "firing", "landscape", "init", "shortcuts", "two_phase", "report", "performance",
)


@dataclass
class Ctx:
    """What a compute function needs: the profile, where to run, what to reuse."""

    profile: str
    device: str = "cpu"
    recompute: bool = False
    render_only: bool = False
    data_root: str = "data"
    store: ResultsStore = field(default_factory=lambda: ResultsStore(default_root()))

    @classmethod
    def from_params(cls, params) -> "Ctx":
        return cls(params.profile, params.device, params.recompute, params.render_only, params.data_root)

    def item(self, experiment: str, config: dict, compute: Callable[[], Any], cheap: bool = False) -> dict | None:
        """The stored result of ``config``, computed first if allowed."""
        if self.render_only and not cheap:
            return self.store.get(self.profile, experiment, config)
        return self.store.get_or_compute(self.profile, experiment, config, compute,
                                         recompute=self.recompute, device=self.device)


# ------------------------------------------------------------- architectures ----

#: Models whose structure chapter 1 counts: (label, model name, kwargs).
def _structure_models() -> list[tuple[str, str, dict]]:
    out = [(f"cifar_resnet{d} (ms)", "cifar_resnet", {"depth": d, "block": "ms"})
           for d in (8, 14, 20, 32, 44, 56, 104, 110, 482)]
    out += [(f"cifar_resnet20 ({b})", "cifar_resnet", {"depth": 20, "block": b})
            for b in ("plain", "vanilla", "wolif", "sr_b", "sr_c")]
    out += [(n, n, {}) for n in ("imagenet_resnet18", "imagenet_resnet34", "imagenet_resnet104", "dvs_resnet20")]
    return out


def stage_shapes(model) -> list[dict]:
    """Per stage: blocks, output size and channels, traced on a dummy input (Table I/IX as built)."""
    import torch

    shapes: list[dict] = []
    hooks = []
    for i, stage in enumerate(model.stages):
        def stage_hook(m, inp, out, i=i):
            shapes.append({"stage": i + 1, "blocks": len(m), "output": f"{out.shape[-2]}x{out.shape[-1]}",
                           "channels": int(out.shape[-3])})
        hooks.append(stage.register_forward_hook(stage_hook))
    stem: dict = {}

    def stem_hook(m, inp, out):
        stem.update(output=f"{out.shape[-2]}x{out.shape[-1]}", channels=int(out.shape[-3]),
                    kernel=m.kernel_size[0], stride=m.stride[0])
    hooks.append(model.stem_conv.conv.register_forward_hook(stem_hook))  # encode() calls the bare conv
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *model.input_size), T=1)
    for h in hooks:
        h.remove()
    return [{"stage": 0, "blocks": 0, **stem}] + shapes


def block_flow(block_name: str) -> dict:
    """The forward order of a block's named children, traced with hooks on a dummy input.

    Returns ``{"path": [...], "post": [...], "shortcut": bool, "spiking_input": bool,
    "spiking_output": bool}``: ``path`` is the residual path (names in call order),
    ``post`` the modules applied after the addition (the vanilla block's interblock
    LIF), found by following which module consumed which module's output.
    """
    import torch

    from msr.blocks import SpikingSpec, get_block

    cls = get_block(block_name)
    block = cls(4, 4, 1, SpikingSpec()).eval()
    calls: list[tuple[str, int, int]] = []  # name, id(input), id(output)
    keep = []  # keep tensors alive so ids stay unique

    def hook(name):
        def fn(module, inputs, output):  # returns None: the output is unchanged
            calls.append((name, id(inputs[0]), id(output)))
            keep.extend([inputs[0], output])
        return fn

    hooks = [m.register_forward_hook(hook(n)) for n, m in block.named_children()]
    x = (torch.rand(1, 1, 4, 6, 6) > 0.5).float()
    with torch.no_grad():
        y = block(x)
    for h in hooks:
        h.remove()
    outputs = {o: n for n, _, o in calls}
    path, post, cur = [], [], id(x)
    for name, i, o in calls:
        if name == "shortcut":
            continue
        if i == cur or outputs.get(i) in path:
            path.append(name)
            cur = o
        else:
            post.append(name)
    return {"block": block_name, "path": path, "post": post, "shortcut": cls.has_shortcut,
            "shortcut_identity": isinstance(block.shortcut, torch.nn.Identity),
            "spiking_input": cls.spiking_input, "spiking_output": cls.spiking_output,
            "kinds": {n: type(getattr(block, n)).__name__ for n in path + post},
            "ends_in": type(getattr(block, (post or path)[-1])).__name__, "out_shape": list(y.shape)}


def _architectures_payload() -> dict:
    from msr.models import create_model
    from msr.structure import summarize

    rows = []
    for label, name, kw in _structure_models():
        s = summarize(create_model(name, **kw), name=name).as_dict()
        s.pop("residual_convs")
        rows.append({"label": label, "model": name, **{k: v for k, v in kw.items()}, **s})
    tables = {
        "table1": {str(d): stage_shapes(create_model("cifar_resnet", depth=d)) for d in (20, 56)},
        "table9": {n: stage_shapes(create_model(n)) for n in ("imagenet_resnet18", "imagenet_resnet34", "imagenet_resnet104")},
        "dvs": stage_shapes(create_model("dvs_resnet20")),
    }
    flows = {b: block_flow(b) for b in ("plain", "vanilla", "wolif", "ms", "sr_b", "sr_c")}
    return {"models": rows, "tables": tables, "flows": flows}


def architectures(ctx: Ctx) -> dict:
    """Chapter 1: params and MACs of every model family (msr.structure.summarize),
    stage shapes as built (Table I, IX) and the traced block flows (Fig. 1, 2a)."""
    config = {"kind": "structure", "models": _structure_models(), "version": 1}
    return {"structure": ctx.item("structure", config, _architectures_payload, cheap=True)}


# --------------------------------------------------------- unavailing (Eq. 7-8) ----

def eq8_probability(sigma: float, v_th: float = paper.NEURON["v_th"], rate: float = 0.5) -> float:
    """Eq. 7-8: P(a vanilla block changes a neuron's firing state) for F ~ N(0, sigma^2),
    input spike o ~ Bernoulli(rate), output LIF fires on F + o > V_th (one step):
    P(o=0) P(F > V_th) + P(o=1) P(F < V_th - 1)."""
    def cdf(z: float) -> float:
        return 0.5 * (1.0 + math.erf(z / (sigma * math.sqrt(2.0))))
    return (1 - rate) * (1 - cdf(v_th)) + rate * cdf(v_th - 1.0)


def eq8_monte_carlo(sigma: float, v_th: float = paper.NEURON["v_th"], rate: float = 0.5,
                    n: int = 1_000_000, seed: int = 0) -> float:
    """Monte-Carlo estimate of :func:`eq8_probability` (sampled spikes and residuals)."""
    rng = np.random.default_rng(seed)
    o = rng.random(n) < rate
    f = rng.normal(0.0, sigma, n)
    return float(np.mean((f + o > v_th) != o))


def _eq8_payload(sigmas, rates, n) -> dict:
    grid = [{"sigma": s, "rate": r, "analytic": eq8_probability(s, rate=r),
             "monte_carlo": eq8_monte_carlo(s, rate=r, n=n, seed=i)}
            for i, (s, r) in enumerate((s, r) for s in sigmas for r in rates)]
    v = paper.NEURON["v_th"]
    return {"grid": grid, "at_vth": {"sigma": v, "analytic": eq8_probability(v),
                                     "monte_carlo": eq8_monte_carlo(v, n=n, seed=99)}}


def unavailing(ctx: Ctx) -> dict:
    """Chapter 3: Eq. 7-8 closed form and Monte-Carlo (cheap), measured state changes and
    the SSIM radar of Fig. 2b (from trained models, when engineer B's analyses exist)."""
    sigmas = [round(x, 2) for x in np.linspace(0.1, 1.5, 15)]
    rates = [0.1, 0.25, 0.5]
    n = 200_000 if ctx.profile == "smoke" else 2_000_000
    cfg = {"kind": "eq8", "sigmas": sigmas, "rates": rates, "n": n, "v_th": paper.NEURON["v_th"]}
    out = {"eq8": ctx.item("eq8", cfg, lambda: _eq8_payload(sigmas, rates, n), cheap=True)}
    return out


# ------------------------------------------------------------------- energy ----

def _energy_structure_payload() -> dict:
    from msr.models import create_model
    from msr.structure import summarize

    rows = {}
    for name in ("imagenet_resnet34", "imagenet_resnet104", "dvs_resnet20"):
        s = summarize(create_model(name), name=name)
        rows[name] = {"macs_residual": s.macs_residual, "macs_total": s.macs_total,
                      "macs_encoding": s.macs_encoding, "macs_shortcut": s.macs_shortcut,
                      "excluded_share": (s.macs_encoding + s.macs_shortcut) / s.macs_total, "params": s.params}
    return {"models": rows}


def energy(ctx: Ctx) -> dict:
    """Chapter 6: Table V from our counted MACs (cheap) and firing rates measured on our
    trained models (when the store has them)."""
    cfg = {"kind": "energy_structure", "version": 1}
    return {"structure": ctx.item("energy_structure", cfg, _energy_structure_payload, cheap=True)}


def energy_rows(structure: dict | None, measured: dict | None = None) -> list[dict]:
    """Table V rows: our MACs and the paper's, energies at 4.6 pJ/MAC and 0.9 pJ/AC.
    ``measured`` maps a model to our firing rate and T (None: not run)."""
    rows = []
    if structure is None:
        return rows
    for name, p in paper.TABLE_V.items():
        s = structure["models"][name]
        macs = s["macs_residual"]
        e_ann = macs * paper.ENERGY_PJ["mac"] * 1e-9  # mJ
        row = {"model": name, "paper FLOPs (M)": p["flops"] / 1e6, "our MACs (M)": macs / 1e6,
               "paper E(ANN) mJ": p["e_ann_mj"], "our E(ANN) mJ": e_ann,
               "paper SyOPs (M)": p["syops"] / 1e6, "paper E(SNN) mJ": p["e_snn_mj"], "paper ratio": p["ratio"]}
        m = (measured or {}).get(name)
        if m:
            syops = macs * m["T"] * m["rate"]
            row.update({"our rate": m["rate"], "our SyOPs (M)": syops / 1e6,
                        "our E(SNN) mJ": syops * paper.ENERGY_PJ["ac"] * 1e-9,
                        "our ratio": e_ann / (syops * paper.ENERGY_PJ["ac"] * 1e-9)})
        else:
            row.update({"our rate": None, "our SyOPs (M)": None, "our E(SNN) mJ": None, "our ratio": None})
        rows.append(row)
    return rows


# ------------------------------------------------------------------- report ----

def _not_available(chapter: str) -> Callable[[Ctx], dict]:
    def fn(ctx: Ctx) -> dict:
        return {"unavailable": f"the compute step of chapter {chapter!r} is not in this version of msr yet"}
    fn.__doc__ = f"Chapter {chapter}: not implemented yet."
    return fn


def collect(ctx: Ctx, chapters=None) -> dict:
    """Every chapter's results as the store holds them (render-only: nothing trains)."""
    ro = Ctx(ctx.profile, ctx.device, False, True, ctx.data_root, ctx.store)
    names = [c for c in (chapters or CHAPTER_ORDER) if c not in ("report", "performance")]
    return {c: CHAPTERS[c](ro) for c in names}


@dataclass
class Row:
    """One number of the paper beside ours (NUMBERS.md, from :mod:`msr.paper`)."""

    section: str
    quantity: str
    paper: float | None
    ours: float | None = None
    unit: str = ""
    prov: dict | None = None
    dataset: str = ""
    note: str = ""

    def as_dict(self, profile: str) -> dict:
        from msr.book import commit_of, date_of, hardware_of

        run = self.ours is not None
        delta = (self.ours - self.paper) if run and self.paper is not None else None
        return {"section": self.section, "quantity": self.quantity, "paper": self.paper,
                "ours": self.ours if run else "not run", "delta": delta, "unit": self.unit,
                "profile": profile if run else "", "data set": self.dataset if run else "",
                "hardware": hardware_of(self.prov) if run else "", "date": date_of(self.prov)[:10] if run else "",
                "commit": commit_of(self.prov) if run else "", "note": self.note}


def report_rows(profile: str, results: dict) -> list[Row]:
    """Every number of NUMBERS.md (from :mod:`msr.paper`) with ours where a stored result has it."""
    from msr.book import dataset_of

    ds = dataset_of(profile)
    rows: list[Row] = []
    deg = (results.get("degradation") or {}).get("table2") or {}
    for block, by_depth in paper.TABLE_II.items():
        for depth, acc in by_depth.items():
            r = deg.get((block, depth))
            rows.append(Row("Table II", f"{paper.TABLE_II_LABELS[block]}, depth {depth}", acc,
                            r["acc"] if r else None, "%", r and r.get("provenance"), ds,
                            "paper: N/A" if acc is None else ""))
    deep = (results.get("degradation") or {}).get("deep") or {}
    for depth, acc in paper.DEEP_CIFAR10.items():
        r = deep.get(("ms", depth))
        rows.append(Row("Sec. III-D", f"MS-ResNet{depth}", acc, r["acc"] if r else None, "%",
                        r and r.get("provenance"), ds))
    eq8 = (results.get("unavailing") or {}).get("eq8")
    rows.append(Row("Eq. 8", "P(state change), sigma = V_th (closed form)", paper.EQ8_PROBABILITY,
                    eq8["at_vth"]["analytic"] if eq8 else None, "", eq8 and eq8.get("provenance"), "analytic"))
    rows.append(Row("Eq. 8", "P(state change), sigma = V_th (Monte-Carlo)", paper.EQ8_PROBABILITY,
                    eq8["at_vth"]["monte_carlo"] if eq8 else None, "", eq8 and eq8.get("provenance"), "simulated"))
    for (model, T), acc in paper.TABLE_III.items():
        rows.append(Row("Table III", f"{model}, T = {T}", acc, None, "%", note="needs ImageNet"))
    rows.append(Row("Table III", "imagenet_resnet104, 288x288 crops", paper.TABLE_III_104_AT_288, None, "%",
                    note="needs ImageNet"))
    for model, acc in paper.TABLE_III_ANN.items():
        rows.append(Row("Table III", f"{model}, ANN", acc, None, "%", note="ANN baseline, not in scope"))
    for work, method, params, acc in paper.TABLE_IV:
        ours = work == "paper"
        rows.append(Row("Table IV", f"{work}: {method}", acc, None, "%",
                        note="needs CIFAR10-DVS" if ours else "cited work, not reproduced"))
    arch = (results.get("architectures") or {}).get("structure")
    if arch:
        by = {r["label"]: r for r in arch["models"]}
        rows.append(Row("Table IV", "MS-ResNet20 parameters", paper.DVS_PARAMS, float(by["dvs_resnet20"]["params"]),
                        "", arch.get("provenance"), "structure"))
    else:
        rows.append(Row("Table IV", "MS-ResNet20 parameters", paper.DVS_PARAMS))
    en = (results.get("energy") or {}).get("structure")
    measured = (results.get("energy") or {}).get("measured") or {}
    for model, p in paper.TABLE_V.items():
        s = en["models"][model] if en else None
        prov = en and en.get("provenance")
        rows.append(Row("Table V", f"{model} FLOPs (residual-path MACs)", p["flops"], s and float(s["macs_residual"]),
                        "", prov, "structure"))
        rows.append(Row("Table V", f"{model} E(ANN)", p["e_ann_mj"],
                        s and s["macs_residual"] * paper.ENERGY_PJ["mac"] * 1e-9, "mJ", prov, "structure"))
        m = measured.get(model)
        for key, unit in (("syops", ""), ("e_snn_mj", "mJ"), ("ratio", "")):
            rows.append(Row("Table V", f"{model} {key}", p[key], m and m.get(key), unit, m and m.get("provenance"),
                            m and m.get("dataset") or ds))
    for model, share in paper.EXCLUDED_FLOPS_SHARE.items():
        s = en["models"][model] if en else None
        rows.append(Row("Sec. IV-B", f"{model} share of MACs outside residual paths", share,
                        s and s["excluded_share"], "", en and en.get("provenance"), "structure"))
    fir = (results.get("firing") or {}).get("rates") or {}
    for model, rate in paper.FIRING_RATE.items():
        m = fir.get(model)
        rows.append(Row("Fig. 3", f"{model} network firing rate", rate, m and m["rate"], "",
                        m and m.get("provenance"), ds))
    rows.append(Row("Fig. 3", "MS-ResNet104 stage 3, second LIF rate", paper.FIRING_STAGE3_SECOND_LIF_104,
                    fir.get("stage3_lif2_104"), "", None, ds))
    t6 = (results.get("shortcuts") or {}).get("table6") or {}
    for data, by_depth in paper.TABLE_VI.items():
        for depth, by_block in by_depth.items():
            for block, acc in by_block.items():
                r = t6.get((block, depth))
                rows.append(Row("Table VI", f"{data} depth {depth} {block}", acc, r["acc"] if r else None, "%",
                                r and r.get("provenance"), ds))
    tp = (results.get("two_phase") or {}).get("two_phase") or {}
    for key, acc in paper.TWO_PHASE.items():
        r = tp.get(key)
        rows.append(Row("Appendix B", f"ResNet-104 two-phase: {key}", acc, r["acc"] if r else None, "%",
                        r and r.get("provenance"), ds))
    from msr import neuron

    ours = {"tau": neuron.TAU, "v_th": neuron.V_TH, "v_reset": neuron.V_RESET, "a": neuron.SURROGATE_WIDTH}
    for key, val in paper.NEURON.items():
        if key in ours:
            rows.append(Row("Table VII", f"neuron {key} (library default)", val, ours[key], "", None, "code",
                            note="a setting, not a result"))
    return rows


def _peak(accs: dict) -> tuple[int, float] | None:
    """(depth, accuracy) of the best depth among at least 3 depths run."""
    done = {d: a for d, a in accs.items() if a is not None}
    if len(done) < 3:
        return None
    d = max(done, key=done.get)
    return d, done[d]


def claims(results: dict) -> list[dict]:
    """Each of the paper's qualitative claims with whether our stored results show it
    (``shown`` True/False, None = not run) and the evidence, computed from the store."""
    out = []

    def add(paper_text, shown, evidence):
        out.append({"paper": paper_text, "shown": shown, "evidence": evidence})

    t2 = (results.get("degradation") or {}).get("table2") or {}
    for block, depth, text in (("plain", 14, "PlainNet peaks at 14 layers and degrades beyond"),
                               ("vanilla", 20, "the vanilla spiking ResNet peaks at 20 layers")):
        pk = _peak({d: (r or {}).get("acc") for (b, d), r in t2.items() if b == block})
        add(text, None if pk is None else pk[0] == depth,
            "fewer than 3 depths run" if pk is None else f"ours peaks at depth {pk[0]} ({pk[1]:.2f} %)")
    ms = {d: (r or {}).get("acc") for (b, d), r in t2.items() if b == "ms"}
    pk = _peak(ms)
    deepest = max((d for d, a in ms.items() if a is not None), default=None)
    add("MS-ResNet keeps improving with depth (its deepest model is its best)",
        None if pk is None else pk[0] == deepest,
        "fewer than 3 depths run" if pk is None else f"ours is best at depth {pk[0]} of depths up to {deepest}")

    eq8 = (results.get("unavailing") or {}).get("eq8")
    if eq8:
        a, m = eq8["at_vth"]["analytic"], eq8["at_vth"]["monte_carlo"]
        add("a vanilla block changes a neuron's firing state with probability about 16 % (Eq. 8)",
            abs(a - paper.EQ8_PROBABILITY) < 0.01 and abs(m - a) < 0.005,
            f"closed form {100 * a:.2f} %, Monte-Carlo {100 * m:.2f} %")
    else:
        add("a vanilla block changes a neuron's firing state with probability about 16 % (Eq. 8)", None, "not run")
    for chapter, res in results.items():
        for c in (res or {}).get("claims", []) if isinstance(res, dict) else []:
            out.append(c)
    return out


def report(ctx: Ctx) -> dict:
    """Chapter 12: what the store holds for every chapter (never trains)."""
    return {"results": collect(ctx)}


# ------------------------------------------------------------------ registry ----

CHAPTERS: dict[str, Callable[[Ctx], dict]] = {name: _not_available(name) for name in CHAPTER_ORDER}
CHAPTERS.update({"architectures": architectures, "unavailing": unavailing, "energy": energy, "report": report})


def run(name: str, params=None, **kw) -> dict:
    """The compute step of chapter ``name`` with a notebook's :class:`msr.book.Params` (or keywords)."""
    if name not in CHAPTERS:
        raise ValueError(f"unknown chapter {name!r}; valid: {', '.join(CHAPTER_ORDER)}")
    ctx = Ctx.from_params(params) if params is not None else Ctx(**kw)
    return CHAPTERS[name](ctx)


# ----------------------------------------------------------------------- CLI ----

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="+", metavar="NAME",
                   help=f"chapters to compute, or 'all' ({', '.join(CHAPTER_ORDER)})")
    p.add_argument("--profile", default="fmnist", help="smoke, fmnist or paper (msr.profiles)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--recompute", action="store_true", help="ignore stored results and compute again")
    p.add_argument("--data-root", default="data", help="where data sets live or are downloaded to")


def main(args: argparse.Namespace) -> int:
    from msr.book import check_parameters

    names = list(CHAPTER_ORDER) if args.names == ["all"] else args.names
    unknown = [n for n in names if n not in CHAPTERS]
    if unknown:
        raise ValueError(f"unknown chapter(s) {', '.join(unknown)}; valid: {', '.join(CHAPTER_ORDER)} or all")
    params = check_parameters({"profile": args.profile, "device": args.device, "recompute": args.recompute,
                               "data_root": args.data_root})
    failed = []
    for name in names:
        start = time.perf_counter()
        try:
            out = run(name, params)
            status = "unavailable: " + out["unavailable"] if "unavailable" in out else "ok"
        except Exception as err:  # one chapter failing does not stop the others
            status = f"FAILED: {type(err).__name__}: {err}"
            failed.append(name)
        print(f"[{name}] {status} ({time.perf_counter() - start:.1f} s)", flush=True)
    return 1 if failed else 0


__all__ = ["CHAPTERS", "CHAPTER_ORDER", "Ctx", "collect", "run", "report_rows", "energy_rows",
           "block_flow", "stage_shapes", "eq8_probability", "eq8_monte_carlo", "provenance"]
