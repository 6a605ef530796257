"""``msr bench``: LIF backends and whole training steps, measured in one run.

Everything is timed on the same machine in the same process, warm-up excluded,
medians reported (:mod:`msr.bench.timing`).  Rows:

* LIF forward+backward at T in {1, 2, 4, 6, 8} for several neuron counts: every msr
  backend available, the authors' per-timestep loop and SpikingJelly's multi-step
  ``LIFNode`` (optional) with our neuron's parameters; on a GPU, the LIF kernels'
  achieved memory bandwidth against a device-to-device copy (:mod:`msr.bench.lif`);
* a full training step of MS-ResNet-20/-56 (CIFAR) and MS-ResNet-18 (ImageNet family)
  at T = 6, msr's execution against the authors' and against the same network with every
  LIF layer run by SpikingJelly's ``LIFNode`` (optional); bytes saved for backward with the
  spike-fed convolutions' inputs stored as floats, int8 or bits; on a GPU,
  MS-ResNet-104 at batch 64, 224x224 (:mod:`msr.bench.steps`);
* the training loop itself (:func:`msr.train.train`: data, augmentation, loss, optimizer,
  metrics) on the ``fmnist`` profile's MS-ResNet-20/-56, as the profile runs it and, on a
  GPU, without CUDA graphs and resident data, and with ``torch.compile(mode="reduce-overhead")``
  in place of the hand-made graph; the same runs trained one, two (and on a GPU four) at
  once, as ``--jobs N`` trains them (:mod:`msr.bench.loop`);
* the authors' execution strategy, rebuilt with the same weights and math
  (:mod:`msr.bench.authors_baseline`), so the rows compare execution and nothing else.

``msr bench --budget TIME`` bounds the run: the LIF and training-step rows always run,
later sections and rows only while time is left, and the result lists what did not
(``not_run``).

The result is one JSON-able dict (:func:`run_bench`: ``provenance`` as every stored
result has it, ``environment``, the rows and the targets), stored in the results store
at ``<results>/bench/performance/<hash>.json`` (:mod:`msr.bench.storage`);
:func:`bench_table` turns it into the Performance chapter's tables.
"""
from msr.bench.lif import LIF_TS, bench_lif, bench_lif_bandwidth, lif_candidates, spikingjelly_lif
from msr.bench.loop import bench_jobs, bench_loop
from msr.bench.steps import bench_memory, bench_train, conv_share, saved_bytes
from msr.bench.storage import EXPERIMENT, PROFILE, load_results, store_config, store_result
from msr.bench.suite import SCHEMA, bench_table, environment, run_bench, summarize, target_text

__all__ = ["EXPERIMENT", "LIF_TS", "PROFILE", "SCHEMA", "bench_jobs", "bench_lif", "bench_lif_bandwidth", "bench_loop",
           "bench_memory", "bench_table", "bench_train", "conv_share", "environment", "lif_candidates", "load_results",
           "run_bench", "saved_bytes", "spikingjelly_lif", "store_config", "store_result", "summarize",
           "target_text"]
