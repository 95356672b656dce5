"""CUDA lowerings of the activation layers with parameters (the rectify,
softmax-over-axes and glu kernels) against the reference interpreter."""

import pytest

from layerc.layers import ELU, Input, LeakyReLU, PReLU, ReLU, Softmax
from layerc.models import Sequential


@pytest.mark.parametrize("layer", [lambda: ReLU(max_value=1.5, negative_slope=0.1, threshold=0.5),
                                   lambda: LeakyReLU(0.05), lambda: ELU(0.4),
                                   lambda: PReLU(alpha_initializer="random_uniform",
                                                 shared_axes=[2])])
def test_rectify(like_reference, layer):
    like_reference(Sequential([Input((3, 4)), layer()]))


@pytest.mark.parametrize("axis", [1, [1, 2]])
def test_softmax_over_other_axes(like_reference, axis):
    like_reference(Sequential([Input((3, 4, 2)), Softmax(axis=axis)]))
