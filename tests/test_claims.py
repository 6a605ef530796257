"""Known answers for every claim checker of msr.chapters: the claim holds, fails, or its data are
missing (then ``shown`` is None), on synthetic result dicts; and each claim says what kind it is."""
from __future__ import annotations

import numpy as np
import pytest

from msr import book, chapters, paper

KINDS = set(chapters.CLAIM_KINDS)


def _check(claim: dict, shown, kind: str = "evidence") -> dict:
    assert claim["shown"] is shown, claim
    assert claim["kind"] == kind and claim["kind"] in KINDS
    assert claim["paper"] and claim["evidence"]
    # the landing page's short form, where a claim has one, is shorter than its whole evidence
    assert "key" not in claim or 0 < len(claim["key"]) < len(claim["evidence"]), claim
    return claim


def _acc(a):
    return {"acc": a}


# ----------------------------------------------------------------------- Table II (_peak)
def _t2(plain=None, vanilla=None, ms=None):
    out = {}
    for block, accs in (("plain", plain), ("vanilla", vanilla), ("ms", ms)):
        for d, a in zip((8, 14, 20, 32, 44, 56), accs or (), strict=False):  # fewer: the shallow depths only
            out[(block, d)] = None if a is None else _acc(a)
    return out


def test_table2_claims_hold():
    c = chapters.degradation._table2_claims(_t2(plain=[81, 85, 84, 76, 60, 50], vanilla=[81, 85, 87, 85, 84, 72],
                                    ms=[82, 87, 88, 89, 90, 90.4]))
    assert len(c) == 3
    _check(c[0], True)
    _check(c[1], True)
    assert "depth 20 (87.00 %)" in _check(c[1], True)["evidence"]
    assert c[1]["key"].startswith("peak at depth 20; depth 56 15.00 points below depth 20 (beyond the spread)")
    assert c[0]["paper"] == "PlainNet peaks at 14 layers and degrades beyond"  # the depths are msr.paper's
    assert c[1]["paper"] == "the vanilla spiking ResNet peaks at 20 layers and degrades beyond"
    _check(c[2], True)
    assert c[2]["key"].startswith("best at depth 56; depth 56 below no depth, clearly above 8")
    assert not any("scope" in x for x in c)  # all six depths: no scope on the badge


def test_a_table2_verdict_on_fewer_depths_names_them():
    """MS-ResNet best at the deepest of depths 8-20: shown, and the badge says on which depths."""
    ms = _check(chapters.degradation._table2_claims(_t2(ms=[82, 85, 86]))[2], True)
    assert ms["scope"] == "at depths 8, 14 and 20 only"
    assert chapters.degradation._scope({8: 1, 14: 1}) == {"scope": "at depths 8 and 14 only"}


def test_table2_claims_fail():
    c = chapters.degradation._table2_claims(_t2(plain=[81, 80, 84, 76, 60, 50], vanilla=[81, 85, 84, 88, 84, 72],
                                    ms=[82, 87, 91, 89, 90, 90.4]))
    _check(c[0], False)  # plain peaks at 20
    assert "depth 32" in _check(c[1], False)["evidence"]
    _check(c[2], False)  # MS best at 20, not at 56


def test_table2_peak_within_the_seed_spread_counts_as_the_peak():
    """A best mean at depth 20 within the seed spread of depth 14 does not decide against the
    paper's peak at 14; one clearly above it does; the drop is measured from the paper's depth."""
    def cells(accs, std):
        return {("plain", d): {"acc": a, "std": std, "n": 3} for d, a in zip((8, 14, 20, 32, 44, 56), accs,
                                                                           strict=True)}

    accs = [81, 85, 85.5, 76, 60, 50]
    near = chapters.degradation._table2_claims(cells(accs, 0.4))[0]
    assert "depth 14 (85.00 ± 0.40 (n = 3) %) is within the seed spread of it" in _check(near, True)["evidence"]
    assert "drop from depth 14 to 56: 35.00 points, beyond" in near["evidence"]
    _check(chapters.degradation._table2_claims(cells(accs, 0.1))[0], False)  # 20 clearly above 14
    missing = {k: v for k, v in cells(accs, 0.4).items() if k[1] != 14}
    assert "depth 14 not run" in _check(chapters.degradation._table2_claims(missing)[0], None)["evidence"]
    assert chapters.degradation.paper_peak("plain") == 14 and chapters.degradation.paper_peak("vanilla") == 20


def test_a_peak_claim_without_a_depth_beyond_the_peak_is_not_judged():
    """Vanilla run at depths 8-20 only, best at 20 (the paper's peak): whether it degrades beyond
    20 is not measured, so the claim is undecided, not refuted; a shallower depth clearly above
    depth 20 refutes it without deeper runs."""
    vanilla = _check(chapters.degradation._table2_claims(_t2(vanilla=[81, 85, 87]))[1], None)
    assert vanilla["measured"] and "no depth beyond 20 run yet" in vanilla["evidence"]
    assert vanilla["key"] == "peak at depth 20; no depth beyond 20 run yet; one seed"
    _check(chapters.degradation._table2_claims(_t2(vanilla=[81, 88, 85]))[1], False)  # 14 clearly above 20


def test_table2_claims_missing():
    """Nothing stored reads "not run"; one or two depths say how many of the 3 needed are run
    and count as measured (their badge: "not judged yet")."""
    for c in chapters.degradation._table2_claims({}):
        assert _check(c, None)["evidence"] == "not run" and not c.get("measured")
    plain, vanilla, ms = chapters.degradation._table2_claims(
        _t2(plain=[81, 85], vanilla=[81, None, None, None, None, None], ms=[None] * 6))
    assert _check(plain, None)["evidence"] == "2 of the 3 depths it needs run (8, 14)" and plain["measured"]
    assert _check(vanilla, None)["evidence"] == "1 of the 3 depths it needs run (8)"
    assert _check(ms, None)["evidence"] == "not run"


def test_peak_needs_three_depths():
    assert chapters.degradation._peak({8: 80.0, 14: None, 20: 82.0}) is None
    assert chapters.degradation._peak({8: 80.0, 14: 85.0, 20: 82.0}) == (14, 85.0)


# ----------------------------------------------------------------------------- Eq. 8
def test_eq8_claim_is_arithmetic():
    holds = chapters.unavailing.eq8_claim({"at_vth": {"analytic": 0.1587, "monte_carlo": 0.1590}})
    _check(holds, True, "arithmetic")
    _check(chapters.unavailing.eq8_claim({"at_vth": {"analytic": 0.30, "monte_carlo": 0.30}}), False, "arithmetic")
    _check(chapters.unavailing.eq8_claim({"at_vth": {"analytic": 0.1587, "monte_carlo": 0.17}}), False, "arithmetic")
    _check(chapters.unavailing.eq8_claim(None), None, "arithmetic")
    assert abs(0.1587 - paper.EQ8_PROBABILITY) < 0.01


# ---------------------------------------------------------------------- state changes
def test_state_change_claim():
    def row(changed):
        return {"changed": changed, "eq8": 0.159}

    claim = chapters.unavailing._state_change_claim
    near = claim({"rows": {"vanilla-56 trained": [row(0.15), row(0.16), {"changed": None}]}})
    assert "15.5 % measured" in _check(near, True)["evidence"]
    assert near["key"] == "measured vs Eq. 8: vanilla-56 trained 15.5 vs 15.9 %"
    _check(claim({"rows": {"vanilla-56 trained": [row(0.05), row(0.06)]}}), False)
    # untrained networks agree almost by construction (TDBN sets the RMS of F to V_th): reported, not judged
    alone = _check(claim({"rows": {"vanilla-20 init": [row(0.15), row(0.16)]}}), None)
    assert "no trained vanilla network" in alone["evidence"] and "a check and not evidence" in alone["evidence"]
    assert alone["key"] == "no trained vanilla network yet; untrained vanilla-20 init 15.5 vs 15.9 %"
    assert alone["measured"]
    # the badge names the trained networks behind the verdict and their measured blocks
    assert near["scope"] == "on vanilla-56 (2 blocks) only" and "scope" not in alone
    two = claim({"rows": {"vanilla-20 trained": [row(0.15)] * 7, "vanilla-8 trained": [row(0.16), {"changed": None}]}})
    assert two["scope"] == "on vanilla-20 (7 blocks), vanilla-8 (1 block) only"
    assert ("vanilla-8 trained: 16.0 % measured vs 15.9 % from Eq. 8 with a normal F of the measured RMS, "
            "mean over 1 block") in two["evidence"]
    beside = _check(claim({"rows": {"vanilla-20 init": [row(0.05)], "vanilla-56 trained": [row(0.16)]}}), True)
    assert beside["evidence"].index("trained") < beside["evidence"].index("vanilla-20 init: 5.0 %")
    # one network far off is enough to fail
    _check(claim({"rows": {"a": [row(0.16)], "b": [row(0.30)]}}), False)
    _check(claim(None), None)
    _check(claim({"rows": {"vanilla-20 init": [{"changed": None, "eq8": 0.1}]}}), None)
    # a trained BN shifts F: Eq. 8 is then taken with the measured distribution of F
    shifted = [{"changed": 0.10, "eq8": 0.177, "eq8_empirical": 0.105}]
    trained = _check(claim({"rows": {"vanilla-56 trained": shifted}}), True)
    assert "10.5 % from Eq. 8 with the measured distribution" in trained["evidence"]
    assert "17.7 % with a normal F" in trained["evidence"]
    _check(claim({"rows": {"vanilla-56 trained": [{**shifted[0], "eq8_empirical": 0.2}]}}), False)


def test_unchanged_claim_asks_trained_networks_for_a_majority():
    claim = chapters.unavailing._unchanged_claim
    rows = [{"block": "stages.0.1", "changed": 0.12}, {"block": "stages.0.2", "changed": 0.30},
            {"block": "stages.1.0", "changed": None}]
    most = _check(claim({"rows": {"vanilla-56 trained": rows}}), True)
    assert "79.0 % unchanged, mean over 2 blocks (fewest 70.0 % at stage 1, block 3)" in most["evidence"]
    assert most["key"] == "vanilla-56 trained 79.0 % unchanged"
    # a trained network whose blocks change most states fails it, whatever the untrained ones do
    few = [{"block": "stages.0.1", "changed": 0.55}, {"block": "stages.0.2", "changed": 0.6}]
    _check(claim({"rows": {"vanilla-56 trained": few, "vanilla-20 init": rows}}), False)
    # untrained networks alone: reported as a check, no verdict
    alone = _check(claim({"rows": {"vanilla-20 init": rows}}), None)
    assert "a check and not evidence" in alone["evidence"]
    _check(claim(None), None)
    _check(claim({"rows": {"vanilla-56 trained": [{"changed": None}]}}), None)


# ------------------------------------------------------------------------------ SSIM
def _ssim(vanilla, ms):
    return {"series": {"vanilla-56": {"ssim": vanilla}, "ms-56": {"ssim": ms}}}


def test_ssim_claim_threshold():
    same, moved = chapters.unavailing.SSIM_SAME + 0.005, 0.6
    n = chapters.unavailing.SSIM_MIN_SAME
    holds = chapters.unavailing._ssim_claim(_ssim([same] * n + [moved] * 4, [same] + [moved] * 6))
    assert f"vanilla {n} of" in _check(holds, True)["evidence"]
    assert holds["key"] == f"blocks with SSIM > {chapters.unavailing.SSIM_SAME}: vanilla {n} of {n + 4}, MS 1 of 7"
    # one unchanged block fewer than the threshold: not shown
    _check(chapters.unavailing._ssim_claim(_ssim([same] * (n - 1) + [moved] * 5, [moved] * 7)), False)
    # MS as frozen as vanilla: not shown
    _check(chapters.unavailing._ssim_claim(_ssim([same] * 5 + [moved, None], [same] * 5 + [moved])), False)
    # exactly at the threshold does not count as unchanged
    _check(chapters.unavailing._ssim_claim(_ssim([chapters.unavailing.SSIM_SAME] * 6, [moved] * 6)), False)
    _check(chapters.unavailing._ssim_claim(None), None)
    _check(chapters.unavailing._ssim_claim({"series": {"vanilla-56": {"ssim": [1.0] * 5}}}), None)
    # the share of silent maps behind the unchanged blocks' scores is reported
    quiet = _ssim([same] * n + [moved], [moved] * 4)
    quiet["series"]["vanilla-56"]["silent_fraction"] = [0.9] * n + [0.1]
    assert "unchanged blocks 90 % of the (image, channel) maps are silent" in _check(
        chapters.unavailing._ssim_claim(quiet), True)["evidence"]


# --------------------------------------------------------------------------- isometry
def _iso(ms_norms, vanilla_norms, depth=56, ms_shallow=(1.0, 1.2)):
    """Untrained MS and vanilla rows at ``depth`` and 8 (a trained row, never judged, beside)."""
    return {"rows": [{"block": "ms", "depth": depth, "state": "init", "grad_norms": ms_norms},
                     {"block": "vanilla", "depth": depth, "state": "init", "grad_norms": vanilla_norms},
                     {"block": "ms", "depth": 8, "state": "init", "grad_norms": list(ms_shallow)},
                     {"block": "vanilla", "depth": 8, "state": "init", "grad_norms": [1.0, 2.0]},
                     {"block": "vanilla", "depth": 56, "state": "trained", "grad_norms": [1.0, 1e-9]}]}


def test_isometry_claims_ms_by_construction_vanilla_measured():
    claims = chapters.isometry._isometry_claims
    ms, vanilla = claims(_iso([1.0, 1.1, 0.9], [1.0, 1e-3, 1e-6]))
    assert "span 0.08 to 0.09 decades across blocks at depth 8 to 56" in _check(ms, True, "by construction")["evidence"]
    # judged at the deepest depth both networks have: vanilla 6 decades, MS 0.09
    assert "at depth 56: 6.00 decades, against MS-ResNet's 0.09 decades" in _check(vanilla, True)["evidence"]
    assert "8: 0.30, 56: 6.00" in vanilla["evidence"]
    # the depths at which the vanilla network is as even as MS's bar are named, not hidden
    assert vanilla["key"] == "depth 56: vanilla 6.00 decades, MS 0.09 decades; depth 8: vanilla at most 0.30 decades"
    assert "wider by more than 1 decade at depth 56 only; at depth 8 within 0.30 decades, under the 0.5 decades" \
        in vanilla["evidence"]
    assert vanilla["scope"] == "at depth 56 only, not at 8" and vanilla["untrained"] is True  # beside the verdict
    # vanilla as flat as MS: not shown; MS spread at any depth beyond the bound: does not hold
    flat = claims(_iso([1.0, 1.5], [1.0, 2.0], ms_shallow=[1.0, 1e3]))
    _check(flat[0], False, "by construction")
    assert "at no depth wider by more than 1 decade" in _check(flat[1], False)["evidence"]
    assert flat[1]["scope"] is None
    # a block whose gradient vanished is the widest spread, not left out of it
    vanished = claims(_iso([1.0, 1.1], [1.0, 0.9, 0.0]))[1]
    assert "without bound (1 of 3 blocks with no gradient), against" in _check(vanished, True)["evidence"]
    for none in (claims(None), claims({"rows": []})):
        _check(none[0], None, "by construction")
        _check(none[1], None)
    only_ms = {"rows": [r for r in _iso([1.0], [1.0])["rows"] if r["block"] == "ms"]}
    _check(claims(only_ms)[0], True, "by construction")
    _check(claims(only_ms)[1], None)


# ----------------------------------------------------------------------------- firing
def test_firing_claim():
    """Judged on the per-stage averages Fig. 3a plots, not block by block."""
    def blocks(pairs, stages=None):
        stages = stages or range(len(pairs))
        return [{"lif1": a, "lif2": b, "stage": s} for (a, b), s in zip(pairs, stages, strict=True)]

    holds = {"models": {"m": {"blocks": blocks([(0.3, 0.1), (0.3, 0.05), (0.2, 0.3)])}}}
    assert "2 of 3 stages" in _check(chapters.firing._firing_claim(holds), True)["evidence"]
    assert chapters.firing._firing_claim(holds)["key"] == "stages whose second LIF fires less, trained: m 2/3"
    assert chapters.firing._firing_claim(holds)["scope"] == "on m only"  # one model of the six Table II depths
    # one stage: two blocks lower, one much higher; its average decides, not the block count
    one_stage = {"models": {"m": {"blocks": blocks([(0.3, 0.25), (0.3, 0.25), (0.1, 0.6)], [0, 0, 0])}}}
    assert chapters.firing._firing_claim(one_stage)["key"].endswith("m 0/1")
    _check(chapters.firing._firing_claim(one_stage), False)
    fails = {"models": {"m": {"blocks": blocks([(0.3, 0.1), (0.3, 0.05)])},
                        "n": {"blocks": blocks([(0.1, 0.3), (0.1, 0.2)])}}}
    _check(chapters.firing._firing_claim(fails), False)
    _check(chapters.firing._firing_claim(None), None)
    _check(chapters.firing._firing_claim({"models": {"v": {"blocks": [{"lif1": 0.2, "lif_out": 0.3}]}}}), None)
    # the short run (early in training) is shown, not judged; untrained rates are reported beside
    short = {"models": {"s": {"experiment": "short", "blocks": blocks([(0.3, 0.1), (0.3, 0.05)])}}}
    assert "not judged until the trained Table II" in _check(chapters.firing._firing_claim(short), None)["evidence"]
    assert "only the short run (early in training): s 2/2" in chapters.firing._firing_claim(short)["key"]
    assert chapters.firing._firing_claim(short)["measured"] and not chapters.firing._firing_claim(None).get("measured")
    mixed = {"models": {**short["models"], "m": {"experiment": "table2", "blocks": blocks([(0.1, 0.3), (0.1, 0.2)])}}}
    _check(chapters.firing._firing_claim(mixed), False)
    init = {"models": {"cifar_resnet20": {"blocks": blocks([(0.19, 0.17)])}}}
    ev = _check(chapters.firing._firing_claim(holds, init), True)["evidence"]
    assert ("untrained, on the same images: MS-ResNet20: the second LIF fires less than the first on average in 1 "
            "of 1 stages (mean rate first / second, by stage: 0.190 / 0.170)") in ev
    assert chapters.firing._firing_claim(holds, init)["key"].endswith("m 2/3; untrained: MS-ResNet20 1/1")
    # a measured model's untrained twin is listed, not the other depths
    twin = {"models": {"cifar_resnet20": {"blocks": blocks([(0.3, 0.1)])}}}
    both = {"models": {**init["models"], "cifar_resnet56": {"blocks": blocks([(0.2, 0.25)])}}}
    assert chapters.firing._firing_claim(twin, both)["key"].endswith("untrained: MS-ResNet20 1/1")


# -------------------------------------------------------------------------- landscape
def test_landscape_claim():
    def ls(v20, v56, m20, m56):
        def d(extrema):
            return {"extrema": extrema, "nonconvexity": 0.5}

        return {"landscapes": {"vanilla-20": d(v20), "vanilla-56": d(v56), "ms-20": d(m20), "ms-56": d(m56)}}

    holds = _check(chapters.landscape._landscape_claim(ls(0, 6, 0, 1)), True)
    assert "vanilla 20: 0, 56: 6; MS 20: 0, 56: 1" in holds["evidence"]
    assert holds["key"] == "local extrema, vanilla 20: 0, 56: 6; MS 20: 0, 56: 1"
    _check(chapters.landscape._landscape_claim(ls(4, 1, 0, 0)), False)  # vanilla grows smoother
    _check(chapters.landscape._landscape_claim(ls(0, 6, 0, 6)), False)  # MS as rough as vanilla
    _check(chapters.landscape._landscape_claim(ls(4, 6, 0, 3)), False)  # MS fewer, but grows faster than vanilla
    assert not _check(chapters.landscape._landscape_claim(None), None).get("measured")
    pair = {"vanilla-20": {"extrema": 0, "nonconvexity": 0.1}, "ms-20": {"extrema": 4, "nonconvexity": 0.6}}
    one_each = _check(chapters.landscape._landscape_claim({"landscapes": pair}), None)
    assert one_each["measured"]  # its badge: "not judged yet", with what is measured
    assert one_each["key"] == "so far vanilla at depth 20: 0 local extrema; MS at depth 20: 4 local extrema"


def test_local_extrema_count_minima_and_maxima_not_basin_width():
    """A single basin of any width, or one flattening into a jittery plateau, has none; a
    second well has one; the downward-curving share counts the first two as non-convex."""
    from msr.analysis.landscape import local_extrema, nonconvexity

    a = np.linspace(-1, 1, 21)
    x, y = np.meshgrid(a, a)
    narrow = -np.exp(-(x**2 + y**2) / (2 * 0.2**2))
    plateau = np.minimum(x**2 + y**2, 0.3) + 1e-6 * np.random.default_rng(0).standard_normal(x.shape)
    assert local_extrema(narrow) == local_extrema(plateau) == local_extrema(x**2 + y**2) == 0
    assert nonconvexity(narrow) > 0.9 and nonconvexity(plateau) > 0.5
    two = -np.exp(-((x - 0.5) ** 2 + y**2) / 0.05) - 0.8 * np.exp(-((x + 0.5) ** 2 + y**2) / 0.05)
    assert local_extrema(two) == 1
    assert local_extrema(np.sin(4 * np.pi * x) * np.sin(4 * np.pi * y) + x**2) > 30
    with pytest.raises(ValueError, match="3 x 3"):
        local_extrema(np.zeros((2, 5)))


# ------------------------------------------------------------------------------- init
def _fig5a(bn, tdbn):
    return [{"norm": n, "gamma1": 1.0, "gamma2": g2, "acc": a}
            for n, (a0, a1) in (("bn", bn), ("tdbn", tdbn)) for g2, a in ((0.0, a0), (1.0, a1))]


def test_init_claims():
    fast, _ = chapters.init._init_claims(_fig5a((70.0, 60.0), (72.0, 61.0)), [])
    assert "tdbn: 72.00 %" in _check(fast, True)["evidence"]
    slow, _ = chapters.init._init_claims(_fig5a((70.0, 60.0), (55.0, 61.0)), [])
    _check(slow, False)
    def curves(standard, zero):  # Fig. 5b: the loss curves with gamma2 = 1 and gamma2 = 0
        return [{"norm": "bn", "gamma2": g2, "curve": {"loss": loss}}
                for g2, loss in ((1.0, standard), (0.0, zero)) if loss is not None]

    flat, falls = [2.3] * 10, [2.3, 2.2, 2.0, 1.8, 1.5, 1.2, 1.0, 0.9, 0.8, 0.7]
    _, shown = chapters.init._init_claims([], curves(flat, falls))
    assert "gamma2 = 1 2.300 -> 2.300, gamma2 = 0 2.250 -> 0.750" in _check(shown, True)["evidence"]
    _, both_learn = chapters.init._init_claims([], curves(falls, falls))
    _check(both_learn, False)
    _, neither_learns = chapters.init._init_claims([], curves(flat, flat))  # an under-trained pair shows nothing
    _check(neither_learns, False)
    _, no_contrast = chapters.init._init_claims([], curves(flat, None))
    assert _check(no_contrast, None)["evidence"] == "not run (gamma2 = 0)" and no_contrast["measured"]
    missing_a, missing_b = chapters.init._init_claims([], [])
    assert missing_b["evidence"] == "not run" and not missing_b["measured"]
    _check(missing_a, None)
    _check(missing_b, None)
    _, short = chapters.init._init_claims([], curves([2.3], falls))
    _check(short, None)


# -------------------------------------------------------------------------- shortcuts
def test_shortcuts_claim():
    def t6(pairs):
        return {k: v for d, (a, b) in zip((32, 44, 56), pairs, strict=True)
                for k, v in (((("fm", "ms", d)), _acc(a)), (("fm", "sr_b", d), _acc(b)), (("fm", "sr_c", d), None))}

    held = _check(chapters.shortcuts._shortcuts_claim(t6([(90, 89), (91, 90), (90, 90)])), True)
    assert held["key"].startswith("SR-A against SR-B at 3 (data set, depth): clearly better at 2, clearly worse at 0")
    # Sec. V-C: SR-B is behind at every depth, so SR-A clearly worse at one depth of three is not shown
    _check(chapters.shortcuts._shortcuts_claim(t6([(90, 89), (91, 90), (90, 91)])), False)
    _check(chapters.shortcuts._shortcuts_claim(t6([(88, 89), (91, 90), (90, 91)])), False)
    _check(chapters.shortcuts._shortcuts_claim({}), None)
    _check(chapters.shortcuts._shortcuts_claim({("fm", "ms", 32): _acc(90), ("fm", "sr_b", 32): None}), None)


def test_table6_no_degradation_claim():
    """Each structure's deepest depth against its best shallower one, with the seed spread."""
    def t6(ms, srb):
        return {**{("fm", "ms", d): _acc(a) for d, a in zip((32, 44, 110), ms, strict=True)},
                **{("fm", "sr_b", d): _acc(a) for d, a in zip((32, 44, 110), srb, strict=True)},
                ("fm", "sr_c", 32): None}

    claim = chapters.shortcuts._no_degradation_claim
    held = _check(claim(t6((90, 91, 91.5), (89, 90, 90))), True)
    assert "SR-A on fm: 110 layers 91.50 against 91.00 at 44" in held["evidence"]
    failed = _check(claim(t6((90, 91, 91.5), (89, 90, 88))), False)
    assert failed["key"].startswith("deepest clearly below a shallower depth: SR-B on fm")
    spread = {("fm", "ms", 32): {"acc": 91.0, "std": 0.6, "n": 3}, ("fm", "ms", 110): {"acc": 90.5, "std": 0.3, "n": 3}}
    _check(claim(spread), True)  # 0.5 lower, within the spread
    _check(claim({("fm", "ms", 32): _acc(90)}), None)  # one depth judges nothing
    _check(claim({}), None)


# -------------------------------------------------------------------------- two-phase
def test_two_phase_claim():
    def res(a, b, c):
        return {"T1_pretrained": _acc(a), "T1_weights_at_T6": _acc(b), "finetuned_T6": _acc(c)}

    _check(chapters.two_phase._two_phase_claim(res(71.7, 72.8, 74.2)), True)  # the paper's own numbers
    _check(chapters.two_phase._two_phase_claim(res(71.7, 69.0, 74.2)), False)  # T = 6 loses 2.7 points
    _check(chapters.two_phase._two_phase_claim(res(71.7, 72.8, 72.0)), False)  # finetuning does not help
    _check(chapters.two_phase._two_phase_claim({}), None)
    _check(chapters.two_phase._two_phase_claim({"T1_pretrained": _acc(71.7)}), None)


# --------------------------------------------------------------------- report counting
def test_claims_carry_kinds_and_the_report_counts_evidence_only():
    results = {"degradation": {"table2": _t2(plain=[81, 85, 84, 76, 60, 50], vanilla=[81, 85, 84, 88, 84, 72])},
               "unavailing": {"claims": [chapters.unavailing.eq8_claim(
                   {"at_vth": {"analytic": 0.1587, "monte_carlo": 0.1588}})]},
               "isometry": {"claims": chapters.isometry._isometry_claims(_iso([1.0, 1.0], [1.0, 1e-5]))}}
    claims = chapters.report.claims(results)
    assert all(c["kind"] in KINDS for c in claims)
    assert [c["kind"] for c in claims] == ["evidence"] * 3 + ["arithmetic", "by construction", "evidence"]
    n = book.claim_tally(claims)
    # the arithmetic and by-construction rows hold, but only the Table II and vanilla isometry rows count
    assert (n["evidence"], n["shown"], n["not shown"], n["not run"]) == (4, 2, 1, 1)
    assert (n["arithmetic"], n["by construction"]) == (1, 1)


def test_claim_rendering_shows_the_kind():
    text = book.claim_md("16 %", True, "closed form 15.87 %", "fmnist", "arithmetic")
    assert "arithmetic check, not a reproduction result" in text and "**agrees**" in text
    assert "shown" not in text
    text = book.claim_md("iso", True, "spread", "fmnist", "by construction")
    assert "holds by construction" in text and "**holds**" in text
    assert "**shown** by our run" in book.claim_md("peak", True, "depth 14", "fmnist")
    with pytest.raises(ValueError, match="valid: evidence, arithmetic, by construction"):
        book.claim_md("x", True, "y", "fmnist", "proof")


def test_phi_ratio_is_the_root_of_the_identity_blocks_phi():
    """phi is a ratio of squared norms: blocks of phi 0.25 and 0.64 predict a norm ratio 0.4;
    a stage start (phi 9, strided shortcut) is left out."""
    row = {"phi": [0.25, 0.64, 9.0], "stages": [0, 0, 1]}
    assert chapters.isometry.phi_ratio(row) == pytest.approx(0.4)
    assert chapters.isometry.phi_ratio({"phi": None, "stages": None}) is None


def test_claims_name_layers_in_the_papers_words_not_module_paths():
    rows = {"vanilla-56 trained": [{"block": "stages.1.2", "changed": 0.3}, {"block": "stages.0.1", "changed": 0.1}],
            "vanilla-20 init": [{"block": "stages.2.0", "changed": 0.2}]}
    claim = chapters.unavailing._unchanged_claim({"rows": rows})
    assert "fewest 70.0 % at stage 2, block 3" in claim["evidence"]
    assert "fewest 80.0 % at stage 3, block 1" in claim["evidence"]
    assert "stages." not in claim["evidence"] + claim["key"]


def test_varphi_claim_asks_vanilla_far_from_zero_and_above_its_control():
    """Definition 1's second condition: shown when vanilla's median varphi of its identity-shortcut
    blocks is above VARPHI_FAR and VARPHI_CONTROL_RATIO times the control's (MS-ResNet with gamma2
    = 1) at every depth; MS-ResNet at gamma2 = 0 is reported beside as holding by construction and
    does not decide; a stage start is left out."""
    def rows(**blocks):
        out = []
        for block, values in blocks.items():
            for depth, v in values.items():  # two identity blocks, then a stage start (left out)
                out.append({"block": chapters.isometry.VARPHI_CONTROL if block == "ctl" else block,
                            "depth": depth, "varphi": [v, v, 99.0], "stages": [0, 0, 1]})
        return {"rows": out}

    claim = chapters.isometry._varphi_claim
    far = _check(claim(rows(vanilla={8: 3.0, 20: 2.5}, ms={8: 0.0, 20: -1e-9}, ctl={8: 0.5, 20: 1.0})), True)
    assert "vanilla 2.5 to 3; the control, MS-ResNet with gamma2 = 1" in far["evidence"]
    assert ": 0.5 to 1, so vanilla's is 2.5 to 6 times the control's (shown:" in far["evidence"]
    assert "gamma2 = 0): 0, which holds by construction" in far["evidence"] and far["untrained"] is True
    assert "does not use" in far["paper"] and "Eq. 15" in far["paper"]
    # as spread as the control at one depth: the interblock LIF is not what makes it spread
    _check(claim(rows(vanilla={8: 3.0, 20: 2.5}, ctl={8: 0.5, 20: 2.0})), False)
    _check(claim(rows(vanilla={8: 3.0, 20: 0.05}, ctl={8: 0.01, 20: 0.01})), False)  # one depth near 0
    waiting = _check(claim(rows(vanilla={8: 3.0, 20: 2.5}, ctl={8: 0.5})), None)  # the control lacks depth 20
    assert waiting["measured"] and "control (ms, gamma2 = 1) not run at every depth" in waiting["evidence"]
    _check(claim(None), None)
    _check(claim(rows(ms={8: 0.0})), None)
