"""LIF backends and the storage helpers they share: the same neuron as
:func:`msr.neuron.lif_reference` (Eq. 1-3), fused over time.

* :mod:`msr.kernels.cpu_lif`: ``backend="cpu"``, an autograd Function of in-place ops
  per timestep (any device);
* :mod:`msr.kernels.triton_lif`: ``backend="triton"``, a Triton kernel for CUDA tensors;
* :mod:`msr.kernels.spike_conv`: convolutions that save their spike input as int8 or bits;
* :mod:`msr.kernels.layout`: the ``[T, N]`` view of a time-first tensor the kernels run on.

Call them through the neuron (:func:`msr.neuron.lif`, :class:`msr.neuron.LIF`), which
checks the parameters and picks the backend.  This package imports nothing from
:mod:`msr.neuron` (the neuron imports it), so there is no import cycle; the
model-level speed switches are in :mod:`msr.speed`.
"""
