"""msr: a reproducible PyTorch companion to *Advancing Spiking Neural Networks towards
Deep Residual Learning* (MS-ResNet)."""
from msr.models import create_model, list_models
from msr.neuron import LIF, lif, lif_reference

__version__ = "0.1.0"
__all__ = ["LIF", "create_model", "lif", "lif_reference", "list_models", "__version__"]
