"""Neural-network operations the methods need and no installed library provides on every machine."""
from sam_repro.nn.deform_conv import deform_conv2d

__all__ = ["deform_conv2d"]
