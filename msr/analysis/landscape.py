"""Loss landscape (Fig. 4): f(alpha, beta) = L(theta* + alpha * delta + beta * eta).

Directions follow Li et al. (2018), "Visualizing the loss landscape of neural nets":
each direction is Gaussian, then every *filter* (the slice ``d[i]`` along the first,
output dimension of a conv or linear weight) is rescaled to the norm of the same
filter of theta*; BN scales/shifts and all biases get a zero direction (BN running
statistics are buffers and stay untouched).

The paper calls delta and eta orthogonal.  Gram-Schmidt on the whole vectors would
break the filter norms, so we orthogonalise filter by filter: each filter of eta is
made orthogonal to the same filter of delta *before* it is rescaled.  Every filter
pair is then orthogonal, hence so are the full vectors, and both directions keep the
exact filter norms.

The loss is evaluated with BN in eval mode (running statistics) on a fixed list of
training batches; the weights and the model's mode are restored afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

Direction = dict[str, torch.Tensor]


def _perturbable(name: str, p: torch.Tensor) -> bool:
    """Conv/linear weights (dim >= 2) get a direction; BN parameters and biases (dim <= 1) do not."""
    return p.dim() >= 2


def random_direction(model: nn.Module, generator: torch.Generator | None = None) -> Direction:
    """A Gaussian direction with the shape of every parameter of ``model`` (zero for BN and biases)."""
    d = {}
    for name, p in model.named_parameters():
        if _perturbable(name, p):
            d[name] = torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device)
        else:
            d[name] = torch.zeros_like(p)
    return d


def filter_normalize(direction: Direction, model: nn.Module, orthogonal_to: Direction | None = None) -> Direction:
    """Li et al.'s filter normalisation: ``d[i] * ||w[i]|| / ||d[i]||`` for every filter
    ``i`` of every conv/linear weight, zero for BN parameters and biases.

    With ``orthogonal_to``, each filter is first made orthogonal to the matching filter
    of that direction (so the two full directions are orthogonal too).
    """
    out = {}
    for name, w in model.named_parameters():
        if name not in direction:
            raise KeyError(f"direction lacks parameter {name!r}")
        d = direction[name].detach().clone()
        if d.shape != w.shape:
            raise ValueError(f"direction for {name!r} has shape {tuple(d.shape)}, parameter {tuple(w.shape)}")
        if not _perturbable(name, w):
            out[name] = torch.zeros_like(w)
            continue
        d2 = d.reshape(d.shape[0], -1)
        if orthogonal_to is not None:
            o = orthogonal_to[name].detach().reshape(d.shape[0], -1).to(d2)
            oo = (o * o).sum(1, keepdim=True)
            coef = torch.where(oo > 0, (d2 * o).sum(1, keepdim=True) / oo.clamp_min(1e-30), torch.zeros_like(oo))
            d2 = d2 - coef * o
        w_norm = w.detach().reshape(w.shape[0], -1).norm(dim=1, keepdim=True)
        d_norm = d2.norm(dim=1, keepdim=True)
        scale = torch.where(d_norm > 0, w_norm / d_norm.clamp_min(1e-30), torch.zeros_like(d_norm))
        out[name] = (d2 * scale).reshape(w.shape)
    return out


def make_directions(model: nn.Module, seed: int = 0) -> tuple[Direction, Direction]:
    """Two filter-normalised, mutually orthogonal random directions (delta, eta) of Fig. 4."""
    g = torch.Generator().manual_seed(seed)
    delta = filter_normalize(random_direction(model, g), model)
    eta = filter_normalize(random_direction(model, g), model, orthogonal_to=delta)
    return delta, eta


def _model_kwargs(T):
    return {} if T is None else {"T": T}


@torch.no_grad()
def evaluate(model: nn.Module, batches, loss_fn: Callable = F.cross_entropy,
             T: int | None = None) -> tuple[float, float]:
    """Sample-weighted mean loss and accuracy of ``model`` (as it is) over ``(x, y)`` batches."""
    total_loss, correct, n = 0.0, 0, 0
    for x, y in batches:
        logits = model(x, **_model_kwargs(T))
        total_loss += float(loss_fn(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        n += len(y)
    if not n:
        raise ValueError("no (x, y) batch given")
    return total_loss / n, correct / n


@dataclass
class Landscape:
    """Fig. 4 data.  ``loss[j, i] = f(alphas[i], betas[j])`` (rows: beta), the layout
    ``ax.contour(alphas, betas, loss)`` expects; ``acc`` likewise."""

    alphas: np.ndarray
    betas: np.ndarray
    loss: np.ndarray
    acc: np.ndarray
    seed: int

    def to_dict(self) -> dict:
        return {
            "alphas": self.alphas.tolist(),
            "betas": self.betas.tolist(),
            "loss": self.loss.tolist(),
            "acc": self.acc.tolist(),
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Landscape":
        return cls(*(np.asarray(d[k], dtype=float) for k in ("alphas", "betas", "loss", "acc")), seed=int(d["seed"]))


def loss_landscape(
    model: nn.Module,
    batches: list,
    steps: int = 21,
    span: float = 1.0,
    alphas=None,
    betas=None,
    seed: int = 0,
    directions: tuple[Direction, Direction] | None = None,
    loss_fn: Callable = F.cross_entropy,
    T: int | None = None,
) -> Landscape:
    """Evaluate f(alpha, beta) on a grid (Fig. 4).

    ``batches``: a fixed list of ``(x, y)`` training batches.  The grid is
    ``linspace(-span, span, steps)`` on both axes unless ``alphas``/``betas`` are given.
    Directions: ``make_directions(model, seed)`` unless given.  BN runs in eval mode;
    the original weights and mode are restored even if evaluation fails.
    """
    if not isinstance(batches, (list, tuple)) or not batches:
        raise ValueError("batches must be a non-empty list of (x, y) batches (a fixed subset)")
    if alphas is None or betas is None:
        if steps < 1 or span <= 0:
            raise ValueError(f"need steps >= 1 and span > 0, got steps={steps}, span={span}")
    alphas = np.linspace(-span, span, steps) if alphas is None else np.asarray(alphas, dtype=float)
    betas = np.linspace(-span, span, steps) if betas is None else np.asarray(betas, dtype=float)
    delta, eta = directions if directions is not None else make_directions(model, seed)
    params = dict(model.named_parameters())
    theta = {n: p.detach().clone() for n, p in params.items()}
    was_training = model.training
    loss = np.zeros((len(betas), len(alphas)))
    acc = np.zeros_like(loss)
    model.eval()
    try:
        with torch.no_grad():
            for j, b in enumerate(betas):
                for i, a in enumerate(alphas):
                    for n, p in params.items():
                        p.copy_(theta[n] + float(a) * delta[n] + float(b) * eta[n])
                    loss[j, i], acc[j, i] = evaluate(model, batches, loss_fn, T)
    finally:
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(theta[n])
        model.train(was_training)
    return Landscape(alphas, betas, loss, acc, seed)


def nonconvexity(loss: np.ndarray) -> float:
    """Share of interior grid points where the discrete Hessian along the axes is
    negative somewhere (a local non-convexity index; 0 for a convex bowl, Fig. 4)."""
    if loss.shape[0] < 3:
        return float("nan")
    dxx = loss[1:-1, 2:] - 2 * loss[1:-1, 1:-1] + loss[1:-1, :-2]
    dyy = loss[2:, 1:-1] - 2 * loss[1:-1, 1:-1] + loss[:-2, 1:-1]
    return float(np.mean((dxx < 0) | (dyy < 0)))


#: a local extremum must stand out from its 8 neighbours by this share of the grid's loss
#: range, so that numerical jitter on a flat plateau does not count
EXTREMUM_TOLERANCE = 1e-3


def local_extrema(loss: np.ndarray, rel_tol: float = EXTREMUM_TOLERANCE) -> int:
    """Local minima and maxima of the grid besides its lowest point (Fig. 4, Sec. V-A:
    "the appearance of more local minima and maxima makes the non-convexity stronger").

    An interior point counts when it is below (or above) each of its 8 neighbours by more
    than ``rel_tol`` times the grid's loss range.  A single basin of any width, and a basin
    that flattens into a plateau, count 0; :func:`nonconvexity` counts both (a narrow
    well's outer ring curves downward)."""
    z = np.asarray(loss, dtype=float)
    if z.ndim != 2 or min(z.shape) < 3:
        raise ValueError(f"need a 2-D grid of at least 3 x 3 points, got shape {z.shape}")
    tol = rel_tol * float(np.ptp(z))
    c = z[1:-1, 1:-1]
    h, w = z.shape
    neighbours = np.stack([z[1 + dj:h - 1 + dj, 1 + di:w - 1 + di]
                           for dj in (-1, 0, 1) for di in (-1, 0, 1) if (dj, di) != (0, 0)])
    minima = np.pad(c + tol < neighbours.min(0), 1)  # on the grid; edge points never count
    minima[np.unravel_index(np.argmin(z), z.shape)] = False  # the basin itself
    maxima = c - tol > neighbours.max(0)
    return int(minima.sum() + maxima.sum())


def plot_landscape(ax, landscape: "Landscape | dict", levels: int = 20, log: bool = False, clabel: bool = True):
    """Contour plot of Fig. 4 on ``ax``; ``log`` contours log(loss) for wide ranges."""
    ls = Landscape.from_dict(landscape) if isinstance(landscape, dict) else landscape
    z = np.log(ls.loss) if log else ls.loss
    cs = ax.contour(ls.alphas, ls.betas, z, levels=levels)
    if clabel:
        ax.clabel(cs, inline=True, fontsize=6, fmt="%.2g")
    ax.plot([0], [0], marker="*", color="k", ms=6)
    ax.set_xlabel(r"$\alpha$")
    ax.set_ylabel(r"$\beta$")
    ax.set_aspect("equal")
    return cs
