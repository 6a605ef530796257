"""Unavailing residual representation of the vanilla spiking ResNet (Sec. III-A, Eq. 7-8).

A vanilla block computes o_{l+1} = LIF(F(o_l) + o_l).  Ignoring the decayed membrane
potential, a neuron changes its firing state when

    P(s in S) = P(o=0) * P(F > V_th) + P(o=1) * P(F < V_th - 1)             (Eq. 7-8)

(F + o must cross V_th upward from o = 0, or fall below it from o = 1).  With
F ~ N(0, sigma^2) and sigma = V_th = 0.5 both tails are Phi(-1) = 0.1587, so
P = 0.159 whatever P(o=1) is: the paper's "about 16 %".

:func:`state_change_fraction` measures the same quantity in a vanilla network: the
fraction of (neuron, timestep) pairs whose spike differs between the block's input
o_l and its output o_{l+1} (lif_out), which also includes the membrane dynamics Eq. 7
leaves out.  Beside it, ``eq8_empirical`` evaluates Eq. 7 element by element on the
measured F and o_l of the same forward pass -- Eq. 8 with the measured distribution phi
of F (and its dependence on o_l) in place of the zero-mean normal, so a trained BN's
shifted or channel-dependent F does not count against Eq. 8 -- while ``eq8`` keeps the
normal with the measured RMS of F (the paper's 16 % assumption).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from msr.analysis.firing import _as_inputs, _run, analysis_mode

#: Version of what :func:`state_change_fraction` returns, part of the keys of its stored
#: results (2: ``eq8_empirical``), so results of an older definition are computed again.
VERSION = 2


def _norm_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _check(sigma: float, p_fire: float) -> None:
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    if not 0.0 <= p_fire <= 1.0:
        raise ValueError(f"p_fire = P(o=1) must lie in [0, 1], got {p_fire}")


def p_state_change(sigma: float = 0.5, v_th: float = 0.5, p_fire: float = 0.5) -> float:
    """Eq. 8 for F ~ N(0, sigma^2): (1 - p_fire) * P(F > V_th) + p_fire * P(F < V_th - 1)."""
    _check(sigma, p_fire)
    return (1.0 - p_fire) * (1.0 - _norm_cdf(v_th / sigma)) + p_fire * _norm_cdf((v_th - 1.0) / sigma)


def p_state_change_mc(sigma: float = 0.5, v_th: float = 0.5, p_fire: float = 0.5,
                      n: int = 1_000_000, seed: int = 0) -> float:
    """Monte-Carlo check of Eq. 7: draw o ~ Bernoulli(p_fire), F ~ N(0, sigma^2) and
    count how often the spike of F + o (fires if > V_th) differs from o."""
    _check(sigma, p_fire)
    rng = np.random.default_rng(seed)
    o = rng.random(n) < p_fire
    f = rng.normal(0.0, sigma, n)
    return float((((f + o) > v_th) != o).mean())


@torch.no_grad()
def state_change_fraction(model: nn.Module, batches, T: int | None = None, mode: str = "eval") -> list[dict]:
    """Per block of a spiking-in/spiking-out model (vanilla): how often the block
    changes a neuron's firing state (``mode``: see
    :func:`msr.analysis.firing.analysis_mode`; use ``train`` at initialisation).

    Rows: ``{"block", "stage", "index", "changed", "up", "down", "p_fire_in",
    "sigma_f", "eq8", "eq8_empirical"}`` -- ``changed`` = P(o_{l+1} != o_l),
    ``up``/``down`` the 0->1 and 1->0 parts, ``p_fire_in`` = P(o_l = 1), ``sigma_f``
    the root mean square of the residual output F (bn2's output; its standard deviation
    under Eq. 8's zero-mean assumption), ``eq8`` the Eq. 8 prediction from those two
    (F ~ N(0, sigma_f^2)), and ``eq8_empirical`` the fraction of (neuron, timestep)
    pairs where F + o_l lies on the other side of V_th than o_l (Eq. 7 without the
    membrane decay, on the measured F).  Downsampling blocks (input and output are
    different neurons) get ``None`` for the comparison fields.
    """
    blocks = list(model.blocks)
    if not blocks or not all(b.spiking_input and b.spiking_output for b in blocks):
        raise ValueError(
            f"state changes need blocks with spiking input and output (vanilla, plain); got {model.block_name!r}"
        )
    names = [(f"stages.{s}.{b}", s, b) for s, stage in enumerate(model.stages) for b in range(len(stage))]
    acc = [dict(n=0, changed=0.0, up=0.0, down=0.0, fire=0.0, f_sq=0.0, f_n=0, crossed=0.0, crossed_n=0)
           for _ in blocks]
    cache: dict[int, torch.Tensor] = {}

    def pre(i):
        def fn(module, args):
            cache[i] = args[0]

        return fn

    def post(i):
        def fn(module, args, out):
            o_in = cache.pop(i)
            if o_in.shape != out.shape:
                return
            a = acc[i]
            a["n"] += out.numel()
            a["changed"] += float((o_in != out).sum(dtype=torch.float64))
            a["up"] += float(((o_in == 0) & (out == 1)).sum(dtype=torch.float64))
            a["down"] += float(((o_in == 1) & (out == 0)).sum(dtype=torch.float64))
            a["fire"] += float(o_in.sum(dtype=torch.float64))

        return fn

    def bn2_hook(i, v_th):
        def fn(module, args, out):
            a = acc[i]
            a["f_sq"] += float(out.double().pow(2).sum())
            a["f_n"] += out.numel()
            o_in = cache.get(i)  # the block's input, cached by its pre-hook
            if o_in is not None and o_in.shape == out.shape:
                fired = o_in != 0
                a["crossed"] += float(((out.float() + o_in.float() > v_th) != fired).sum(dtype=torch.float64))
                a["crossed_n"] += out.numel()

        return fn

    def threshold(blk):
        return blk.lif_out.v_th if hasattr(blk, "lif_out") else blk.lif2.v_th

    handles = []
    for i, b in enumerate(blocks):
        handles += [b.register_forward_pre_hook(pre(i)), b.register_forward_hook(post(i)),
                    b.bn2.register_forward_hook(bn2_hook(i, threshold(b)))]
    try:
        with analysis_mode(model, mode):
            for x in _as_inputs(batches):
                _run(model, x, T)
    finally:
        for h in handles:
            h.remove()
    rows = []
    for (name, s, b), blk, a in zip(names, blocks, acc, strict=True):
        v_th = threshold(blk)
        row = {"block": name, "stage": s, "index": b, "changed": None, "up": None, "down": None,
               "p_fire_in": None, "sigma_f": None, "eq8": None, "eq8_empirical": None}
        if a["n"]:
            sigma = math.sqrt(a["f_sq"] / a["f_n"]) if a["f_n"] else 0.0
            p = a["fire"] / a["n"]
            row.update(changed=a["changed"] / a["n"], up=a["up"] / a["n"], down=a["down"] / a["n"],
                       p_fire_in=p, sigma_f=sigma, eq8=p_state_change(sigma, v_th, p) if sigma > 0 else 0.0,
                       eq8_empirical=a["crossed"] / a["crossed_n"] if a["crossed_n"] else None)
        rows.append(row)
    return rows


def plot_state_changes(ax, rows_by_label: dict[str, list[dict]], eq8: float | None = None):
    """Measured state-change fraction per block (one line per model) against the block's
    position as a fraction of its network's blocks, so that networks of different depth
    line up stage by stage; labels containing ``untrained`` are drawn dashed with hollow
    markers, so a line that coincides with another (the same seed gives two depths the
    same first weights) stays visible. The Eq. 8 level is dashed in black."""
    from matplotlib.ticker import PercentFormatter

    for label, rows in rows_by_label.items():
        n = len(rows)
        untrained = "untrained" in label
        ax.plot([(i + 1) / n for i in range(n)], [np.nan if r["changed"] is None else r["changed"] for r in rows],
                ls="--" if untrained else "-", marker="o", ms=5 if untrained else 3.5,
                mfc="none" if untrained else None, label=label)
    if eq8 is not None:
        ax.axhline(eq8, color="k", ls="--", lw=0.8, label=f"Eq. 8: {100 * eq8:.1f} %")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
    ax.set_ylim(0, 1.1 * ax.get_ylim()[1])  # from zero: a spread of half a point must not look like a trend
    ax.set_xlabel("block, as a fraction of the network's blocks")
    ax.set_ylabel("firing states the block changes")
    ax.set_xlim(0, 1.02)
    ax.legend()
    return ax
