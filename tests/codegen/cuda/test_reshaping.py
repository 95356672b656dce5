"""CUDA lowering of RepeatVector against the reference interpreter."""

from layerc.layers import Input, RepeatVector
from layerc.models import Sequential


def test_repeat_vector(like_reference):
    like_reference(Sequential([Input((5,)), RepeatVector(3)]))
