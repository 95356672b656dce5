"""Explicit SIMD for Numba: a float32 vector type and the few operations a
register-blocked GEMM micro-kernel needs, as LLVM intrinsics.

Numba has no vector type, and a micro-kernel's accumulator tile written with
its ordinary arrays or scalars lives in memory: 2-36 GFLOP/s where the FMA
units give 150+ per core (NUMBA_NOTES.md). A `Vec` is an LLVM
`<WIDTH x float>` value, so a kernel whose accumulators are named `Vec`
locals keeps them in registers and its loop is vector loads, broadcasts and
FMAs.

WIDTH is the machine's vector register in floats: 16 with AVX-512, else 8
(AVX2; other machines get what LLVM makes of 8-wide vectors). Numba compiles
for the host CPU and keys its cache on it, so this is decided at import.
"""

from __future__ import annotations

import llvmlite.binding as llvm
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.core.datamodel import models, register_default
from numba.extending import intrinsic

AVX512 = bool(llvm.get_host_cpu_features().get("avx512f", False))
WIDTH = 16 if AVX512 else 8

_F32 = ir.FloatType()
_VEC = ir.VectorType(_F32, WIDTH)


class VecType(types.Type):
    def __init__(self) -> None:
        super().__init__(name=f"f32x{WIDTH}")


vec = VecType()


@register_default(VecType)
class _VecModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VEC)


def _element_ptr(context, builder, aty, arr, index):
    data = context.make_array(aty)(context, builder, arr).data
    return builder.gep(data, [index])


@intrinsic
def vzero(typingctx):
    """A vector of zeros."""
    def codegen(context, builder, sig, args):
        return ir.Constant(_VEC, [0.0] * WIDTH)
    return vec(), codegen


@intrinsic
def vload(typingctx, arr, index):
    """WIDTH floats of a 1-D float32 array from `index` (no bounds check)."""
    def codegen(context, builder, sig, args):
        ptr = _element_ptr(context, builder, sig.args[0], args[0], args[1])
        return builder.load(builder.bitcast(ptr, _VEC.as_pointer()), align=4)
    return vec(arr, index), codegen


@intrinsic
def vstore(typingctx, arr, index, v):
    """Writes WIDTH floats into a 1-D float32 array from `index`."""
    def codegen(context, builder, sig, args):
        ptr = _element_ptr(context, builder, sig.args[0], args[0], args[1])
        builder.store(args[2], builder.bitcast(ptr, _VEC.as_pointer()), align=4)
        return context.get_dummy_value()
    return types.none(arr, index, v), codegen


@intrinsic
def vbcast(typingctx, arr, index):
    """arr[index] in every lane."""
    def codegen(context, builder, sig, args):
        value = builder.load(_element_ptr(context, builder, sig.args[0], args[0], args[1]),
                             align=4)
        one = builder.insert_element(ir.Constant(_VEC, ir.Undefined), value,
                                     ir.Constant(ir.IntType(32), 0))
        return builder.shuffle_vector(one, ir.Constant(_VEC, ir.Undefined),
                                      ir.Constant(ir.VectorType(ir.IntType(32), WIDTH),
                                                  [0] * WIDTH))
    return vec(arr, index), codegen


@intrinsic
def vfma(typingctx, a, b, c):
    """a * b + c, fused, lane by lane."""
    def codegen(context, builder, sig, args):
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VEC, [_VEC] * 3),
                                            f"llvm.fma.v{WIDTH}f32")
        return builder.call(fn, args)
    return vec(vec, vec, vec), codegen


@intrinsic
def vadd(typingctx, a, b):
    def codegen(context, builder, sig, args):
        return builder.fadd(args[0], args[1])
    return vec(vec, vec), codegen


@intrinsic
def vsub(typingctx, a, b):
    def codegen(context, builder, sig, args):
        return builder.fsub(args[0], args[1])
    return vec(vec, vec), codegen


@intrinsic
def vrelu(typingctx, a):
    """max(a, 0) lane by lane, with NaN staying NaN (`a < 0` is false for it)."""
    def codegen(context, builder, sig, args):
        zero = ir.Constant(_VEC, [0.0] * WIDTH)
        return builder.select(builder.fcmp_ordered("<", args[0], zero), zero, args[0])
    return vec(vec), codegen


@intrinsic
def vmax(typingctx, a, b):
    """max(a, b) lane by lane, NaN where either is NaN (pooling's max)."""
    def codegen(context, builder, sig, args):
        x, y = args
        larger = builder.select(builder.fcmp_ordered(">", y, x), y, x)  # x where x is NaN
        return builder.select(builder.fcmp_unordered("uno", y, y), y, larger)
    return vec(vec, vec), codegen


@intrinsic
def vget(typingctx, a, lane):
    """One lane of a vector, as a float32."""
    def codegen(context, builder, sig, args):
        return builder.extract_element(args[0], builder.trunc(args[1], ir.IntType(32)))
    return types.float32(vec, lane), codegen
