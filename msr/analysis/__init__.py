"""Analyses behind the paper's figures and tables; each returns plain numbers,
numpy arrays or dataclasses with ``to_dict()`` for the results store.

* :mod:`msr.analysis.firing`     -- firing rates and rasters (Fig. 3, Sec. IV-B)
* :mod:`msr.analysis.ssim`       -- SSIM between consecutive blocks (Fig. 2b)
* :mod:`msr.analysis.landscape`  -- loss landscape (Fig. 4)
* :mod:`msr.analysis.energy`     -- SyOPs and energy (Table V)
* :mod:`msr.analysis.isometry`   -- block dynamical isometry, gradient norms (Prop. 1)
* :mod:`msr.analysis.unavailing` -- unavailing residual representation (Eq. 7-8)
"""
from msr.analysis.energy import Energy, MeasuredEnergy, energy, measure_energy, syops_from_rate, table_v_row
from msr.analysis.firing import SpikeRecorder, firing_rates, plot_block_rates, plot_raster, record_spikes, spike_raster
from msr.analysis.isometry import block_isometry, gradient_norms, jacobian_phi, plot_gradient_norms
from msr.analysis.landscape import Landscape, filter_normalize, loss_landscape, make_directions, plot_landscape
from msr.analysis.ssim import BlockSSIM, block_ssim, plot_ssim_radar, rate_maps, ssim
from msr.analysis.unavailing import p_state_change, p_state_change_mc, plot_state_changes, state_change_fraction

__all__ = [
    "BlockSSIM", "Energy", "Landscape", "MeasuredEnergy", "SpikeRecorder",
    "block_isometry", "block_ssim", "energy", "filter_normalize", "firing_rates", "gradient_norms",
    "jacobian_phi", "loss_landscape", "make_directions", "measure_energy", "p_state_change",
    "p_state_change_mc", "plot_block_rates", "plot_gradient_norms", "plot_landscape", "plot_raster",
    "plot_ssim_radar", "plot_state_changes", "rate_maps", "record_spikes", "spike_raster", "ssim",
    "state_change_fraction", "syops_from_rate", "table_v_row",
]
