"""The paper's own numbers, transcribed from ``shared/paper/NUMBERS.md``.

This is the only place paper values live; the book labels everything from here as
"paper".  Nothing in this module is a result of ours.
"""
from __future__ import annotations

#: Table VII (neuron and TDBN).
NEURON = {"tau": 0.25, "v_th": 0.5, "v_reset": 0.0, "T": 6, "a": 1.0}

#: Table I: depth = 6n + 2.
TABLE_I_DEPTHS = {1: 8, 2: 14, 3: 20, 5: 32, 7: 44, 9: 56, 17: 104, 18: 110, 80: 482}

#: Table II: CIFAR-10 test accuracy (%) by block type and depth; None = N/A.
TABLE_II_DEPTHS = (8, 14, 20, 32, 44, 56)
TABLE_II = {
    "plain": dict(zip(TABLE_II_DEPTHS, (81.1, 85.2, 83.7, 76.4, 59.5, None), strict=True)),
    "vanilla": dict(zip(TABLE_II_DEPTHS, (81.5, 85.9, 86.7, 85.4, 84.6, 72.4), strict=True)),
    "wolif": dict(zip(TABLE_II_DEPTHS, (80.0, 86.9, 88.2, 88.8, 89.4, 90.0), strict=True)),
    "ms": dict(zip(TABLE_II_DEPTHS, (82.0, 87.4, 88.4, 89.7, 90.0, 90.4), strict=True)),
}
TABLE_II_LABELS = {
    "plain": "PlainNet",
    "vanilla": "Vanilla spiking ResNet",
    "wolif": "W/O interblock LIF",
    "ms": "MS-ResNet",
}
#: Sec. III-D: deeper MS-ResNets on CIFAR-10 (%).
DEEP_CIFAR10 = {110: 91.7, 482: 91.9}

#: Fig. 2b: blocks of the vanilla spiking ResNet-56 whose SSIM with the previous block is +1.
FIG2B_UNCHANGED_BLOCKS = 5
#: Fig. 5b: the epochs within which MS-ResNet104 under standard BN shows no decrease of its loss.
FIG5B_EPOCHS = 10

#: Eq. 7-8: probability that a vanilla block changes a neuron's firing state.
EQ8_PROBABILITY = 0.16  # "about 16 %", sigma = V_th = 0.5
#: Sec. III-A: "the remaining 84 % of neurons", whose firing state a vanilla block leaves unchanged.
EQ8_UNCHANGED = 0.84

#: Table III: ImageNet top-1 (%) of the paper's models: (model, T) -> accuracy.
TABLE_III = {
    ("imagenet_resnet18", 6): 63.10,
    ("imagenet_resnet34", 6): 69.42,
    ("imagenet_resnet104", 5): 74.21,
}
TABLE_III_104_AT_288 = 76.02
TABLE_III_ANN = {"imagenet_resnet18": 69.76, "imagenet_resnet34": 73.30, "imagenet_resnet104": 76.87}
TABLE_III_OTHERS = [
    ("ANN conversion", "Sengupta et al.", "ResNet-34", "2500", "65.47"),
    ("ANN conversion", "Han, Srinivasan, Roy", "ResNet-34", "4096", "69.89"),
    ("ANN conversion", "Li et al.", "ResNet-34", "256 / 32", "74.61 / 64.54"),
    ("ANN conversion", "Hu et al.", "ResNet-34 / ResNet-50", "350", "71.61 / 72.75"),
    ("ANN conversion", "Stoeckl and Maass", "ResNet-50", "500", "75.10"),
    ("direct training", "Zheng et al.", "ResNet-50 / Wide-ResNet-34", "6", "64.88 / 67.05"),
    ("direct training", "Fang et al.", "ResNet-34 / ResNet-101", "4", "67.04 / 68.76"),
]

#: Table III's footnote † and the cited work it marks. The extracted table loses which row
#: carries the mark; the introduction says of Stöckl and Maass [14] that "it is allowed for
#: spikes to carry time-varying multi-bit information", so we read it as theirs.
TABLE_III_DAGGER = "A spike is allowed to carry multi-bit information"
TABLE_III_DAGGER_WORKS = ("Stoeckl and Maass",)


def table_iii_cited() -> list[tuple[str, str, str, float, float]]:
    """Table III's cited works, one row per model and T: (work, model, method, T, top-1)."""
    rows = []
    for method, work, models, ts, accs in TABLE_III_OTHERS:
        a = [float(x) for x in accs.split(" / ")]
        t, m = [float(x) for x in ts.split(" / ")], models.split(" / ")
        t, m = (t * len(a) if len(t) == 1 else t), (m * len(a) if len(m) == 1 else m)
        rows += [(work, mi, method, ti, ai) for mi, ti, ai in zip(m, t, a, strict=True)]
    return rows


#: Table IV: CIFAR10-DVS top-1 (%).
TABLE_IV = [
    ("Ramesh et al.", "DART", None, 65.78),
    ("Kugele et al.", "Rollout-ANN", 0.5e6, 66.75),
    ("Zheng et al.", "Spiking ResNet-19", 12.6e6, 67.80),
    ("Yao et al.", "TA-SNN", 1.7e6, 72.00),
    ("Fang et al.", "PLIF", 1.5e6, 74.80),
    ("paper", "MS-ResNet20", 0.27e6, 75.56),
]
DVS_PARAMS = 0.27e6
DVS_ACCURACY = 75.56

#: Table V: energy per sample.  MACs counted over residual-path convs only.
ENERGY_PJ = {"mac": 4.6, "ac": 0.9}
TABLE_V = {
    "imagenet_resnet34": dict(flops=3.53e9, e_ann_mj=16.22, syops=4.77e9, e_snn_mj=4.29, ratio=3.78, T=6, rate=0.225),
    "imagenet_resnet104": dict(flops=11.79e9, e_ann_mj=54.24, syops=11.32e9, e_snn_mj=10.19, ratio=5.32, T=5,
                               rate=0.192),
    "dvs_resnet20": dict(flops=40.11e6, e_ann_mj=184.46e-3, syops=8.32e6, e_snn_mj=7.46e-3, ratio=24.73, T=None,
                         rate=0.2219),
}
#: Sec. IV-C: share of FLOPs outside the residual paths (encoding layer, shortcut downsampling).
EXCLUDED_FLOPS_SHARE = {"imagenet_resnet34": 0.04, "imagenet_resnet104": 0.01}

#: Network firing rates r = #Spike / (#Neuron * T): ImageNet models in Sec. IV-B, CIFAR10-DVS in Sec. IV-C.
FIRING_RATE = {"imagenet_resnet34": 0.225, "imagenet_resnet104": 0.192, "dvs_resnet20": 0.2219}
#: The section that gives each of :data:`FIRING_RATE`.
FIRING_RATE_SECTION = {"imagenet_resnet34": "Sec. IV-B", "imagenet_resnet104": "Sec. IV-B", "dvs_resnet20": "Sec. IV-C"}
#: Sec. IV-B (Fig. 3a): in stage 3 of MS-ResNet104 the second LIF of the residual path fires 5.2 %, the first
#: about five times more.
FIRING_STAGE3_SECOND_LIF_104 = 0.052

#: Table VI's names of the shortcut positions (Fig. 6), by msr block type.
SHORTCUT_NAMES = {"ms": "SR-A", "sr_b": "SR-B", "sr_c": "SR-C"}
#: Table VI: test accuracy (%) by data set, depth and shortcut position.
TABLE_VI = {
    "cifar10": {
        32: {"ms": 90.59, "sr_b": 90.04, "sr_c": 89.48},
        44: {"ms": 90.96, "sr_b": 90.82, "sr_c": 90.67},
        56: {"ms": 91.33, "sr_b": 91.18, "sr_c": 90.78},
        110: {"ms": 91.72, "sr_b": 91.65, "sr_c": 92.12},
    },
    "cifar100": {
        32: {"ms": 61.35, "sr_b": 61.06, "sr_c": 61.03},
        44: {"ms": 63.84, "sr_b": 62.34, "sr_c": 62.35},
        56: {"ms": 65.24, "sr_b": 63.94, "sr_c": 63.73},
        110: {"ms": 66.83, "sr_b": 66.03, "sr_c": 66.82},
    },
}

#: Table VIII: CIFAR-10 hyper-parameters (Table II block and Table VI block).
TABLE_VIII = {
    "table2": dict(optimizer="sgd", lr=0.1, momentum=0.9, batch_size=100, weight_decay=0.0,
                   schedule="multistep", epochs=100, milestones=(40, 60, 80), lr_factor=0.2,
                   augment=("random_crop_32", "normalize")),
    "table6": dict(optimizer="sgd", lr=0.1, momentum=0.9, batch_size=100, weight_decay=1e-4,
                   schedule="cosine", epochs=100,
                   augment=("random_crop_32", "random_rotation_15", "hflip", "normalize")),
}

#: Table X / Appendix B: ImageNet recipes.
TABLE_X = {
    "imagenet18_34": dict(lr=0.1, momentum=0.9, batch_size=256, weight_decay=1e-4,
                          weight_decay_release=1e-5, schedule="cosine", epochs=125,
                          augment=("random_resized_crop_224", "hflip", "normalize")),
    "imagenet104_finetune": dict(lr=0.05, momentum=0.9, batch_size=256, weight_decay=1e-5,
                                 schedule="cosine", epochs=100, label_smoothing=0.1, dropout=0.2,
                                 augment=("random_resized_crop_224", "autoaugment", "normalize")),
    "imagenet104_pretrain": dict(lr=0.1, momentum=0.9, batch_size=256, weight_decay=1e-4,
                                 schedule="cosine", epochs=200, T=1, label_smoothing=0.1, dropout=0.2,
                                 augment=("random_resized_crop_224", "autoaugment", "normalize")),
}
#: Appendix B: two-phase training of ResNet-104 on ImageNet (%).
TWO_PHASE = {"T1_pretrained": 71.72, "T1_weights_at_T6": 72.8, "finetuned_T6": 74.21}
#: The T each of Appendix B's accuracies is measured at: the finetuned model's 74.21 % is
#: Table III's MS-ResNet104 row, at T = 5 ("T = 5 at inference for ResNet-104").
TWO_PHASE_EVAL_T = {"T1_pretrained": 1, "T1_weights_at_T6": 6, "finetuned_T6": 5}
#: The T each phase's network runs at (Appendix B: pretrained at T = 1, then run and finetuned at T = 6).
TWO_PHASE_RUN_T = {"T1_pretrained": 1, "T1_weights_at_T6": 6, "finetuned_T6": 6}
#: Appendix B's phases in words.
TWO_PHASE_NAMES = {"T1_pretrained": "trained at T = 1", "T1_weights_at_T6": "T = 1 weights run at T = 6",
                   "finetuned_T6": "finetuned at T = 6"}
