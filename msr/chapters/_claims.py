"""How the chapters judge the paper's claims: the kinds of claim rows, and the rule that
compares trained accuracies against their spread over seeds."""
from __future__ import annotations

#: What each claim row is: ``evidence``, a trained or measured result that could have come
#: out either way (the only kind the report counts as shown / not shown); ``arithmetic``,
#: a closed form or a simulation checked against the paper's number or another closed
#: form; ``by construction``, true of the model as defined (e.g. an identity block at
#: initialisation), so it cannot fail.
CLAIM_KINDS = ("evidence", "arithmetic", "by construction")

#: How claims judge trained numbers against seed noise (the report chapter states it too).
SPREAD_RULE = ("A difference between two trained accuracies counts only when it is larger than the sum of "
               "their standard deviations over seeds, that is when their mean ± std bars do not overlap. "
               "A cell trained with one seed has no known spread: its value is compared as it is, and the "
               "verdict says 'one seed'.")


def sd(r: dict | None) -> float:
    """The seed spread of a cell (0 for one seed or none)."""
    return (r or {}).get("std") or 0.0


def clearly_above(a: dict, b: dict) -> bool:
    """``a`` is more accurate than ``b`` beyond the seed spread (:data:`SPREAD_RULE`)."""
    return a["acc"] - b["acc"] > sd(a) + sd(b)


def pm(r: dict) -> str:
    """``"91.23 ± 0.41 (n = 3)"``, or ``"91.23"`` for one seed."""
    n = r.get("n", 1)
    return f"{r['acc']:.2f} ± {r['std']:.2f} (n = {n})" if n > 1 and r.get("std") is not None else f"{r['acc']:.2f}"


def seeds_note(items) -> str:
    """How many seeds stand behind the stored cells ``items``: "one seed", "3 seeds", "2-3 seeds"."""
    ns = sorted({(r or {}).get("n", 1) for r in items if r})
    if not ns or ns == [1]:
        return "one seed"
    return f"{ns[0]} seeds" if len(ns) == 1 else f"{ns[0]}-{ns[-1]} seeds"
