"""Block dynamical isometry (book chapter 4): gradient norms per block and phi(J J^T)
across depth at initialisation, and the gradient norms of the trained Table II models."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from msr import per_run
from msr.chapters._runs import per_run_items, primary, recipe_base, run_budget, test_batch, train_runs

if TYPE_CHECKING:
    from msr.chapters import ChapterContext


def _untrained(base_cfg, depths, blocks=("vanilla", "ms"), **replace):
    """``(block, depth, model)`` of each block type of ``blocks`` at every depth of ``depths``,
    each as it starts (seed 0), ``replace`` applied to ``base_cfg``."""
    import torch

    from msr.train import build_model, model_info

    for block in blocks:
        for depth in depths:
            cfg = base_cfg.replace(block=block, depth=depth, **replace)
            torch.manual_seed(0)
            yield block, depth, build_model(cfg, model_info(cfg))


def _payload(ctx, base_cfg, depths) -> dict:
    """Rows ``{block, depth, state, grad_norms, phi, stages}``: vanilla and MS at every
    depth of ``depths`` at initialisation (gradient norms and phi(J J^T) per block); the
    trained models' rows are per-run items (:mod:`msr.per_run`)."""
    from msr.analysis.isometry import block_isometry, gradient_norms

    sizes = per_run.analysis_sizes(ctx.profile)
    x, y = test_batch(base_cfg, sizes["iso_batch"], train_split=True)
    rows = []
    for block, depth, model in _untrained(base_cfg, depths):
        iso = block_isometry(model, x, probes=sizes["probes"])
        rows.append({"block": block, "depth": depth, "state": "init",
                     "grad_norms": gradient_norms(model, x, y), "phi": [r["phi"] for r in iso],
                     "stages": [r["stage"] for r in iso]})
    return {"rows": rows}


#: varphi (Definition 1's second condition) is measured up to this depth: it needs a double
#: backward through the reference LIF, minutes per network on two CPU cores at depth 482.
VARPHI_MAX_DEPTH = 110


#: The control of the varphi claim: MS-ResNet with the BN that ends its residual path at the
#: standard scale (gamma2 = 1 x standard, as vanilla's), so that its blocks are not the identity.
VARPHI_CONTROL = "ms, gamma2 = 1"
#: Vanilla's median varphi must exceed the control's by this factor at every depth.
VARPHI_CONTROL_RATIO = 2.0


def _varphi_payload(ctx, base_cfg, depths, blocks=("vanilla", "ms"), label=None, **replace) -> dict:
    """Rows ``{block, depth, phi, varphi, stages}`` of the ``blocks`` at initialisation (``label``:
    the block name rows carry instead, ``replace``: config changes, e.g. ``gamma2``):
    varphi(J J^T) = phi((J J^T)^2) - phi(J J^T)^2 per block, Definition 1's second condition,
    with the reference LIF (the only backend whose backward can be differentiated again)."""
    from msr.analysis.isometry import block_isometry

    sizes = per_run.analysis_sizes(ctx.profile)
    x, _ = test_batch(base_cfg, sizes["iso_batch"], train_split=True)
    rows = []
    for block, depth, model in _untrained(base_cfg, depths, blocks, lif_backend="reference", **replace):
        iso = block_isometry(model, x, probes=sizes["probes"], spread=True)
        rows.append({"block": label or block, "depth": depth, "phi": [r["phi"] for r in iso],
                     "varphi": [r["varphi"] for r in iso], "stages": [r["stage"] for r in iso]})
    return {"rows": rows}


def compute(ctx: ChapterContext) -> dict:
    """Chapter 4: gradient norms per block and phi(J J^T) at initialisation across depth
    (needs no training: computed in every compute mode), and gradient norms of the
    trained Table II models (their per-run analyses, when the store has them)."""
    runs = train_runs(ctx.reader(), "table2", seeds=primary())
    base = recipe_base(runs)
    sizes = per_run.analysis_sizes(ctx.profile)
    c = {"kind": "isometry_init", "base": base.hash_dict(), "depths": sizes["iso_depths"], "probes": sizes["probes"],
         "inputs": per_run.inputs_of(base),
         "batch": sizes["iso_batch"]}
    init = ctx.item("isometry", c, lambda: _payload(ctx, base, sizes["iso_depths"]))
    vdepths = tuple(d for d in sizes["iso_depths"] if d <= VARPHI_MAX_DEPTH)
    cv = {**c, "kind": "isometry_varphi", "depths": vdepths, "lif_backend": "reference"}
    var = ctx.item("isometry_varphi", cv, lambda: _varphi_payload(ctx, base, vdepths))
    control = ctx.item("isometry_varphi", {**cv, "kind": "isometry_varphi_control", "gamma2": 1.0},
                       lambda: _varphi_payload(ctx, base, vdepths, ("ms",), VARPHI_CONTROL, gamma2=1.0))
    chosen = {(cf.block, cf.depth): (cf, r) for cf, r, _ in sorted(runs, key=lambda run: (run[0].block, run[0].depth))
              if cf.block in ("vanilla", "ms")}
    trained = per_run_items(ctx, "isometry", chosen)
    # a trained row carries its run's training and accuracy, so that a table can say which model it is
    rows = (init["rows"] if init else []) + [
        {**per_run.payload(item), "training": run_budget(chosen[k][0]), "acc": chosen[k][1]["final"]["reported_acc"]}
        for k, (item, _) in trained.items()]
    provs = [p["provenance"] for p in [init] + [item for item, _ in trained.values()] if p]
    res = ({"rows": rows, "provenances": provs, "init_provenances": [init["provenance"]] if init else [],
            "trained_provenances": [item["provenance"] for item, _ in trained.values()]} if rows else None)
    varphi = ({"rows": var["rows"] + (control["rows"] if control else []),
               "provenances": [p["provenance"] for p in (var, control) if p and p.get("provenance")]}
              if var else None)
    return {"isometry": res, "varphi": varphi, "claims": _isometry_claims(res) + [_varphi_claim(varphi)]}


#: Definition 1 asks varphi(J J^T) to be close to 0; the vanilla network misses it when the
#: median varphi of its identity-shortcut blocks exceeds this at every depth measured.
VARPHI_FAR = 0.1


def median_varphi(row: dict) -> float:
    """The median varphi(J J^T) of a row's identity-shortcut blocks (the blocks Proposition 1
    speaks of; :func:`msr.analysis.isometry.identity_shortcut_phi` picks them)."""
    from msr.analysis.isometry import identity_shortcut_phi

    return float(np.median(identity_shortcut_phi(row["varphi"], row["stages"])))


def _varphi_claim(varphi: dict | None) -> dict:
    """Proposition 1's "the vanilla spiking ResNet does not achieve block dynamical isometry",
    tested on Definition 1's second condition, varphi(J J^T) close to 0. That test is msr's:
    the paper argues from phi and the firing probability p, and derives varphi only for the
    interblock LIF's own gate, (p - p^2)/a^4 (Eq. 15, at most 1/(4 a^4)).  A block that is not
    the identity has varphi above 0 whatever its shortcut, so the test has a control: MS-ResNet
    with the BN that ends its residual path at the standard scale (:data:`VARPHI_CONTROL`), whose
    residual path is as active as vanilla's but which has no interblock LIF.  Shown when, at
    every depth measured, vanilla's median varphi exceeds :data:`VARPHI_FAR` and
    :data:`VARPHI_CONTROL_RATIO` times the control's (``evidence``).  MS-ResNet as msr starts
    it (gamma2 = 0) is reported beside: its identity-shortcut blocks are the identity, so its
    varphi is 0 by construction."""
    text = ("the vanilla spiking ResNet does not achieve block dynamical isometry (Proposition 1); tested here on "
            "Definition 1's second condition, varphi(J J^T) ≈ 0, which the paper's argument does not use (it "
            "derives varphi only for the interblock LIF itself, Eq. 15)")
    rows = (varphi or {}).get("rows") or []

    def medians(block):
        return {r["depth"]: median_varphi(r) for r in rows if r["block"] == block}

    va, ms, ctl = medians("vanilla"), medians("ms"), medians(VARPHI_CONTROL)
    if not va:
        return {"paper": text, "shown": None, "evidence": "not run", "kind": "evidence"}

    def span(v):  # rounding noise of an exact 0 (below 1e-6) printed as 0
        lo, hi = (0.0 if abs(x) < 1e-6 else x for x in (min(v.values()), max(v.values())))
        return f"{lo:.3g}" if lo == hi else f"{lo:.3g} to {hi:.3g}"

    depths = f"depth {min(va)} to {max(va)}" if len(va) > 1 else f"depth {min(va)}"
    beside = (f"; MS-ResNet as msr starts it (gamma2 = 0): {span(ms)}, which holds by construction (its "
              "identity-shortcut blocks are the identity)" if ms else "")
    head = ("untrained, median varphi(J J^T) of the identity-shortcut blocks at " + depths + f": vanilla {span(va)}")
    if not set(va) <= set(ctl):
        return {"paper": text, "shown": None, "kind": "evidence", "measured": True, "untrained": True,
                "evidence": f"{head}; the control ({VARPHI_CONTROL}) not run at every depth{beside}",
                "key": f"untrained, median varphi: vanilla {span(va)}; control not run"}
    ratios = {d: va[d] / max(ctl[d], 1e-12) for d in va}
    shown = min(va.values()) > VARPHI_FAR and min(ratios.values()) > VARPHI_CONTROL_RATIO
    lo, hi = min(ratios.values()), max(ratios.values())
    times = f"{lo:.2g}" if f"{lo:.2g}" == f"{hi:.2g}" else f"{lo:.2g} to {hi:.2g}"
    return {"paper": text, "shown": shown, "kind": "evidence", "untrained": True,
            "evidence": f"{head}; the control, MS-ResNet with gamma2 = 1 (its residual path as active as vanilla's, "
                        f"no interblock LIF): {span(ctl)}, so vanilla's is {times} times the control's (shown: "
                        f"vanilla above {VARPHI_FAR:g} and above {VARPHI_CONTROL_RATIO:g} times the control at every "
                        f"depth){beside}",
            "key": f"untrained, median varphi: vanilla {span(va)}, control {span(ctl)} ({times} x)"}


def phi_ratio(row: dict) -> float | None:
    """The first / last gradient norm ratio the identity-shortcut blocks' phi(J J^T) predict:
    phi is a ratio of squared norms (along random directions), so the square root of their
    product; None where the row has no phi."""
    from msr.analysis.isometry import identity_shortcut_phi

    if not row.get("phi") or not row.get("stages"):
        return None
    return float(np.sqrt(np.prod(identity_shortcut_phi(row["phi"], row["stages"]))))


def first_last_ratio(row: dict) -> float:
    """Gradient norm at the first block's input over the last's (1: equal; a vanished last
    gradient counts as 1e-30)."""
    return row["grad_norms"][0] / max(row["grad_norms"][-1], 1e-30)


#: MS-ResNet's gradient norms stay within this many decades (log10 of largest / smallest)
#: across its blocks at every depth: Proposition 1, which holds by construction.
MS_SPREAD_MAX = 0.5
#: the vanilla network misses isometry when, at the deepest depth measured, its gradient
#: norms spread this many decades more than MS-ResNet's.
VANILLA_DRIFT = 1.0


def decades(grad_norms) -> float:
    """How many decades gradient norms span across blocks: log10 of largest / smallest
    (infinite where a block's gradient vanished)."""
    g = np.asarray(grad_norms, dtype=float)
    return float(np.log10(g.max() / g.min())) if len(g) and g.min() > 0 else float("inf")


def _spreads(res: dict | None) -> dict[str, dict[int, tuple[float, str]]]:
    """Per block type and depth at initialisation: the decades between the largest and the
    smallest gradient norm across blocks (infinite where a block's gradient vanished), and
    its wording."""
    out: dict[str, dict[int, tuple[float, str]]] = {"vanilla": {}, "ms": {}}
    for r in (res or {}).get("rows", []):
        if r["state"] != "init" or r["block"] not in out:
            continue
        g = np.asarray(r["grad_norms"], dtype=float)
        zero = int((g <= 0).sum())
        if zero or not len(g):
            out[r["block"]][r["depth"]] = (float("inf"), f"without bound ({zero} of {len(g)} blocks with no gradient)")
        else:
            d = decades(g)
            out[r["block"]][r["depth"]] = (d, f"{d:.2f} decades")
    return out


def _isometry_claims(res: dict | None) -> list[dict]:
    """Proposition 1 at initialisation, in two rows. MS-ResNet: phi(J J^T) = 1 + gamma^2 phi of
    the residual path, and msr's gamma2 = 0 (Sec. V-B) is the limiting case of the proposition's
    small gamma, where every block whose shortcut is the identity is itself the identity, so
    phi(J J^T) = 1 there and its gradient norms stay equal (``by construction``; holds when they
    span less than :data:`MS_SPREAD_MAX` decades at every depth). Vanilla: a measurement that
    could come out either way (``evidence``): shown when, at the deepest depth measured for
    both, its gradient norms spread :data:`VANILLA_DRIFT` decades more than MS-ResNet's; the
    evidence names every depth at which that holds, and those at which it does not."""
    ms_text = ("MS-ResNet keeps gradient norms equal across blocks at initialisation: with gamma2 = 0, the "
               "limit of Proposition 1's small gamma (Sec. V-B), its identity-shortcut blocks start as the "
               "identity (block dynamical isometry)")
    va_text = ("the vanilla spiking ResNet does not achieve block dynamical isometry, so it does not keep gradient "
               "norms equal across blocks (Proposition 1; the paper argues from the firing probability p, which "
               "changes during training; measured here at initialisation)")
    sp = _spreads(res)
    ms, va = sp["ms"], sp["vanilla"]
    if ms:
        lo, hi = min(ms.values()), max(ms.values())
        depths = f"depth {min(ms)}" + (f" to {max(ms)}" if len(ms) > 1 else "")
        span = lo[1] if lo == hi else f"{lo[0]:.2f} to {hi[1]}"
        ms_row = {"paper": ms_text, "shown": hi[0] < MS_SPREAD_MAX, "kind": "by construction",
                  "evidence": f"gradient norms span {span} across blocks at {depths} (holds: under "
                              f"{MS_SPREAD_MAX} decades at every depth)"}
    else:
        ms_row = {"paper": ms_text, "shown": None, "evidence": "not run", "kind": "by construction"}
    common = set(ms) & set(va)
    if not common:
        return [ms_row, {"paper": va_text, "shown": None, "evidence": "not run", "kind": "evidence"}]
    deep = max(common)
    gap = va[deep][0] - ms[deep][0]
    per_depth = ", ".join(f"{d}: {va[d][1].replace(' decades', '')}" for d in sorted(va))
    wide = [d for d in sorted(common) if va[d][0] - ms[d][0] > VANILLA_DRIFT]
    narrow = [d for d in sorted(common) if d not in wide]
    narrow_max = max((va[d][0] for d in narrow), default=None)  # vanilla's widest span where it is not wide

    def depths(ds):  # "8 to 110" where no depth of the other list lies between
        between = any(ds[0] < d < ds[-1] for d in (narrow if ds is wide else wide))
        return f"{ds[0]} to {ds[-1]}" if len(ds) > 2 and not between else " and ".join(map(str, ds))

    where = (f"wider by more than {VANILLA_DRIFT:g} decade at depth {depths(wide)} only"
             + (f"; at depth {depths(narrow)} within {narrow_max:.2f} decades"
                + (f", under the {MS_SPREAD_MAX} decades MS-ResNet's row asks" if narrow_max < MS_SPREAD_MAX else "")
                if narrow else "")
             if wide else f"at no depth wider by more than {VANILLA_DRIFT:g} decade")
    va_row = {"paper": va_text, "shown": gap > VANILLA_DRIFT, "kind": "evidence", "untrained": True,
              "scope": f"at depth {depths(wide)} only, not at {depths(narrow)}" if gap > VANILLA_DRIFT and narrow
                       else None,
              "evidence": f"untrained, gradient norms across blocks span (decades, by depth) {per_depth} in the "
                          f"vanilla network; at depth {deep}: {va[deep][1]}, against MS-ResNet's {ms[deep][1]}; "
                          f"{where} (shown: at the deepest depth more than {VANILLA_DRIFT:g} decade wider than MS)",
              "key": f"depth {deep}: vanilla {va[deep][1]}, MS {ms[deep][1]}"
                     + (f"; depth {depths(narrow)}: vanilla at most {narrow_max:.2f} decades"
                        if wide and narrow else "")}
    return [ms_row, va_row]
