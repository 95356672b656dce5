"""The sizes the strategies and layer makers draw within, and the `Shape` alias."""

from __future__ import annotations

Shape = tuple[int, ...]
"""A sample shape: a tensor's shape without the batch axis."""

MAX_SIDE = 8
"""The largest input side and the most Dense units the default strategies draw."""

MAX_SPATIAL_SIDE = 10
"""The largest spatial side of a drawn feature map, and the largest window
(kernel or pool size) the spatial makers draw."""

MAX_CHANNELS = 4
"""The most channels of a drawn feature map, and the most filters a convolution
or locally-connected maker draws."""

MAX_STRIDE = 3
"""The largest stride and dilation rate the spatial makers draw."""

DATA_FORMATS = ("channels_last", "channels_first")
