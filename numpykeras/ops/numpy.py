"""``keras.ops.numpy``: the NumPy-like ops, each a primitive with its VJP beside it, or a
composition of primitives (and then differentiable for free).

Every function takes NumPy arrays, Python scalars, ``Variable``s or recorded ``Tensor``s; it returns
an ``np.ndarray`` (a ``Tensor`` while a tape records it). Dtypes follow Keras's promotion
(``numpykeras.ops.dtypes.result_type``): Python scalars are weak, ints meeting floats give floats,
and float functions of ints give floatx.
"""

from __future__ import annotations

import builtins
import functools
import math
import string

import numpy as np

from numpykeras import backend
from numpykeras.backend import Variable
from numpykeras.ops import _special, dtypes
from numpykeras.ops.autodiff import Tensor, is_recording, primitive, unwrap

# --------------------------------------------------------------------------- helpers


def _is_tracked(x) -> bool:
    return type(x) is Tensor


def _shape(x) -> tuple:
    return np.shape(unwrap(x))


def to_array(x, dtype=None) -> np.ndarray:
    """A NumPy array with Keras's dtype for ``x``: Python floats (and lists of them) become
    floatx, Python ints int32, arrays keep their dtype unless ``dtype`` is given."""
    x = unwrap(x)
    if dtype is not None:
        return np.asarray(x, dtype=dtypes.standardize_dtype(dtype))
    if isinstance(x, (np.ndarray, np.generic)):
        return np.asarray(x)
    arr = np.asarray(x)
    if arr.dtype == np.float64:
        return arr.astype(backend.floatx())
    if arr.dtype == np.int64:
        return arr.astype("int32")
    return arr


def _dtype(x) -> str | type:
    """A value's entry on the promotion lattice (Python scalars stay weak)."""
    x = unwrap(x)
    if type(x) is np.ndarray:
        return dtypes.standardize_dtype(x.dtype)
    if isinstance(x, (bool, int, float, complex)):
        return dtypes.dtype_of(x)
    return dtypes.standardize_dtype(to_array(x).dtype)


def _promote(*xs):
    """``xs`` as arrays of their Keras result type (Python scalars join weakly)."""
    dtype = dtypes.result_type(*[_dtype(x) for x in xs])
    return [np.asarray(unwrap(x), dtype=dtype) for x in xs]


def _float_input(x) -> np.ndarray:
    """``x`` as an array; ints and bools become floatx (Keras's float functions of ints)."""
    x = to_array(x)
    if not dtypes.is_float(x.dtype) and "complex" not in x.dtype.name:
        x = x.astype(backend.floatx())
    return x


def _float_arg(x):
    """``x`` for a float function: unchanged when floating (so a recorded Tensor, a Variable
    or a watched array stays tracked), else as a floatx array."""
    if isinstance(x, (Tensor, Variable, np.ndarray)) and dtypes.is_float(x.dtype):
        return x
    return _float_input(x)


def unbroadcast(g, shape):
    """Sum ``g`` over the axes broadcasting added or stretched, back to ``shape``."""
    gshape = _shape(g)
    if gshape == tuple(shape):
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and gshape[i + lead] != 1
    )
    if axes:
        g = sum(g, axis=axes, keepdims=True)
    return reshape(g, shape)


def _norm_axes(axis, ndim) -> tuple:
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < builtins.max(ndim, 1):
            raise ValueError(f"axis {a} is out of bounds for a tensor of rank {ndim}")
        out.append(a % builtins.max(ndim, 1))
    return tuple(out)


def _unary(npfn, float_only=True, name=None):
    """A primitive applying ``npfn`` elementwise (ints become floatx when ``float_only``)."""

    def fn(x):
        return npfn(_float_input(x) if float_only else to_array(x))

    fn.__name__ = name or npfn.__name__
    fn.__doc__ = f"Elementwise ``{fn.__name__}``, as ``keras.ops.{fn.__name__}``."
    return primitive(fn)


# --------------------------------------------------------------------------- elementwise, unary

exp = _unary(np.exp)
exp.defvjp(lambda g, ans, x: (g * ans,))
expm1 = _unary(np.expm1)
expm1.defvjp(lambda g, ans, x: (g * (ans + 1.0),))
exp2 = _unary(np.exp2)
exp2.defvjp(lambda g, ans, x: (g * ans * math.log(2.0),))
log = _unary(np.log)
log.defvjp(lambda g, ans, x: (g / x,))
log1p = _unary(np.log1p)
log1p.defvjp(lambda g, ans, x: (g / (x + 1.0),))
log2 = _unary(np.log2)
log2.defvjp(lambda g, ans, x: (g / (x * math.log(2.0)),))
log10 = _unary(np.log10)
log10.defvjp(lambda g, ans, x: (g / (x * math.log(10.0)),))
sqrt = _unary(np.sqrt)
sqrt.defvjp(lambda g, ans, x: (g * 0.5 / ans,))
sin = _unary(np.sin)
sin.defvjp(lambda g, ans, x: (g * cos(x),))
cos = _unary(np.cos)
cos.defvjp(lambda g, ans, x: (-(g * sin(x)),))
tan = _unary(np.tan)
tan.defvjp(lambda g, ans, x: (g * (1.0 + ans * ans),))
tanh = _unary(np.tanh)
tanh.defvjp(lambda g, ans, x: (g * (1.0 - ans * ans),))
sinh = _unary(np.sinh)
sinh.defvjp(lambda g, ans, x: (g * cosh(x),))
cosh = _unary(np.cosh)
cosh.defvjp(lambda g, ans, x: (g * sinh(x),))
arcsin = _unary(np.arcsin)
arcsin.defvjp(lambda g, ans, x: (g / sqrt(1.0 - x * x),))
arccos = _unary(np.arccos)
arccos.defvjp(lambda g, ans, x: (-(g / sqrt(1.0 - x * x)),))
arctan = _unary(np.arctan)
arctan.defvjp(lambda g, ans, x: (g / (1.0 + x * x),))
arcsinh = _unary(np.arcsinh)
arcsinh.defvjp(lambda g, ans, x: (g / sqrt(x * x + 1.0),))
arccosh = _unary(np.arccosh)
arccosh.defvjp(lambda g, ans, x: (g / sqrt(x * x - 1.0),))
arctanh = _unary(np.arctanh)
arctanh.defvjp(lambda g, ans, x: (g / (1.0 - x * x),))
reciprocal = _unary(np.reciprocal)
reciprocal.defvjp(lambda g, ans, x: (-(g * ans * ans),))
cbrt = _unary(np.cbrt)
cbrt.defvjp(lambda g, ans, x: (g / (3.0 * ans * ans),))


@primitive
def erf(x):
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t**2) dt`` (evaluated in float64,
    vectorised: ``ops/_special.py``)."""
    x = _float_input(x)
    return _special.erf(x).astype(x.dtype)


erf.defvjp(lambda g, ans, x: (g * (2.0 / math.sqrt(math.pi)) * exp(-(x * x)),))
# piecewise constant: no gradient (None), as TensorFlow's Floor/Ceil/Round
floor = _unary(np.floor)
ceil = _unary(np.ceil)
trunc = _unary(np.trunc, float_only=False)
isnan = _unary(np.isnan, float_only=False)
isinf = _unary(np.isinf, float_only=False)
isfinite = _unary(np.isfinite, float_only=False)
logical_not = _unary(np.logical_not, float_only=False)


@primitive
def negative(x):
    """``-x``."""
    return np.negative(to_array(x))


negative.defvjp(lambda g, ans, x: (-g,))


@primitive
def abs(x):
    """``|x|`` elementwise."""
    return np.abs(to_array(x))


abs.defvjp(lambda g, ans, x: (g * sign(x),))
absolute = abs
fabs = abs


@primitive
def square(x):
    """``x * x`` (ints stay ints)."""
    x = to_array(x)
    return np.square(x.astype("int32") if x.dtype == bool else x)


square.defvjp(lambda g, ans, x: (g * 2.0 * x,))


@primitive
def sign(x):
    """-1, 0 or 1 elementwise (its gradient is zero, as TensorFlow's)."""
    return np.sign(to_array(x))


sign.defvjp(lambda g, ans, x: (zeros_like(g),))


def round(x, decimals=0):
    """Round half to even to ``decimals`` places (no gradient, as TensorFlow's)."""
    x = to_array(x)
    return np.round(x, decimals) if dtypes.is_float(x.dtype) else np.asarray(x)


def rsqrt(x):
    """``1 / sqrt(x)``."""
    return reciprocal(sqrt(x))


def copy(x):
    """A copy of ``x`` (gradients pass through)."""
    return _copy(x)


@primitive
def _copy(x):
    return np.array(to_array(x))


_copy.defvjp(lambda g, ans, x: (g,))


# --------------------------------------------------------------------------- elementwise, binary


@primitive
def add(x1, x2):
    """``x1 + x2`` with broadcasting."""
    a, b = _promote(x1, x2)
    return np.add(a, b)


add.defvjp(
    lambda g, ans, x1, x2: (
        unbroadcast(g, _shape(x1)) if _is_tracked(x1) else None,
        unbroadcast(g, _shape(x2)) if _is_tracked(x2) else None,
    )
)


@primitive
def subtract(x1, x2):
    """``x1 - x2`` with broadcasting."""
    a, b = _promote(x1, x2)
    return np.subtract(a, b)


subtract.defvjp(
    lambda g, ans, x1, x2: (
        unbroadcast(g, _shape(x1)) if _is_tracked(x1) else None,
        unbroadcast(-g, _shape(x2)) if _is_tracked(x2) else None,
    )
)


@primitive
def multiply(x1, x2):
    """``x1 * x2`` with broadcasting."""
    a, b = _promote(x1, x2)
    return np.multiply(a, b)


multiply.defvjp(
    lambda g, ans, x1, x2: (
        unbroadcast(g * x2, _shape(x1)) if _is_tracked(x1) else None,
        unbroadcast(g * x1, _shape(x2)) if _is_tracked(x2) else None,
    )
)


@primitive
def divide(x1, x2):
    """``x1 / x2``; ints divide to floatx, as Keras."""
    a, b = _promote(x1, x2)
    if not dtypes.is_float(a.dtype) and "complex" not in a.dtype.name:
        a, b = a.astype(backend.floatx()), b.astype(backend.floatx())
    return np.divide(a, b)


divide.defvjp(
    lambda g, ans, x1, x2: (
        unbroadcast(g / x2, _shape(x1)) if _is_tracked(x1) else None,
        unbroadcast(-(g * ans) / x2, _shape(x2)) if _is_tracked(x2) else None,
    )
)
true_divide = divide


@primitive
def floor_divide(x1, x2):
    """``x1 // x2`` (no gradient, as TensorFlow's FloorDiv)."""
    a, b = _promote(x1, x2)
    return np.floor_divide(a, b)


@primitive
def mod(x1, x2):
    """``x1 % x2`` with the sign of ``x2`` (Python's and NumPy's)."""
    a, b = _promote(x1, x2)
    if a.dtype == bool:
        a, b = a.astype("int32"), b.astype("int32")
    return np.mod(a, b)


mod.defvjp(
    lambda g, ans, x1, x2: (
        unbroadcast(g, _shape(x1)) if _is_tracked(x1) else None,
        unbroadcast(-(g * floor_divide(x1, x2)), _shape(x2)) if _is_tracked(x2) else None,
    )
)


@primitive
def power(x1, x2):
    """``x1 ** x2`` with broadcasting."""
    a, b = _promote(x1, x2)
    return np.power(a, b)


def _power_vjp(g, ans, x1, x2):
    g1 = g2 = None
    if _is_tracked(x1):
        g1 = unbroadcast(g * x2 * power(x1, x2 - 1), _shape(x1))
    if _is_tracked(x2):
        safe = where(greater(x1, 0), x1, ones_like(x1))  # log(x1) only where x1 > 0
        g2 = unbroadcast(where(greater(x1, 0), g * ans * log(safe), 0.0), _shape(x2))
    return g1, g2


power.defvjp(_power_vjp)


def _extremum_vjp(pick_first):
    def vjp(g, ans, x1, x2):
        first = pick_first(x1, x2)  # True where x1 is the result (ties go to x1, as TensorFlow)
        return (
            unbroadcast(where(first, g, 0.0), _shape(x1)) if _is_tracked(x1) else None,
            unbroadcast(where(first, 0.0, g), _shape(x2)) if _is_tracked(x2) else None,
        )

    return vjp


@primitive
def maximum(x1, x2):
    """Elementwise maximum (NaN-propagating)."""
    a, b = _promote(x1, x2)
    return np.maximum(a, b)


maximum.defvjp(_extremum_vjp(lambda a, b: greater_equal(a, b)))


@primitive
def minimum(x1, x2):
    """Elementwise minimum (NaN-propagating)."""
    a, b = _promote(x1, x2)
    return np.minimum(a, b)


minimum.defvjp(_extremum_vjp(lambda a, b: less_equal(a, b)))


@primitive
def arctan2(x1, x2):
    """The angle of the point ``(x2, x1)``."""
    a, b = _promote(x1, x2)
    if not dtypes.is_float(a.dtype):
        a, b = a.astype(backend.floatx()), b.astype(backend.floatx())
    return np.arctan2(a, b)


def _arctan2_vjp(g, ans, x1, x2):
    r2 = x1 * x1 + x2 * x2
    return (
        unbroadcast(g * x2 / r2, _shape(x1)) if _is_tracked(x1) else None,
        unbroadcast(-(g * x1) / r2, _shape(x2)) if _is_tracked(x2) else None,
    )


arctan2.defvjp(_arctan2_vjp)


@primitive
def logaddexp(x1, x2):
    """``log(exp(x1) + exp(x2))`` without overflow."""
    a, b = _promote(x1, x2)
    if not dtypes.is_float(a.dtype):
        a, b = a.astype(backend.floatx()), b.astype(backend.floatx())
    return np.logaddexp(a, b)


logaddexp.defvjp(
    lambda g, ans, x1, x2: (
        unbroadcast(g * exp(x1 - ans), _shape(x1)) if _is_tracked(x1) else None,
        unbroadcast(g * exp(x2 - ans), _shape(x2)) if _is_tracked(x2) else None,
    )
)


def hypot(x1, x2):
    """``sqrt(x1**2 + x2**2)``."""
    return sqrt(add(square(x1), square(x2)))


def _comparison(npfn, name):
    def fn(x1, x2):
        a, b = _promote(x1, x2)
        return npfn(a, b)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise ``{npfn.__name__}`` (bool result, no gradient)."
    return primitive(fn)


equal = _comparison(np.equal, "equal")
not_equal = _comparison(np.not_equal, "not_equal")
less = _comparison(np.less, "less")
less_equal = _comparison(np.less_equal, "less_equal")
greater = _comparison(np.greater, "greater")
greater_equal = _comparison(np.greater_equal, "greater_equal")


def _logical(npfn, name):
    def fn(x1, x2):
        return npfn(to_array(x1), to_array(x2))

    fn.__name__ = name
    fn.__doc__ = f"Elementwise ``{npfn.__name__}`` of truth values."
    return primitive(fn)


logical_and = _logical(np.logical_and, "logical_and")
logical_or = _logical(np.logical_or, "logical_or")
logical_xor = _logical(np.logical_xor, "logical_xor")


def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """``|x1 - x2| <= atol + rtol * |x2|`` elementwise."""
    a, b = _promote(x1, x2)
    return np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """True when every element is close (see :func:`isclose`)."""
    return np.asarray(np.all(isclose(x1, x2, rtol, atol, equal_nan)))


@primitive
def clip(x, x_min, x_max):
    """``x`` limited to ``[x_min, x_max]``; the gradient passes where ``x_min <= x <= x_max``."""
    x = to_array(x)
    if x.dtype == bool:
        x = x.astype("int32")
    return np.clip(x, x_min, x_max).astype(x.dtype)


def _clip_vjp(g, ans, x, x_min, x_max):
    inside = logical_and(greater_equal(x, x_min), less_equal(x, x_max))
    return (
        where(inside, g, 0.0),
        unbroadcast(where(less(x, x_min), g, 0.0), _shape(x_min)) if _is_tracked(x_min) else None,
        unbroadcast(where(greater(x, x_max), g, 0.0), _shape(x_max))
        if _is_tracked(x_max)
        else None,
    )


clip.defvjp(_clip_vjp)


def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` holds, else ``x2``; with one argument, :func:`nonzero`."""
    if x1 is None and x2 is None:
        return nonzero(condition)
    if x1 is None or x2 is None:
        raise ValueError("`x1` and `x2` either both should be `None` or both should have values.")
    return _where(condition, x1, x2)


@primitive
def _where(condition, x1, x2):
    a, b = _promote(x1, x2)
    return np.where(to_array(condition).astype(bool), a, b)


_where.defvjp(
    lambda g, ans, c, x1, x2: (
        None,
        unbroadcast(multiply(g, cast(c, "bool")), _shape(x1)) if _is_tracked(x1) else None,
        unbroadcast(multiply(g, logical_not(c)), _shape(x2)) if _is_tracked(x2) else None,
    )
)


# --------------------------------------------------------------------------- dtype / conversion


@primitive
def cast(x, dtype):
    """``x`` converted to ``dtype``; the gradient is cast back to ``x``'s dtype."""
    return to_array(x).astype(dtypes.standardize_dtype(dtype), copy=False)


cast.defvjp(
    lambda g, ans, x, dtype: (
        cast(g, x.dtype) if dtypes.is_float(_dtype(x)) else None,
        None,
    )
)


def dtype(x) -> str:
    """The dtype name of ``x`` (``"float32"``)."""
    return dtypes.standardize_dtype(to_array(x).dtype if not hasattr(x, "dtype") else x.dtype)


_dtype_name = dtype  # for functions whose `dtype` argument hides `dtype`


# --------------------------------------------------------------------------- linear algebra


@primitive
def matmul(x1, x2):
    """Matrix product with NumPy's broadcasting of batch dimensions."""
    a, b = _promote(x1, x2)
    if a.dtype == bool:
        a, b = a.astype("int32"), b.astype("int32")
    return np.matmul(a, b)


def _matmul_vjp(g, ans, x1, x2):
    s1, s2 = _shape(x1), _shape(x2)
    a = reshape(x1, (1,) + s1) if len(s1) == 1 else x1  # (..., n, k)
    b = reshape(x2, s2 + (1,)) if len(s2) == 1 else x2  # (..., k, m)
    if len(s1) == 1:
        g = expand_dims(g, -2)
    if len(s2) == 1:
        g = expand_dims(g, -1)  # g: (..., n, m)
    g1 = g2 = None
    if _is_tracked(x1):
        g1 = reshape(unbroadcast(matmul(g, swapaxes(b, -1, -2)), _shape(a)), s1)  # (..., n, k)
    if _is_tracked(x2):
        g2 = reshape(unbroadcast(matmul(swapaxes(a, -1, -2), g), _shape(b)), s2)  # (..., k, m)
    return g1, g2


matmul.defvjp(_matmul_vjp)


def tensordot(x1, x2, axes=2):
    """Sum of products over ``axes`` (an int, or a pair of axis lists), as ``np.tensordot``."""
    s1, s2 = _shape(x1), _shape(x2)
    if isinstance(axes, int):
        ax1, ax2 = list(range(len(s1) - axes, len(s1))), list(range(axes))
    else:
        ax1, ax2 = axes
        ax1 = [ax1] if isinstance(ax1, int) else list(ax1)
        ax2 = [ax2] if isinstance(ax2, int) else list(ax2)
    ax1 = [a % len(s1) for a in ax1]
    ax2 = [a % len(s2) for a in ax2]
    if [s1[a] for a in ax1] != [s2[a] for a in ax2]:
        raise ValueError(f"Shape mismatch for tensordot: {s1} and {s2} with axes {axes}")
    free1 = [i for i in range(len(s1)) if i not in ax1]
    free2 = [i for i in range(len(s2)) if i not in ax2]
    k = int(np.prod([s1[a] for a in ax1], dtype=np.int64))
    a = reshape(transpose(x1, free1 + ax1), (-1, k))  # (M, K)
    b = reshape(transpose(x2, ax2 + free2), (k, -1))  # (K, N)
    return reshape(matmul(a, b), tuple(s1[i] for i in free1) + tuple(s2[i] for i in free2))


def dot(x1, x2):
    """``np.dot``: a product for scalars, else a sum over the last axis of ``x1`` and the
    second-to-last (or only) axis of ``x2``."""
    s1, s2 = _shape(x1), _shape(x2)
    if len(s1) == 0 or len(s2) == 0:
        return multiply(x1, x2)
    if len(s2) <= 2:
        return matmul(x1, x2) if len(s1) <= 2 else tensordot(x1, x2, ([-1], [0]))
    return tensordot(x1, x2, ([-1], [-2]))


def vdot(x1, x2):
    """Dot product of the flattened inputs."""
    return sum(multiply(ravel(x1), ravel(x2)))


def inner(x1, x2):
    """Sum over the last axes of both inputs."""
    if not _shape(x1) or not _shape(x2):
        return multiply(x1, x2)
    return tensordot(x1, x2, ([-1], [-1]))


def outer(x1, x2):
    """``ravel(x1)[:, None] * ravel(x2)[None, :]``."""
    return multiply(reshape(x1, (-1, 1)), reshape(x2, (1, -1)))


def _einsum_parse(subscripts, shapes):
    """Explicit subscripts with ellipses spelled out: ``(["ab", "bc"], "ac")``."""
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        lhs, out = subscripts.split("->")
    else:
        lhs, out = subscripts, None
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum: {len(ins)} subscripts for {len(shapes)} operands")
    spare = [c for c in string.ascii_letters if c not in subscripts]
    ell_rank = builtins.max(
        [len(s) - len(term.replace("...", "")) for term, s in zip(ins, shapes) if "..." in term],
        default=0,
    )
    ell = "".join(spare[:ell_rank])
    ins = [
        term.replace("...", ell[ell_rank - (len(s) - len(term.replace("...", ""))) :])
        for term, s in zip(ins, shapes)
    ]
    if out is None:
        counts = {c: "".join(ins).count(c) for c in "".join(ins)}
        out = ell + "".join(sorted(c for c in counts if counts[c] == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    return ins, out


def einsum(subscripts, *operands, **kwargs):
    """Einstein summation, as ``np.einsum`` (differentiable; gradients need operands whose
    ellipsis dimensions do not broadcast and no index repeated within one operand)."""
    ins, out = _einsum_parse(subscripts, [_shape(x) for x in operands])
    return _einsum(*operands, spec=(tuple(ins), out))


@primitive
def _einsum(*operands, spec):
    ins, out = spec
    arrays = _promote(*operands)
    if arrays and arrays[0].dtype == bool:
        arrays = [a.astype("int32") for a in arrays]
    return np.asarray(np.einsum(",".join(ins) + "->" + out, *arrays, optimize=len(arrays) > 1))


def _einsum_vjp(g, ans, *operands, spec):
    ins, out = spec
    grads = []
    for i, x in enumerate(operands):
        if not _is_tracked(x):
            grads.append(None)
            continue
        term = ins[i]
        if len(set(term)) != len(term):
            raise NotImplementedError("einsum gradient with an index repeated in one operand")
        others = [t for j, t in enumerate(ins) if j != i]
        seen = set(out).union(*others)
        kept = "".join(c for c in term if c in seen)
        gi = _einsum(g, *[o for j, o in enumerate(operands) if j != i], spec=((out, *others), kept))
        if kept != term:  # indices only in this operand were summed: broadcast back
            missing = "".join(c for c in term if c not in kept)
            gi = reshape(gi, _shape(gi) + (1,) * len(missing))  # axes: kept + missing
            gi = transpose(gi, [(kept + missing).index(c) for c in term])
            gi = broadcast_to(gi, _shape(x))
        grads.append(gi)
    return tuple(grads)


_einsum.defvjp(_einsum_vjp)


def trace(x, offset=0, axis1=0, axis2=1):
    """Sum along a diagonal."""
    return sum(diagonal(x, offset, axis1, axis2), axis=-1)


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The diagonal at ``offset`` of the planes ``(axis1, axis2)``, as the last axis."""
    shape = _shape(x)
    if len(shape) < 2:
        raise ValueError(f"diagonal needs a tensor of rank >= 2. Received: shape={shape}")
    a1, a2 = axis1 % len(shape), axis2 % len(shape)
    rest = [i for i in range(len(shape)) if i not in (a1, a2)]
    n, m = shape[a1], shape[a2]
    rows = np.arange(builtins.max(-offset, 0), n)
    cols = rows + offset
    ok = (cols >= 0) & (cols < m)
    flat = rows[ok] * m + cols[ok]  # positions of the diagonal in the flattened (n, m) plane
    planes = reshape(transpose(x, rest + [a1, a2]), tuple(shape[i] for i in rest) + (n * m,))
    return take(planes, flat.astype("int64"), axis=-1)


def diag(x, k=0):
    """The ``k``-th diagonal of a matrix, or a matrix with a vector on its ``k``-th diagonal."""
    shape = _shape(x)
    if len(shape) == 2:
        return diagonal(x, k)
    if len(shape) != 1:
        raise ValueError(f"diag needs a 1-D or 2-D input. Received: shape={shape}")
    n = shape[0] + builtins.abs(k)
    i = np.arange(shape[0])
    flat = (i + builtins.max(-k, 0)) * n + i + builtins.max(k, 0)
    return reshape(_scatter_add(x, flat, axis=0, size=n * n), (n, n))


def tri(N, M=None, k=0, dtype=None):
    """Ones at and below the ``k``-th diagonal."""
    return np.tri(N, M, k, dtype=dtypes.standardize_dtype(dtype))


def tril(x, k=0):
    """``x`` with the elements above the ``k``-th diagonal zeroed."""
    shape = _shape(x)
    return where(np.tri(shape[-2], shape[-1], k, dtype=bool), x, zeros((), _dtype_name(x)))


def triu(x, k=0):
    """``x`` with the elements below the ``k``-th diagonal zeroed."""
    shape = _shape(x)
    return where(np.tri(shape[-2], shape[-1], k - 1, dtype=bool), zeros((), _dtype_name(x)), x)


# --------------------------------------------------------------------------- shapes


@primitive
def reshape(x, newshape):
    """``x`` with shape ``newshape`` (one entry may be -1)."""
    newshape = (newshape,) if isinstance(newshape, int) else tuple(newshape)
    return np.reshape(to_array(x), newshape)


reshape.defvjp(lambda g, ans, x, newshape: (reshape(g, _shape(x)), None))


def ravel(x):
    """``x`` flattened to 1-D."""
    return reshape(x, (-1,))


@primitive
def transpose(x, axes=None):
    """``x`` with its axes permuted (reversed by default)."""
    return np.transpose(to_array(x), axes)


def _transpose_vjp(g, ans, x, axes=None):
    if axes is None:
        return (transpose(g),)
    axes = [a % len(_shape(x)) for a in axes]
    return (transpose(g, [int(i) for i in np.argsort(axes)]),)


transpose.defvjp(_transpose_vjp)


def expand_dims(x, axis):
    """``x`` with new size-1 axes at ``axis`` (an int or a tuple)."""
    shape = list(_shape(x))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    ndim = len(shape) + len(axes)
    for a in sorted(a % ndim for a in axes):
        shape.insert(a, 1)
    return reshape(x, tuple(shape))


def squeeze(x, axis=None):
    """``x`` without its size-1 axes (only those at ``axis`` when given)."""
    shape = _shape(x)
    if axis is None:
        axes = {i for i, n in enumerate(shape) if n == 1}
    else:
        axes = set(_norm_axes(axis, len(shape)))
        for a in axes:
            if shape[a] != 1:
                raise ValueError(
                    f"Cannot squeeze axis {a}: it has size {shape[a]}. Received: shape={shape}"
                )
    return reshape(x, tuple(n for i, n in enumerate(shape) if i not in axes))


def moveaxis(x, source, destination):
    """``x`` with axes ``source`` moved to positions ``destination``."""
    ndim = len(_shape(x))
    src = _norm_axes(source, ndim)
    dst = _norm_axes(destination, ndim)
    order = [i for i in range(ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def swapaxes(x, axis1, axis2):
    """``x`` with two axes exchanged."""
    ndim = len(_shape(x))
    order = list(range(ndim))
    a, b = axis1 % ndim, axis2 % ndim
    order[a], order[b] = order[b], order[a]
    return transpose(x, order)


@primitive
def broadcast_to(x, shape):
    """``x`` broadcast to ``shape``."""
    return np.broadcast_to(to_array(x), tuple(shape))


broadcast_to.defvjp(lambda g, ans, x, shape: (unbroadcast(g, _shape(x)), None))


def concatenate(xs, axis=0):
    """The arrays ``xs`` joined along ``axis``."""
    return _concatenate(*xs, axis=axis)


@primitive
def _concatenate(*xs, axis):
    return np.concatenate(_promote(*xs), axis=axis)


def _concatenate_vjp(g, ans, *xs, axis):
    grads, start = [], 0
    ax = axis % len(_shape(ans))
    for x in xs:
        n = _shape(x)[ax]
        key = (builtins.slice(None),) * ax + (builtins.slice(start, start + n),)
        grads.append(get_item(g, key) if _is_tracked(x) else None)
        start += n
    return tuple(grads)


_concatenate.defvjp(_concatenate_vjp)


def stack(x, axis=0):
    """The arrays ``x`` (of one shape) stacked along a new ``axis``."""
    return concatenate([expand_dims(t, axis) for t in x], axis=axis)


def vstack(xs):
    """Stack along the first axis (1-D inputs become rows)."""
    return concatenate([reshape(x, (1, -1)) if len(_shape(x)) == 1 else x for x in xs], axis=0)


def hstack(xs):
    """Stack along the second axis (the first for 1-D inputs)."""
    return concatenate(xs, axis=0 if len(_shape(xs[0])) == 1 else 1)


def append(x1, x2, axis=None):
    """``x2`` appended to ``x1`` (both flattened when ``axis`` is None)."""
    if axis is None:
        return concatenate([ravel(x1), ravel(x2)])
    return concatenate([x1, x2], axis=axis)


def split(x, indices_or_sections, axis=0):
    """``x`` cut along ``axis`` into equal sections or at the given indices."""
    n = _shape(x)[axis]
    if isinstance(indices_or_sections, int):
        if n % indices_or_sections:
            raise ValueError(
                f"array split does not result in an equal division: {n} into "
                f"{indices_or_sections} sections"
            )
        step = n // indices_or_sections
        cuts = list(range(step, n, step))
    else:
        cuts = [int(i) for i in indices_or_sections]
    bounds = [0] + cuts + [n]
    ax = axis % len(_shape(x))
    lead = (builtins.slice(None),) * ax
    return [get_item(x, lead + (builtins.slice(a, b),)) for a, b in zip(bounds[:-1], bounds[1:])]


def array_split(x, indices_or_sections, axis=0):
    """``x`` cut into ``indices_or_sections`` nearly equal parts (the first ones larger)."""
    n = _shape(x)[axis]
    q, r = divmod(n, indices_or_sections)
    sizes = [q + 1] * r + [q] * (indices_or_sections - r)
    return split(x, list(np.cumsum(sizes)[:-1]), axis)


def unstack(x, num=None, axis=0):
    """The slices of ``x`` along ``axis``."""
    n = _shape(x)[axis]
    if num is not None and num != n:
        raise ValueError(f"Cannot unstack {n} slices into num={num}.")
    return [squeeze(t, axis) for t in split(x, n, axis)]


def tile(x, repeats):
    """``x`` repeated ``repeats`` times along each axis."""
    repeats = (repeats,) if isinstance(repeats, int) else tuple(repeats)
    shape = _shape(x)
    ndim = builtins.max(len(shape), len(repeats))
    shape = (1,) * (ndim - len(shape)) + shape
    repeats = (1,) * (ndim - len(repeats)) + repeats
    y = reshape(x, tuple(v for n in shape for v in (1, n)))  # (1, n0, 1, n1, ...)
    y = broadcast_to(y, tuple(v for r, n in zip(repeats, shape) for v in (r, n)))  # (r0, n0, ...)
    return reshape(y, tuple(r * n for r, n in zip(repeats, shape)))


def repeat(x, repeats, axis=None):
    """Each element of ``x`` repeated ``repeats`` times (along ``axis``; flattened if None)."""
    if axis is None:
        x, axis = ravel(x), 0
    n = _shape(x)[axis]
    index = np.repeat(np.arange(n), unwrap(repeats))
    return take(x, index, axis=axis)


def flip(x, axis=None):
    """``x`` reversed along ``axis`` (all axes by default)."""
    ndim = len(_shape(x))
    axes = set(_norm_axes(axis, ndim))
    return get_item(
        x,
        tuple(
            builtins.slice(None, None, -1) if i in axes else builtins.slice(None)
            for i in range(ndim)
        ),
    )


def roll(x, shift, axis=None):
    """``x`` rolled by ``shift`` along ``axis`` (flattened when None)."""
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), _shape(x))
    shifts = shift if isinstance(shift, (tuple, list)) else (shift,)
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    for s, a in zip(shifts, axes):
        n = _shape(x)[a]
        x = take(x, (np.arange(n) - s) % n, axis=a)
    return x


_INDEX_PAD_MODES = ("reflect", "symmetric", "edge", "wrap")


def pad(x, pad_width, mode="constant", constant_values=None):
    """``x`` padded by ``pad_width`` (``((before, after), ...)``), as ``np.pad`` (``mode``:
    ``"constant"``, ``"reflect"``, ``"symmetric"``, ``"edge"``, ``"wrap"``, ``"maximum"``,
    ``"minimum"``, ``"mean"``, ``"median"``). The copying modes are gathers, so their gradient
    adds each copied cell back to its source."""
    if mode not in ("constant", *_INDEX_PAD_MODES, "maximum", "minimum", "mean", "median"):
        raise ValueError(f"Unsupported padding mode: {mode}")
    if mode != "constant" and constant_values is not None:
        raise ValueError(
            "Argument `constant_values` can only be provided when `mode == 'constant'`."
        )
    if mode in _INDEX_PAD_MODES and is_recording():  # a gather, so that it differentiates
        shape = _shape(x)
        widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (len(shape), 2))
        for axis, (n, (before, after)) in enumerate(zip(shape, widths)):
            if before or after:
                index = np.pad(np.arange(n), (int(before), int(after)), mode=mode)
                x = take(x, index, axis=axis)
        return x
    return _pad(x, pad_width, mode=mode, constant_values=constant_values)


@primitive
def _pad(x, pad_width, mode="constant", constant_values=None):
    kwargs = {} if constant_values is None else {"constant_values": constant_values}
    return np.pad(to_array(x), pad_width, mode=mode, **kwargs)


def _pad_vjp(g, ans, x, pad_width, mode="constant", constant_values=None):
    if mode != "constant":
        raise NotImplementedError(f"pad: no gradient for mode={mode!r}")
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (len(_shape(x)), 2))
    key = tuple(builtins.slice(b, b + n) for (b, _), n in zip(widths, _shape(x)))
    return (get_item(g, key), None, None, None)


_pad.defvjp(_pad_vjp)


# --------------------------------------------------------------------------- indexing


def _raw_key(key):
    if isinstance(key, tuple):
        return tuple(_raw_key(k) for k in key)
    if isinstance(key, list):
        return np.asarray([unwrap(k) for k in key])
    key = unwrap(key)
    return key


def get_item(x, key):
    """``x[key]`` for any NumPy index (basic slices, integer or boolean arrays)."""
    return _get_item(x, key=_raw_key(key))


@primitive
def _get_item(x, key):
    return np.asarray(to_array(x)[key])


def _is_basic(key) -> bool:
    items = key if isinstance(key, tuple) else (key,)
    return builtins.all(
        k is None or k is Ellipsis or isinstance(k, (int, builtins.slice, np.integer))
        for k in items
    )


def _get_item_vjp(g, ans, x, key):
    return (_index_add(g, key=key, shape=_shape(x), basic=_is_basic(key)), None)


_get_item.defvjp(_get_item_vjp)


@primitive
def _index_add(g, key, shape, basic):
    """Zeros of ``shape`` with ``g`` added at ``key`` (the adjoint of ``x[key]``)."""
    g = np.asarray(g)
    out = np.zeros(shape, dtype=g.dtype)
    if basic:
        out[key] = g
    else:
        np.add.at(out, key, g)
    return out


_index_add.defvjp(lambda g, ans, gin, key, shape, basic: (get_item(g, key),))


def _take_index(indices, n):
    indices = np.asarray(unwrap(indices))
    if not np.issubdtype(indices.dtype, np.integer):
        raise TypeError(f"Indices must be integers. Received: dtype={indices.dtype}")
    return np.where(indices < 0, indices + n, indices)


def take(x, indices, axis=None):
    """Elements of ``x`` at ``indices`` along ``axis`` (of the flattened ``x`` when None)."""
    if axis is None:
        x, axis = ravel(x), 0
    shape = _shape(x)
    axis = axis % builtins.max(len(shape), 1)
    return _take(x, _take_index(indices, shape[axis]), axis=axis)


@primitive
def _take(x, indices, axis):
    return np.take(to_array(x), indices, axis=axis)


_take.defvjp(
    lambda g, ans, x, indices, axis: (
        _scatter_add(g, indices, axis=axis, size=_shape(x)[axis]),
        None,
    )
)


@primitive
def _scatter_add(g, indices, axis, size):
    """The adjoint of ``take(x, indices, axis)``: ``g``'s slices summed into ``size`` rows."""
    g = np.asarray(g)
    indices = np.asarray(indices)
    moved = np.moveaxis(g, list(range(axis, axis + indices.ndim)), list(range(indices.ndim)))
    rest = moved.shape[indices.ndim :]
    out = np.zeros((size,) + rest, dtype=g.dtype)
    np.add.at(out, indices.reshape(-1), moved.reshape((-1,) + rest))
    return np.moveaxis(out, 0, axis)


_scatter_add.defvjp(lambda g, ans, gin, indices, axis, size: (_take(g, indices, axis=axis), None))


def take_along_axis(x, indices, axis=None):
    """``x``'s elements at ``indices`` along ``axis``, as ``np.take_along_axis``."""
    if axis is None:
        x, axis = ravel(x), 0
    shape = _shape(x)
    axis = axis % len(shape)
    indices = _take_index(indices, shape[axis])
    bshape = list(
        np.broadcast_shapes(
            shape[:axis] + (1,) + shape[axis + 1 :],
            indices.shape[:axis] + (1,) + indices.shape[axis + 1 :],
        )
    )
    x = broadcast_to(x, tuple(bshape[:axis]) + (shape[axis],) + tuple(bshape[axis + 1 :]))
    bshape[axis] = indices.shape[axis]
    return _take_along(x, np.broadcast_to(indices, bshape), axis=axis)


@primitive
def _take_along(x, indices, axis):
    return np.take_along_axis(to_array(x), indices, axis=axis)


_take_along.defvjp(
    lambda g, ans, x, indices, axis: (_put_along(g, indices, axis=axis, shape=_shape(x)), None)
)


@primitive
def _put_along(g, indices, axis, shape):
    g = np.asarray(g)
    out = np.zeros(shape, dtype=g.dtype)
    grid = list(np.indices(indices.shape, sparse=True))
    grid[axis] = indices
    np.add.at(out, tuple(grid), g)
    return out


_put_along.defvjp(
    lambda g, ans, gin, indices, axis, shape: (_take_along(g, indices, axis=axis), None)
)


def nonzero(x):
    """The indices of the non-zero elements, one int array per axis."""
    return tuple(i.astype("int32") for i in np.nonzero(to_array(x)))


# --------------------------------------------------------------------------- reductions


def _reduce_dtype(x):
    """Keras's sum/prod dtype: bool and small ints sum in int32, else the input's dtype."""
    dtype = x.dtype.name
    if dtype in ("bool", "int8", "int16"):
        return "int32"
    if dtype in ("uint8", "uint16"):
        return "uint32"
    return dtype


@primitive
def sum(x, axis=None, keepdims=False):
    """Sum over ``axis`` (all axes by default)."""
    x = to_array(x)
    axis = _norm_axes(axis, x.ndim) if axis is not None else None
    return np.asarray(np.sum(x, axis=axis, keepdims=keepdims, dtype=_reduce_dtype(x)))


def _restore_axes(g, x, axis, keepdims):
    """``g`` (reduced over ``axis``) broadcast back to ``x``'s shape."""
    shape = _shape(x)
    if not keepdims:
        kept = tuple(1 if i in _norm_axes(axis, len(shape)) else n for i, n in enumerate(shape))
        g = reshape(g, kept)
    return broadcast_to(g, shape)


sum.defvjp(lambda g, ans, x, axis=None, keepdims=False: (_restore_axes(g, x, axis, keepdims),))


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis``; ints give floatx."""
    shape = _shape(x)
    n = int(np.prod([shape[a] for a in _norm_axes(axis, len(shape))], dtype=np.int64))
    return divide(sum(x, axis=axis, keepdims=keepdims), n)  # ints divide to floatx


def average(x, axis=None, weights=None):
    """Weighted mean over ``axis`` (``weights`` of ``x``'s shape, or 1-D along ``axis``). As
    Keras, with ``axis=None`` the weighted sum is divided by ``sum(weights)`` as given."""
    if weights is None:
        return mean(x, axis=axis)
    xs, ws = _shape(x), _shape(weights)
    if axis is not None and len(ws) == 1 and len(xs) > 1:
        a = axis % len(xs)
        weights = reshape(weights, tuple(xs[a] if i == a else 1 for i in range(len(xs))))
    total = sum(multiply(x, weights), axis=axis)
    return divide(total, sum(weights, axis=axis if len(ws) == len(xs) else None))


def _extremum(npfn, name):
    def fn(x, axis=None, keepdims=False, initial=None):
        x = to_array(x)
        axis = _norm_axes(axis, x.ndim) if axis is not None else None
        if x.size == 0 and initial is None:
            raise ValueError(f"Cannot compute the {name} of an empty tensor.")
        kwargs = {} if initial is None else {"initial": initial}
        return np.asarray(npfn(x, axis=axis, keepdims=keepdims, **kwargs))

    fn.__name__ = name
    fn.__doc__ = f"The {name}imum over ``axis`` (ties share the gradient, as TensorFlow)."
    prim = primitive(fn)

    def vjp(g, ans, x, axis=None, keepdims=False, initial=None):
        y = _restore_axes(ans, x, axis, keepdims)
        hit = cast(equal(x, y), _dtype_name(x))
        count = _restore_axes(sum(hit, axis=axis, keepdims=keepdims), x, axis, keepdims)
        return (_restore_axes(g, x, axis, keepdims) * hit / count,)

    prim.defvjp(vjp)
    return prim


max = _extremum(np.max, "max")
min = _extremum(np.min, "min")


def amax(x, axis=None, keepdims=False):
    """The maximum over ``axis`` (:func:`max` without ``initial``, as Keras)."""
    return max(x, axis=axis, keepdims=keepdims)


def amin(x, axis=None, keepdims=False):
    """The minimum over ``axis`` (:func:`min` without ``initial``, as Keras)."""
    return min(x, axis=axis, keepdims=keepdims)


@primitive
def prod(x, axis=None, keepdims=False, dtype=None):
    """Product over ``axis``."""
    x = to_array(x)
    axis = _norm_axes(axis, x.ndim) if axis is not None else None
    out_dtype = dtypes.standardize_dtype(dtype) if dtype is not None else _reduce_dtype(x)
    return np.asarray(np.prod(x, axis=axis, keepdims=keepdims, dtype=out_dtype))


def _prod_vjp(g, ans, x, axis=None, keepdims=False, dtype=None):
    # d prod / dx_i = prod / x_i: exact for inputs without zeros (TensorFlow's handles zeros)
    return (_restore_axes(g * ans, x, axis, keepdims) / x,)


prod.defvjp(_prod_vjp)


def var(x, axis=None, keepdims=False):
    """Population variance over ``axis``."""
    x = _float_arg(x)
    centered = subtract(x, mean(x, axis=axis, keepdims=True))
    return mean(square(centered), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    """Population standard deviation over ``axis``."""
    return sqrt(var(x, axis=axis, keepdims=keepdims))


def _arg(npfn, name):
    def fn(x, axis=None, keepdims=False):
        x = to_array(x)
        out = npfn(x, axis=axis, keepdims=keepdims) if axis is not None else npfn(x)
        if axis is None and keepdims:
            out = np.reshape(out, (1,) * x.ndim)
        return np.asarray(out, dtype="int32")

    fn.__name__ = name
    fn.__doc__ = f"The index of the {name[3:]}imum along ``axis`` (of the flattened ``x``)."
    return fn


argmax = _arg(np.argmax, "argmax")
argmin = _arg(np.argmin, "argmin")


def argsort(x, axis=-1):
    """The indices that sort ``x`` along ``axis`` (stable)."""
    x = to_array(x)
    if axis is None:
        return np.argsort(x, axis=None, kind="stable").astype("int32")
    return np.argsort(x, axis=axis, kind="stable").astype("int32")


def sort(x, axis=-1):
    """``x`` sorted along ``axis`` (the gradient follows each element)."""
    if axis is None:
        x, axis = ravel(x), 0
    return take_along_axis(x, argsort(unwrap(x), axis=axis), axis=axis)


def all(x, axis=None, keepdims=False):
    """True where every element over ``axis`` is non-zero."""
    x = to_array(x)
    axis = _norm_axes(axis, x.ndim) if axis is not None else None
    return np.asarray(np.all(x, axis=axis, keepdims=keepdims))


def any(x, axis=None, keepdims=False):
    """True where some element over ``axis`` is non-zero."""
    x = to_array(x)
    axis = _norm_axes(axis, x.ndim) if axis is not None else None
    return np.asarray(np.any(x, axis=axis, keepdims=keepdims))


def count_nonzero(x, axis=None):
    """The number of non-zero elements over ``axis`` (int32)."""
    x = to_array(x)
    axis = _norm_axes(axis, x.ndim) if axis is not None else None
    return np.asarray(np.count_nonzero(x, axis=axis), dtype="int32")


@primitive
def cumsum(x, axis=None, dtype=None):
    """Running sum along ``axis`` (of the flattened ``x`` when None)."""
    x = to_array(x)
    out_dtype = dtypes.standardize_dtype(dtype) if dtype is not None else _reduce_dtype(x)
    return np.cumsum(x, axis=axis, dtype=out_dtype)


def _cumsum_vjp(g, ans, x, axis=None, dtype=None):
    if axis is None:
        return (reshape(flip(cumsum(flip(g, 0), 0), 0), _shape(x)),)
    return (flip(cumsum(flip(g, axis), axis), axis),)


cumsum.defvjp(_cumsum_vjp)


@primitive
def cumprod(x, axis=None, dtype=None):
    """Running product along ``axis`` (of the flattened ``x`` when None)."""
    x = to_array(x)
    out_dtype = dtypes.standardize_dtype(dtype) if dtype is not None else _reduce_dtype(x)
    return np.cumprod(x, axis=axis, dtype=out_dtype)


def _cumprod_vjp(g, ans, x, axis=None, dtype=None):
    # d ans_j / d x_i = ans_j / x_i for j >= i: a reversed running sum (inputs without zeros)
    flat = axis is None
    axis = 0 if flat else axis
    ga = g * ans
    rev = flip(cumsum(flip(ga, axis), axis), axis)
    return (reshape(rev, _shape(x)) / x if flat else rev / x,)


cumprod.defvjp(_cumprod_vjp)


def median(x, axis=None, keepdims=False):
    """The median over ``axis``."""
    return quantile(x, 0.5, axis=axis, keepdims=keepdims)


def quantile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-th quantiles over ``axis``, as ``np.quantile`` (``method``: ``"linear"``,
    ``"lower"``, ``"higher"``, ``"nearest"`` or ``"midpoint"``); a NaN makes its slice NaN."""
    return _quantile(x, q, axis, method, keepdims, ignore_nan=False)


def _quantile(x, q, axis, method, keepdims, ignore_nan):
    if method not in ("linear", "lower", "higher", "nearest", "midpoint"):
        raise ValueError(
            "`method` must be one of 'linear', 'lower', 'higher', 'nearest', 'midpoint'. "
            f"Received: method={method!r}"
        )
    dtype = dtypes.result_type(_dtype(x), float)
    x = cast(x, dtype) if _dtype_name(x) != dtype or not _is_tracked(x) else x
    shape = _shape(x)
    axes = _norm_axes(axis, len(shape))
    rest = [i for i in range(len(shape)) if i not in axes]
    batch = tuple(shape[i] for i in rest)
    flat = reshape(transpose(x, rest + list(axes)), batch + (-1,))  # (*batch, n)
    s = sort(flat, axis=-1)  # NaNs last
    values = np.asarray(unwrap(flat))
    n = values.shape[-1]
    nans = np.isnan(values)
    count = n - np.sum(nans, axis=-1) if ignore_nan else np.full(batch, n)
    qs = np.asarray(unwrap(q), dtype=np.float64)
    pos = (count - 1)[..., None] * qs.reshape(-1)  # (*batch, len(q))
    lo = np.floor(pos).astype(np.int64)
    hi = np.ceil(pos).astype(np.int64)
    if method == "linear":
        frac = pos - lo
    elif method == "midpoint":
        frac = np.where(hi > lo, 0.5, 0.0)
    else:
        if method != "higher":
            hi = lo if method == "lower" else np.round(pos).astype(np.int64)
        lo, frac = hi, np.zeros_like(pos)
    lo, hi = np.clip(lo, 0, n - 1), np.clip(hi, 0, n - 1)
    frac = frac.astype(dtype)
    out = add(
        multiply(take_along_axis(s, lo, axis=-1), 1.0 - frac),
        multiply(take_along_axis(s, hi, axis=-1), frac),
    )
    undefined = count == 0 if ignore_nan else np.any(nans, axis=-1)
    out = where(undefined[..., None], np.asarray(np.nan, dtype), out)
    out = reshape(out, batch + qs.shape)
    out = moveaxis(out, tuple(range(len(batch), len(batch) + qs.ndim)), tuple(range(qs.ndim)))
    if keepdims:
        kept = tuple(1 if i in axes else n_ for i, n_ in enumerate(shape))
        out = reshape(out, qs.shape + kept)
    return out


# --------------------------------------------------------------------------- creation


def zeros(shape, dtype=None):
    """Zeros of ``shape`` (floatx by default)."""
    return np.zeros(shape, dtype=dtypes.standardize_dtype(dtype))


def ones(shape, dtype=None):
    """Ones of ``shape`` (floatx by default)."""
    return np.ones(shape, dtype=dtypes.standardize_dtype(dtype))


def empty(shape, dtype=None):
    """An uninitialised array of ``shape`` (zeros here, for reproducibility)."""
    return zeros(shape, dtype)


def full(shape, fill_value, dtype=None):
    """``shape`` filled with ``fill_value`` (its own dtype by default)."""
    fill = unwrap(fill_value)
    dtype = dtypes.standardize_dtype(dtype) if dtype is not None else to_array(fill).dtype
    return np.full(shape, fill, dtype=dtype)


def _like_dtype(x, dtype):
    return dtypes.standardize_dtype(dtype) if dtype is not None else to_array(x).dtype


def zeros_like(x, dtype=None):
    """Zeros of ``x``'s shape and dtype."""
    return np.zeros(_shape(x), dtype=_like_dtype(x, dtype))


def ones_like(x, dtype=None):
    """Ones of ``x``'s shape and dtype."""
    return np.ones(_shape(x), dtype=_like_dtype(x, dtype))


def empty_like(x, dtype=None):
    """An array of ``x``'s shape and dtype (zeros)."""
    return zeros_like(x, dtype)


def full_like(x, fill_value, dtype=None):
    """``fill_value`` in ``x``'s shape and dtype."""
    return np.full(_shape(x), unwrap(fill_value), dtype=_like_dtype(x, dtype))


def eye(N, M=None, k=0, dtype=None):
    """Ones on the ``k``-th diagonal of an ``N x M`` matrix."""
    return np.eye(N, M, k, dtype=dtypes.standardize_dtype(dtype))


def identity(n, dtype=None):
    """The ``n x n`` identity matrix."""
    return eye(n, dtype=dtype)


def arange(start, stop=None, step=None, dtype=None):
    """Evenly spaced values in ``[start, stop)`` (int32 for ints, floatx for floats)."""
    step = 1 if step is None else step
    if dtype is None:
        dtype = dtypes.result_type(
            *[dtypes.dtype_of(v) for v in (start, stop, step) if v is not None]
        )
    if stop is None:
        start, stop = 0, start
    return np.arange(start, stop, step, dtype=dtypes.standardize_dtype(dtype))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop``."""
    dtype = dtypes.standardize_dtype(dtype)
    out = np.linspace(
        unwrap(start), unwrap(stop), num, endpoint=endpoint, retstep=retstep, axis=axis
    )
    if retstep:
        return out[0].astype(dtype), np.asarray(out[1], dtype=dtype)
    return out.astype(dtype)


def meshgrid(*x, indexing="xy"):
    """Coordinate grids from 1-D coordinate vectors (``"xy"`` or ``"ij"`` indexing)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"Valid values for `indexing` are 'xy' and 'ij'. Received: {indexing!r}")
    sizes = [int(np.size(unwrap(v))) for v in x]
    shape = list(sizes)
    if indexing == "xy" and len(x) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    grids = []
    for i, v in enumerate(x):
        pos = i
        if indexing == "xy" and len(x) >= 2 and i < 2:
            pos = 1 - i
        view = [1] * len(x)
        view[pos] = sizes[i]
        grids.append(broadcast_to(reshape(v, tuple(view)), tuple(shape)))
    return grids


# --------------------------------------------------------------------------- complex / misc


def real(x):
    """The real part (no gradient)."""
    return np.real(to_array(x))


def imag(x):
    """The imaginary part (no gradient)."""
    return np.imag(to_array(x))


def conj(x):
    """The complex conjugate (real inputs pass through)."""
    return x if dtypes.is_float(_dtype(x)) else np.conj(to_array(x))


conjugate = conj


def ndim(x) -> int:
    """The number of axes of ``x``."""
    return len(_shape(x))


def size(x) -> int:
    """The number of elements of ``x``."""
    return int(np.prod(_shape(x), dtype=np.int64))


def diff(a, n=1, axis=-1):
    """The ``n``-th discrete difference along ``axis``."""
    ax = axis % len(_shape(a))
    lead = (builtins.slice(None),) * ax
    for _ in range(n):
        a = subtract(
            get_item(a, lead + (builtins.slice(1, None),)),
            get_item(a, lead + (builtins.slice(None, -1),)),
        )
    return a


# --------------------------------------------------------------------------- dtype rules


def _keras_float(x, int64_to="float64") -> str:
    """Keras's float dtype for a float function of ``x``: floats keep theirs, bool and ints up
    to 32 bits give floatx, int64 gives ``int64_to``."""
    name = _dtype_name(x) if not isinstance(x, str) else x
    if dtypes.is_float(name):
        return name
    return int64_to if name in ("int64", "uint64") else backend.floatx()


def _as_float(x, int64_to="float64"):
    """``x`` cast to :func:`_keras_float` (a recorded Tensor stays recorded)."""
    target = _keras_float(x, int64_to)
    return x if _dtype_name(x) == target and _is_tracked(x) else cast(x, target)


# --------------------------------------------------------------------------- more elementwise


def deg2rad(x):
    """Degrees to radians (ints give floatx, int64 float64)."""
    x = _as_float(x)
    return multiply(x, math.pi / 180.0)


def rad2deg(x):
    """Radians to degrees (ints give floatx, int64 float64)."""
    x = _as_float(x)
    return multiply(x, 180.0 / math.pi)


def angle(x):
    """The angle of complex ``x``; for real ``x`` 0 or pi (by its sign), floatx for ints."""
    xv = to_array(x)
    if "complex" in xv.dtype.name:
        return np.angle(xv).astype("float32" if xv.dtype == np.complex64 else "float64")
    target = _keras_float(xv, int64_to=backend.floatx())
    return np.where(xv < 0, np.pi, 0.0).astype(target)


def sinc(x):
    """``sin(pi x) / (pi x)``, 1 at 0."""
    x = _as_float(x, int64_to=backend.floatx())
    zero = equal(x, 0)
    pix = multiply(where(zero, 1.0, x), math.pi)
    return where(zero, 1.0, divide(sin(pix), pix))


def signbit(x):
    """True where the sign bit of ``x`` is set (-0.0 included)."""
    return np.asarray(np.signbit(to_array(x)))


def isneginf(x):
    """True where ``x`` is negative infinity."""
    return (
        np.asarray(np.isneginf(to_array(x)))
        if dtypes.is_float(_dtype_name(x))
        else np.zeros(_shape(x), bool)
    )


def isposinf(x):
    """True where ``x`` is positive infinity."""
    return (
        np.asarray(np.isposinf(to_array(x)))
        if dtypes.is_float(_dtype_name(x))
        else np.zeros(_shape(x), bool)
    )


def isreal(x):
    """True where the imaginary part of ``x`` is zero (everywhere for real dtypes)."""
    return np.asarray(np.isreal(to_array(x)))


def i0(x):
    """The modified Bessel function of the first kind, order 0 (ints give floatx, int64 and
    float64 float64)."""
    x = _as_float(x)
    return _i0(x)


@primitive
def _i0(x):
    x = to_array(x)
    return np.i0(x.astype(np.float64)).astype(x.dtype)


@primitive
def _i1(x):
    """The modified Bessel function of the first kind, order 1 (the derivative of ``i0``): its
    power series ``sum (x/2)^(2k+1) / (k! (k+1)!)`` has positive terms, so no cancellation."""
    x = to_array(x)
    h = x.astype(np.float64) / 2.0
    h2 = h * h
    term = h.copy()
    total = h.copy()
    for k in range(1, 500):
        term = term * h2 / (k * (k + 1))
        total = total + term
        if k % 8 == 0 and not np.any(np.abs(term) > 1e-17 * np.abs(total)):
            break
    return total.astype(x.dtype)


_i0.defvjp(lambda g, ans, x: (g * _i1(x),))
# d i1 / dx = i0(x) - i1(x) / x, with the limit 1/2 at 0
_i1.defvjp(
    lambda g, ans, x: (
        g * where(equal(x, 0), 0.5, subtract(_i0(x), divide(ans, where(equal(x, 0), 1.0, x)))),
    )
)


def heaviside(x1, x2):
    """0 where ``x1 < 0``, 1 where ``x1 > 0``, ``x2`` where ``x1 == 0`` (ints give floatx,
    int64 float64; the gradient reaches ``x2`` only)."""
    dtype = dtypes.result_type(_dtype(x1), _dtype(x2))
    if dtype in ("int8", "int16", "int32", "uint8", "uint16", "uint32", "bool"):
        dtype = backend.floatx()
    elif dtype in ("int64", "uint64"):
        dtype = "float64"
    a = to_array(x1, dtype)
    return where(a < 0, np.zeros((), dtype), where(a > 0, np.ones((), dtype), cast(x2, dtype)))


def fmax(x1, x2):
    """Elementwise maximum ignoring NaN (NaN only where both are NaN)."""
    return _nan_aware_extremum(maximum, x1, x2)


def fmin(x1, x2):
    """Elementwise minimum ignoring NaN (NaN only where both are NaN)."""
    return _nan_aware_extremum(minimum, x1, x2)


def _nan_aware_extremum(op, x1, x2):
    res = op(x1, x2)
    if not dtypes.is_float(_dtype_name(res)):
        return res
    n1, n2 = isnan(x1), isnan(x2)
    res = where(logical_and(n1, logical_not(n2)), x2, res)
    return where(logical_and(n2, logical_not(n1)), x1, res)


def fmod(x1, x2):
    """The remainder of ``x1 / x2`` with the sign of ``x1`` (C's ``fmod``)."""
    dtype = dtypes.result_type(_dtype(x1), _dtype(x2))
    if dtype == "bool":
        dtype = "int32"
    if not dtypes.is_float(dtype):
        a, b = to_array(x1, dtype), to_array(x2, dtype)
        return (np.sign(a) * np.mod(np.abs(a), np.abs(b))).astype(dtype)
    x1 = cast(x1, dtype) if _dtype_name(x1) != dtype else x1
    return multiply(sign(x1), mod(abs(x1), abs(x2)))


def ldexp(x1, x2):
    """``x1 * 2**x2`` (``x2`` integer)."""
    if "int" not in _dtype_name(x2):
        raise TypeError(
            f"ldexp exponent must be an integer type. Received: x2 dtype={_dtype_name(x2)}"
        )
    dtype = dtypes.result_type(_dtype(x1), _dtype(x2), float)
    x1 = cast(x1, dtype) if _dtype_name(x1) != dtype else x1
    return multiply(x1, np.exp2(to_array(x2).astype(dtype)))


def logaddexp2(x1, x2):
    """``log2(2**x1 + 2**x2)`` without overflow."""
    dtype = dtypes.result_type(_dtype(x1), _dtype(x2), float)
    x1 = cast(x1, dtype) if _dtype_name(x1) != dtype or not _is_tracked(x1) else x1
    x2 = cast(x2, dtype) if _dtype_name(x2) != dtype or not _is_tracked(x2) else x2
    ln2 = math.log(2.0)
    return divide(logaddexp(multiply(x1, ln2), multiply(x2, ln2)), ln2)


def nextafter(x1, x2):
    """The next representable value after ``x1`` towards ``x2``, found in float64 and cast to
    the result dtype (as Keras's TensorFlow backend)."""
    dtype = dtypes.result_type(_dtype(x1), _dtype(x2), float)
    a = to_array(x1).astype(np.float64)
    b = to_array(x2).astype(np.float64)
    return np.asarray(np.nextafter(a, b), dtype=dtype)


def divide_no_nan(x1, x2):
    """``x1 / x2``, 0 where ``x2 == 0``."""
    dtype = dtypes.result_type(_dtype(x1), _dtype(x2), float)
    x1 = cast(x1, dtype) if _dtype_name(x1) != dtype else x1
    x2 = cast(x2, dtype) if _dtype_name(x2) != dtype else x2
    zero = equal(x2, 0)
    return where(zero, 0.0, divide(x1, where(zero, 1.0, x2)))


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """``x`` with NaN, +inf and -inf replaced (by ``nan``, and the dtype's largest and
    smallest values unless given)."""
    name = _dtype_name(x)
    if not dtypes.is_float(name):
        return x if _is_tracked(x) else to_array(x)
    info = np.finfo(name)
    posinf = info.max if posinf is None else posinf
    neginf = info.min if neginf is None else neginf
    x = where(isnan(x), np.asarray(nan, name), x)
    x = where(logical_and(isinf(x), greater(x, 0)), np.asarray(posinf, name), x)
    return where(logical_and(isinf(x), less(x, 0)), np.asarray(neginf, name), x)


# --------------------------------------------------------------------------- integers and bits


def _int_pair(x, y, name):
    dtype = dtypes.result_type(_dtype(x), _dtype(y))
    if dtypes.is_float(dtype):
        raise TypeError(f"Arguments to {name} must be integers. Received dtype={dtype}")
    return to_array(x, dtype), to_array(y, dtype)


def bitwise_and(x, y):
    """Bitwise AND of integers (logical for bools)."""
    return np.asarray(np.bitwise_and(*_int_pair(x, y, "bitwise_and")))


def bitwise_or(x, y):
    """Bitwise OR of integers (logical for bools)."""
    return np.asarray(np.bitwise_or(*_int_pair(x, y, "bitwise_or")))


def bitwise_xor(x, y):
    """Bitwise XOR of integers (logical for bools)."""
    return np.asarray(np.bitwise_xor(*_int_pair(x, y, "bitwise_xor")))


def bitwise_invert(x):
    """Bitwise NOT of integers (logical for bools)."""
    return np.asarray(np.invert(to_array(x)))


bitwise_not = bitwise_invert


def _shift_operands(x, y):
    x = to_array(x)
    if isinstance(y, int) and not isinstance(y, bool):
        return x, np.asarray(y, dtype=x.dtype)
    return _int_pair(x, y, "a shift")


def bitwise_left_shift(x, y):
    """``x << y``."""
    return np.asarray(np.left_shift(*_shift_operands(x, y)))


def bitwise_right_shift(x, y):
    """``x >> y`` (arithmetic for signed integers)."""
    return np.asarray(np.right_shift(*_shift_operands(x, y)))


left_shift = bitwise_left_shift
right_shift = bitwise_right_shift


def gcd(x1, x2):
    """The greatest common divisor of integers (non-negative)."""
    return np.asarray(np.gcd(*_int_pair(x1, x2, "gcd")))


def lcm(x1, x2):
    """The least common multiple of integers (non-negative)."""
    return np.asarray(np.lcm(*_int_pair(x1, x2, "lcm")))


# --------------------------------------------------------------------------- shapes and joins


def fliplr(x):
    """``x`` reversed along axis 1."""
    if len(_shape(x)) < 2:
        raise ValueError(f"fliplr needs an input of rank >= 2. Received: shape={_shape(x)}")
    return flip(x, 1)


def flipud(x):
    """``x`` reversed along axis 0."""
    if len(_shape(x)) < 1:
        raise ValueError("flipud needs an input of rank >= 1.")
    return flip(x, 0)


def rot90(array, k=1, axes=(0, 1)):
    """``array`` rotated by ``k`` quarter turns in the plane ``axes`` (from the first axis
    towards the second)."""
    ndim = len(_shape(array))
    if ndim < 2:
        raise ValueError(
            f"Input array must have at least 2 dimensions. Received: array.ndim={ndim}"
        )
    if len(axes) != 2 or axes[0] % ndim == axes[1] % ndim:
        raise ValueError(f"Invalid axes: {axes}. Axes must be a tuple of two different dimensions.")
    a0, a1 = axes[0] % ndim, axes[1] % ndim
    k = k % 4
    if k == 0:
        return array if _is_tracked(array) else to_array(array)
    if k == 2:
        return flip(array, (a0, a1))
    if k == 1:
        return swapaxes(flip(array, a1), a0, a1)
    return flip(swapaxes(array, a0, a1), a1)


def dstack(xs):
    """Stack along the third axis (inputs of rank < 3 become ``(1, n, 1)`` or ``(m, n, 1)``)."""

    def at_least_3d(x):
        shape = _shape(x)
        if len(shape) == 0:
            return reshape(x, (1, 1, 1))
        if len(shape) == 1:
            return reshape(x, (1, shape[0], 1))
        if len(shape) == 2:
            return reshape(x, shape + (1,))
        return x

    return concatenate([at_least_3d(x) for x in xs], axis=2)


def hsplit(x, indices_or_sections):
    """:func:`split` along axis 1 (axis 0 for 1-D inputs)."""
    return split(x, indices_or_sections, axis=0 if len(_shape(x)) == 1 else 1)


def vsplit(x, indices_or_sections):
    """:func:`split` along axis 0."""
    return split(x, indices_or_sections, axis=0)


def dsplit(x, indices_or_sections):
    """:func:`split` along axis 2."""
    return split(x, indices_or_sections, axis=2)


def diagflat(x, k=0):
    """A matrix with the flattened ``x`` on its ``k``-th diagonal."""
    return diag(ravel(x), k)


def kron(x1, x2):
    """The Kronecker product (blocks ``x1[i] * x2``)."""
    s1, s2 = _shape(x1), _shape(x2)
    nd = builtins.max(len(s1), len(s2))
    s1 = (1,) * (nd - len(s1)) + s1
    s2 = (1,) * (nd - len(s2)) + s2
    a = reshape(x1, tuple(v for n in s1 for v in (n, 1)))
    b = reshape(x2, tuple(v for n in s2 for v in (1, n)))
    return reshape(multiply(a, b), tuple(m * n for m, n in zip(s1, s2)))


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of the 1-D ``x``: columns ``x**(N-1), ..., x, 1`` (reversed when
    ``increasing``), in ``x``'s dtype."""
    if len(_shape(x)) != 1:
        raise ValueError(f"x must be a one-dimensional array. Received: x.shape={_shape(x)}")
    n = _shape(x)[0] if N is None else int(N)
    if n < 0:
        raise ValueError("N must be nonnegative.")
    powers = np.arange(n) if increasing else np.arange(n - 1, -1, -1)
    name = _dtype_name(x)
    if dtypes.is_float(name):
        return power(expand_dims(x, -1), powers.astype(name))
    xv = to_array(x)
    compute = dtypes.result_type(name, "float32")
    return np.power(xv[:, None].astype(compute), powers.astype(compute)).astype(name)


def cross(x1, x2, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of 3-vectors (or 2-vectors, completed with a zero third component)
    along ``axisa``/``axisb``, placed along ``axisc``."""
    if axis is not None:
        axisa = axisb = axisc = axis
    dtype = dtypes.result_type(_dtype(x1), _dtype(x2))
    a = moveaxis(cast(x1, dtype), axisa, -1)
    b = moveaxis(cast(x2, dtype), axisb, -1)
    na, nb = _shape(a)[-1], _shape(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError(
            "Dimension of vectors for cross product must be 2 or 3. "
            f"Received: x1.shape[axisa]={na}, x2.shape[axisb]={nb}"
        )

    def comp(v, i, n):
        return get_item(v, (Ellipsis, i)) if i < n else None

    a0, a1, a2 = (comp(a, i, na) for i in range(3))
    b0, b1, b2 = (comp(b, i, nb) for i in range(3))
    z = subtract(multiply(a0, b1), multiply(a1, b0))
    if na == 2 and nb == 2:
        return z

    def mul(p, q):
        return None if p is None or q is None else multiply(p, q)

    def sub(p, q):
        if p is None:
            return negative(q) if q is not None else None
        return p if q is None else subtract(p, q)

    x = sub(mul(a1, b2), mul(a2, b1))
    y = sub(mul(a2, b0), mul(a0, b2))
    shape = np.broadcast_shapes(_shape(z), _shape(a0), _shape(b0))
    parts = [broadcast_to(v, shape) if v is not None else zeros(shape, dtype) for v in (x, y, z)]
    return moveaxis(stack(parts, axis=-1), -1, axisc)


def select(condlist, choicelist, default=0):
    """The element of the first ``choicelist`` entry whose condition holds, else ``default``."""
    if len(condlist) != len(choicelist):
        raise ValueError(
            f"condlist must have length equal to choicelist ({len(condlist)} vs {len(choicelist)})"
        )
    if not condlist:
        raise ValueError("condlist must be non-empty")
    out = default
    for cond, choice in zip(condlist[::-1], choicelist[::-1]):
        out = where(cond, choice, out)
    return out


# --------------------------------------------------------------------------- creation


def array(x, dtype=None):
    """``x`` as an array (as :func:`numpykeras.ops.convert_to_tensor`)."""
    from numpykeras.ops.core import convert_to_tensor

    return convert_to_tensor(x, dtype=dtype)


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    """``base ** linspace(start, stop, num)``."""
    if dtype is None:
        dtype = dtypes.result_type(
            dtypes.dtype_of(unwrap(start)), dtypes.dtype_of(unwrap(stop)), float
        )
    dtype = dtypes.standardize_dtype(dtype)
    exps = np.linspace(
        np.asarray(unwrap(start), np.float64),
        np.asarray(unwrap(stop), np.float64),
        num,
        endpoint=endpoint,
        axis=axis,
    ).astype(dtype)
    return np.power(np.asarray(base, dtype=dtype), exps).astype(dtype)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """``num`` numbers spaced evenly on a log scale from ``start`` to ``stop``."""
    dtype = dtypes.standardize_dtype(dtype)
    start64 = np.asarray(unwrap(start), np.float64)
    stop64 = np.asarray(unwrap(stop), np.float64)
    return np.geomspace(start64, stop64, num, endpoint=endpoint, axis=axis).astype(dtype)


def _window(fn, x):
    m = int(unwrap(x))
    return np.asarray(fn(m), dtype=np.float64).astype(backend.floatx())


def bartlett(x):
    """The Bartlett (triangular) window of ``x`` points."""
    return _window(np.bartlett, x)


def blackman(x):
    """The Blackman window of ``x`` points."""
    return _window(np.blackman, x)


def hamming(x):
    """The Hamming window of ``x`` points."""
    return _window(np.hamming, x)


def hanning(x):
    """The Hann window of ``x`` points."""
    return _window(np.hanning, x)


def kaiser(x, beta):
    """The Kaiser window of ``x`` points with shape parameter ``beta``."""
    return _window(lambda m: np.kaiser(m, float(unwrap(beta))), x)


# --------------------------------------------------------------------------- searching, counting


def searchsorted(sorted_sequence, values, side="left"):
    """Indices at which to insert ``values`` into the 1-D ``sorted_sequence`` (int32)."""
    seq = to_array(sorted_sequence)
    if seq.ndim != 1:
        raise ValueError(
            "`searchsorted` only supports 1-D sorted sequences. You can use "
            "`keras.ops.vectorized_map` to extend it to N-D sequences. Received: "
            f"sorted_sequence.shape={seq.shape}"
        )
    if side not in ("left", "right"):
        raise ValueError(f"`side` must be 'left' or 'right'. Received: side={side!r}")
    out_type = "int32" if seq.shape[0] <= np.iinfo(np.int32).max else "int64"
    return np.asarray(np.searchsorted(seq, to_array(values), side=side), dtype=out_type)


def digitize(x, bins):
    """The index of the bin of each element: ``i`` with ``bins[i-1] <= x < bins[i]`` (int32)."""
    b = np.asarray(unwrap(bins), dtype=np.float64)
    return np.asarray(np.digitize(to_array(x).astype(np.float64), b), dtype="int32")


def isin(x1, x2, assume_unique=False, invert=False):
    """True where an element of ``x1`` occurs in ``x2``."""
    dtype = dtypes.result_type(_dtype(x1), _dtype(x2))
    a, b = to_array(x1, dtype), to_array(x2, dtype)
    return np.isin(a, b, assume_unique=assume_unique, invert=invert)


def bincount(x, weights=None, minlength=0, sparse=False):
    """Counts (or summed ``weights``) of each non-negative integer in ``x``; 2-D inputs count
    per row."""
    if sparse:
        raise ValueError("`sparse=True` is not supported: numpykeras has no sparse tensors.")
    xv = to_array(x)
    if xv.ndim not in (1, 2):
        raise ValueError(f"Input must be 1-D or 2-D. Received: x.shape={xv.shape}")
    idx = xv.astype(np.int64)
    if idx.size and idx.min() < 0:
        raise ValueError("Input `x` must contain only non-negative integers.")
    length = builtins.max(int(minlength), int(idx.max()) + 1 if idx.size else 0)
    if weights is None:
        dtype, w = "int32", np.ones(idx.shape, np.int64)
    else:
        w = to_array(weights)
        dtype = dtypes.result_type(xv.dtype.name, w.dtype.name)
    rows = idx.reshape(-1, idx.shape[-1]) if idx.ndim == 2 else idx[None]
    wr = np.broadcast_to(w, idx.shape).reshape(rows.shape)
    out = np.zeros((rows.shape[0], length), dtype=np.result_type(wr.dtype, np.int64))
    np.add.at(out, (np.arange(rows.shape[0])[:, None], rows), wr)
    out = out.astype(dtype)
    return out if idx.ndim == 2 else out[0]


def histogram(x, bins=10, range=None):
    """Counts of ``x`` in ``bins`` equal bins over ``range`` (default ``x``'s min and max), and
    the bin edges, both in ``x``'s dtype."""
    if not isinstance(bins, int):
        raise TypeError(f"Argument `bins` must be of type `int`. Received: bins={bins}")
    if bins < 0:
        raise ValueError(f"Argument `bins` should be a non-negative integer. Received: bins={bins}")
    xv = to_array(x)
    if xv.ndim != 1:
        raise ValueError(f"Input tensor must be 1-dimensional. Received: input.shape={xv.shape}")
    if range:
        if len(range) < 2 or not isinstance(range, tuple):
            raise ValueError(
                f"Argument `range` must be a tuple of two elements. Received: range={range}"
            )
        if range[1] < range[0]:
            raise ValueError(
                "The second element of `range` must be greater than the first. "
                f"Received: range={range}"
            )
        lo, hi = range
    else:
        lo, hi = xv.min(), xv.max()
    kept = xv[(xv >= lo) & (xv <= hi)]
    edges = np.linspace(lo, hi, bins + 1).astype(xv.dtype)
    index = np.searchsorted(edges[1:-1], kept, side="right")
    counts = np.bincount(index, minlength=bins).astype(xv.dtype)
    return counts, edges


def unravel_index(indices, shape):
    """The coordinates in an array of ``shape`` of each flat index (in ``indices``' dtype)."""
    if builtins.any(d is None for d in shape):
        raise ValueError(f"`shape` argument cannot contain `None`. Received: shape={shape}")
    iv = to_array(indices)
    coords = np.unravel_index(iv.astype(np.int64), tuple(int(d) for d in shape))
    return tuple(np.asarray(c, dtype=iv.dtype) for c in coords)


def argpartition(x, kth, axis=-1):
    """Indices that partition ``x`` along ``axis`` around its ``kth`` smallest element (int32;
    the order within each side is unspecified)."""
    xv = to_array(x)
    if axis is None:
        xv, axis = xv.reshape(-1), 0
    return np.argpartition(xv, kth, axis=axis).astype("int32")


def unique(
    x,
    sorted=True,
    return_index=False,
    return_inverse=False,
    return_counts=False,
    axis=None,
    size=None,
    fill_value=None,
):
    """The unique elements of ``x`` (flattened, or the unique slices along ``axis``), with
    optionally the first indices (int32), the inverse indices and the counts. ``size`` pads
    (with ``fill_value``, default 0) or truncates the result to a fixed length."""
    xv = to_array(x)
    values, index, inverse, counts = np.unique(
        xv, return_index=True, return_inverse=True, return_counts=True, axis=axis
    )
    ax = 0 if axis is None else axis % xv.ndim
    if not sorted:  # order of first appearance
        order = np.argsort(index, kind="stable")
        values = np.take(values, order, axis=ax)
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        index, counts, inverse = index[order], counts[order], rank[inverse]
    if axis is None:
        inverse = inverse.reshape(xv.shape)
    else:
        inverse = inverse.reshape(-1)
    if size is not None:
        n = values.shape[ax]
        keep = builtins.min(n, size)
        values = np.take(values, np.arange(keep), axis=ax)
        index, counts = index[:keep], counts[:keep]
        extra = size - keep
        if extra:
            widths = [(0, 0)] * values.ndim
            widths[ax] = (0, extra)
            fill = 0 if fill_value is None else fill_value
            values = np.pad(values, widths, constant_values=np.asarray(fill).astype(values.dtype))
            index = np.pad(index, (0, extra), constant_values=1)
            counts = np.pad(counts, (0, extra))
    results = [values]
    if return_index:
        results.append(index.astype("int32"))
    if return_inverse:
        results.append(inverse.astype("int32"))
    if return_counts:
        results.append(counts.astype("int32"))
    return tuple(results) if len(results) > 1 else results[0]


def view(x, dtype=None):
    """The bytes of ``x`` reinterpreted as ``dtype`` (the last axis rescaled by the ratio of
    item sizes)."""
    xv = np.ascontiguousarray(to_array(x))
    target = dtypes.standardize_dtype(dtype if dtype is not None else xv.dtype)
    if xv.ndim == 0 and np.dtype(target).itemsize != xv.dtype.itemsize:
        raise ValueError(
            f"Cannot view array of shape {xv.shape} and dtype {xv.dtype} as dtype {target} "
            "because the total number of bytes is not divisible by the new itemsize."
        )
    try:
        return xv.view(target)
    except ValueError as e:
        raise ValueError(
            f"Cannot view array of shape {xv.shape} and dtype {xv.dtype} as dtype {target}: {e}"
        ) from None


# --------------------------------------------------------------------------- statistics


def ptp(x, axis=None, keepdims=False):
    """``max - min`` over ``axis``."""
    return subtract(max(x, axis=axis, keepdims=keepdims), min(x, axis=axis, keepdims=keepdims))


def percentile(x, q, axis=None, method="linear", keepdims=False):
    """The ``q``-th percentiles (0 to 100) over ``axis``."""
    q = np.asarray(unwrap(q), dtype=backend.floatx()) / np.asarray(100.0, backend.floatx())
    return quantile(x, q, axis=axis, method=method, keepdims=keepdims)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The integral of ``y`` along ``axis`` by the trapezoidal rule (sample points ``x``, or
    spacing ``dx``)."""
    dtype = dtypes.result_type(_dtype(y), float)
    y = cast(y, dtype) if _dtype_name(y) != dtype else y
    y = moveaxis(y, axis, -1)
    heights = multiply(
        add(
            get_item(y, (Ellipsis, builtins.slice(1, None))),
            get_item(y, (Ellipsis, builtins.slice(None, -1))),
        ),
        0.5,
    )
    if x is None:
        widths = np.asarray(dx, dtype=dtype)
    else:
        xs = cast(x, dtype)
        widths = diff(xs, axis=axis)
        if len(_shape(widths)) > 1:
            widths = moveaxis(widths, axis, -1)
    return sum(multiply(heights, widths), axis=-1)


def corrcoef(x):
    """Pearson correlation coefficients of the rows of ``x`` (clipped to [-1, 1]; a 1-D ``x``
    is one row)."""
    x = _as_float(x, int64_to="int64") if not _is_tracked(x) else x
    if len(_shape(x)) == 0:
        return np.asarray(np.nan, backend.floatx())
    if len(_shape(x)) == 1:
        return reshape(corrcoef(expand_dims(x, 0)), ())
    centered = subtract(x, mean(x, axis=-1, keepdims=True))
    n = _shape(x)[-1]
    cov = divide(matmul(centered, swapaxes(centered, -1, -2)), n - 1)
    std_ = sqrt(diagonal(cov, 0, -2, -1))
    corr = divide(cov, multiply(expand_dims(std_, -1), expand_dims(std_, -2)))
    return clip(corr, -1.0, 1.0)


def correlate(x1, x2, mode="valid"):
    """Cross-correlation of two 1-D sequences, ``c[k] = sum_n x1[n + k] x2[n]`` (``mode``
    ``"valid"``, ``"same"`` or ``"full"``, as ``np.correlate``)."""
    if mode not in ("valid", "same", "full"):
        raise ValueError(f"Invalid mode: '{mode}'. Mode must be one of: 'full', 'same', 'valid'.")
    dtype = dtypes.result_type(_dtype(x1), _dtype(x2))
    dtype = (
        "float64" if dtype in ("int64", "float64") else (dtype if dtype == "float16" else "float32")
    )
    a, b = cast(x1, dtype), cast(x2, dtype)
    n, m = _shape(a)[0], _shape(b)[0]
    if mode == "valid":
        if m > n:
            raise ValueError(
                f"In 'valid' mode the second sequence must not be longer than the first: {m} > {n}"
            )
        padded, out_len, start = a, n - m + 1, 0
    else:
        padded = pad(a, ((m - 1, m - 1),))
        full_len = n + m - 1
        out_len = full_len if mode == "full" else builtins.max(n, m)
        start = (full_len - out_len) // 2
    index = start + np.arange(out_len)[:, None] + np.arange(m)[None, :]
    return matmul(take(padded, index, axis=0), b)


def _nan_fill(x, value):
    name = _dtype_name(x)
    if not dtypes.is_float(name):
        return x
    return where(isnan(x), np.asarray(value, name), x)


def nansum(x, axis=None, keepdims=False):
    """:func:`sum` ignoring NaN."""
    return sum(_nan_fill(x, 0), axis=axis, keepdims=keepdims)


def nanprod(x, axis=None, keepdims=False):
    """:func:`prod` ignoring NaN."""
    return prod(_nan_fill(x, 1), axis=axis, keepdims=keepdims)


def nancumsum(x, axis=None, dtype=None):
    """:func:`cumsum` with NaN counted as 0."""
    return cumsum(nan_to_num(x), axis=axis, dtype=dtype)


def nancumprod(x, axis=None, dtype=None):
    """:func:`cumprod` with NaN counted as 1."""
    return cumprod(nan_to_num(x, nan=1.0), axis=axis, dtype=dtype)


def _all_nan(x, axis, keepdims):
    return np.all(
        np.isnan(to_array(x)),
        axis=axis if axis is None else _norm_axes(axis, len(_shape(x))),
        keepdims=keepdims,
    )


def nanmax(x, axis=None, keepdims=False):
    """:func:`max` ignoring NaN (NaN where every element is)."""
    name = _dtype_name(x)
    if not dtypes.is_float(name):
        return any(x, axis, keepdims) if name == "bool" else max(x, axis=axis, keepdims=keepdims)
    out = max(_nan_fill(x, -np.inf), axis=axis, keepdims=keepdims)
    return where(_all_nan(x, axis, keepdims), np.asarray(np.nan, name), out)


def nanmin(x, axis=None, keepdims=False):
    """:func:`min` ignoring NaN (NaN where every element is)."""
    name = _dtype_name(x)
    if not dtypes.is_float(name):
        return all(x, axis, keepdims) if name == "bool" else min(x, axis=axis, keepdims=keepdims)
    out = min(_nan_fill(x, np.inf), axis=axis, keepdims=keepdims)
    return where(_all_nan(x, axis, keepdims), np.asarray(np.nan, name), out)


def nanargmax(x, axis=None, keepdims=False):
    """:func:`argmax` ignoring NaN (-1 where every element is NaN)."""
    xv = to_array(x)
    if not dtypes.is_float(xv.dtype):
        return argmax(xv, axis=axis, keepdims=keepdims)
    out = argmax(np.where(np.isnan(xv), -np.inf, xv), axis=axis, keepdims=keepdims)
    return np.where(_all_nan(xv, axis, keepdims), -1, out).astype("int32")


def nanargmin(x, axis=None, keepdims=False):
    """:func:`argmin` ignoring NaN (-1 where every element is NaN)."""
    xv = to_array(x)
    if not dtypes.is_float(xv.dtype):
        return argmin(xv, axis=axis, keepdims=keepdims)
    out = argmin(np.where(np.isnan(xv), np.inf, xv), axis=axis, keepdims=keepdims)
    return np.where(_all_nan(xv, axis, keepdims), -1, out).astype("int32")


def nanmean(x, axis=None, keepdims=False):
    """:func:`mean` ignoring NaN."""
    if axis == () or axis == []:
        return x
    name = _dtype_name(x)
    if not dtypes.is_float(name):
        return mean(cast(x, "float32"), axis=axis, keepdims=keepdims)
    valid = logical_not(isnan(x))
    count = sum(cast(valid, name), axis=axis, keepdims=keepdims)
    return divide(nansum(x, axis=axis, keepdims=keepdims), count)


def nanvar(x, axis=None, keepdims=False):
    """:func:`var` ignoring NaN."""
    dtype = dtypes.result_type(_dtype(x), float)
    x = cast(x, dtype) if _dtype_name(x) != dtype else x
    m = nanmean(x, axis=axis, keepdims=True)
    valid = logical_not(isnan(x))
    centered = where(valid, subtract(x, m), 0.0)
    count = sum(cast(valid, dtype), axis=axis, keepdims=keepdims)
    return divide(sum(square(centered), axis=axis, keepdims=keepdims), count)


def nanstd(x, axis=None, keepdims=False):
    """:func:`std` ignoring NaN."""
    return sqrt(nanvar(x, axis=axis, keepdims=keepdims))


def nanquantile(x, q, axis=None, method="linear", keepdims=False):
    """:func:`quantile` ignoring NaN (NaN where every element is)."""
    return _quantile(x, q, axis, method, keepdims, ignore_nan=True)


def nanmedian(x, axis=None, keepdims=False):
    """:func:`median` ignoring NaN."""
    if axis == () or axis == []:
        return x
    return nanquantile(x, 0.5, axis=axis, keepdims=keepdims)


def nanpercentile(x, q, axis=None, method="linear", keepdims=False):
    """:func:`percentile` ignoring NaN."""
    q = np.asarray(unwrap(q), dtype=backend.floatx()) / np.asarray(100.0, backend.floatx())
    return nanquantile(x, q, axis=axis, method=method, keepdims=keepdims)


# --------------------------------------------------------------------------- linear algebra


def slogdet(x):
    """The sign and the log of the absolute value of the determinant."""
    from numpykeras.ops.linalg import _slogdet

    return _slogdet(x)


# --------------------------------------------------------------------------- vectorize


def vectorize(pyfunc, *, excluded=None, signature=None):
    """``pyfunc`` mapped over the leading (broadcast) dimensions of its arguments, as
    ``np.vectorize``: each call gets scalars, or the core dimensions of ``signature``
    (``"(n),(n)->()"``). Runs ``pyfunc`` once per element, with ops, so it is differentiable."""
    excluded = set(excluded or ())
    core_in, core_out = _parse_signature(signature) if signature else (None, None)

    @functools.wraps(pyfunc)
    def wrapped(*args, **kwargs):
        fixed = {i: a for i, a in enumerate(args) if i in excluded or a is None}
        mapped = [i for i in range(len(args)) if i not in fixed]
        kw_fixed = {k: v for k, v in kwargs.items() if k in excluded}
        kw_mapped = {k: v for k, v in kwargs.items() if k not in excluded}
        if kw_mapped:
            raise ValueError(
                "Only positional arguments can be vectorized; pass the others as `excluded`."
            )
        cores = core_in if core_in is not None else [()] * len(mapped)
        if len(cores) != len(mapped):
            raise TypeError(
                f"wrong number of positional arguments: expected {len(cores)}, got {len(mapped)}"
            )
        values = [args[i] if _is_tracked(args[i]) else to_array(args[i]) for i in mapped]
        loops = [_shape(v)[: len(_shape(v)) - len(c)] for v, c in zip(values, cores)]
        batch = np.broadcast_shapes(*loops) if loops else ()
        values = [broadcast_to(v, batch + _shape(v)[len(lp) :]) for v, lp in zip(values, loops)]
        flat = [reshape(v, (-1,) + _shape(v)[len(batch) :]) for v in values]
        n = int(np.prod(batch, dtype=np.int64))

        def call(j):
            full = dict(fixed)
            for i, v in zip(mapped, flat):
                full[i] = get_item(v, j)
            return pyfunc(*[full[i] for i in range(len(args))], **kw_fixed)

        outs = [call(j) for j in range(n)]
        if outs and isinstance(outs[0], tuple):
            return tuple(
                reshape(stack([o[k] for o in outs]), batch + _shape(outs[0][k]))
                for k in range(len(outs[0]))
            )
        if not outs:
            return zeros(batch)
        return reshape(stack(outs), batch + _shape(outs[0]))

    return wrapped


def _parse_signature(signature):
    import re

    arg = r"\(\w*(?:,\w+)*\)"
    match = re.fullmatch(rf"({arg}(?:,{arg})*)->({arg}(?:,{arg})*)", signature.replace(" ", ""))
    if not match:
        raise ValueError(f"not a valid gufunc signature: {signature}")

    def dims(part):
        return [tuple(d for d in group.split(",") if d) for group in re.findall(r"\((.*?)\)", part)]

    return dims(match.group(1)), dims(match.group(2))


__all__ = [
    "abs",
    "absolute",
    "add",
    "all",
    "allclose",
    "amax",
    "amin",
    "angle",
    "any",
    "append",
    "arange",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "argmax",
    "argmin",
    "argpartition",
    "argsort",
    "array",
    "array_split",
    "average",
    "bartlett",
    "bincount",
    "bitwise_and",
    "bitwise_invert",
    "bitwise_left_shift",
    "bitwise_not",
    "bitwise_or",
    "bitwise_right_shift",
    "bitwise_xor",
    "blackman",
    "broadcast_to",
    "cast",
    "cbrt",
    "ceil",
    "clip",
    "concatenate",
    "conj",
    "conjugate",
    "copy",
    "corrcoef",
    "correlate",
    "cos",
    "cosh",
    "count_nonzero",
    "cross",
    "cumprod",
    "cumsum",
    "deg2rad",
    "diag",
    "diagflat",
    "diagonal",
    "diff",
    "digitize",
    "divide",
    "divide_no_nan",
    "dot",
    "dsplit",
    "dstack",
    "dtype",
    "einsum",
    "empty",
    "empty_like",
    "equal",
    "erf",
    "exp",
    "exp2",
    "expand_dims",
    "expm1",
    "eye",
    "fabs",
    "flip",
    "fliplr",
    "flipud",
    "floor",
    "floor_divide",
    "fmax",
    "fmin",
    "fmod",
    "full",
    "full_like",
    "gcd",
    "geomspace",
    "get_item",
    "greater",
    "greater_equal",
    "hamming",
    "hanning",
    "heaviside",
    "histogram",
    "hsplit",
    "hstack",
    "hypot",
    "i0",
    "identity",
    "imag",
    "inner",
    "isclose",
    "isfinite",
    "isin",
    "isinf",
    "isnan",
    "isneginf",
    "isposinf",
    "isreal",
    "kaiser",
    "kron",
    "lcm",
    "ldexp",
    "left_shift",
    "less",
    "less_equal",
    "linspace",
    "log",
    "log10",
    "log1p",
    "log2",
    "logaddexp",
    "logaddexp2",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "logspace",
    "matmul",
    "max",
    "maximum",
    "mean",
    "median",
    "meshgrid",
    "min",
    "minimum",
    "mod",
    "moveaxis",
    "multiply",
    "nan_to_num",
    "nanargmax",
    "nanargmin",
    "nancumprod",
    "nancumsum",
    "nanmax",
    "nanmean",
    "nanmedian",
    "nanmin",
    "nanpercentile",
    "nanprod",
    "nanquantile",
    "nanstd",
    "nansum",
    "nanvar",
    "ndim",
    "negative",
    "nextafter",
    "nonzero",
    "not_equal",
    "ones",
    "ones_like",
    "outer",
    "pad",
    "percentile",
    "power",
    "prod",
    "ptp",
    "quantile",
    "rad2deg",
    "ravel",
    "real",
    "reciprocal",
    "repeat",
    "reshape",
    "right_shift",
    "roll",
    "rot90",
    "round",
    "rsqrt",
    "searchsorted",
    "select",
    "sign",
    "signbit",
    "sin",
    "sinc",
    "sinh",
    "size",
    "slogdet",
    "sort",
    "split",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "std",
    "subtract",
    "sum",
    "swapaxes",
    "take",
    "take_along_axis",
    "tan",
    "tanh",
    "tensordot",
    "tile",
    "trace",
    "transpose",
    "trapezoid",
    "tri",
    "tril",
    "triu",
    "true_divide",
    "trunc",
    "unique",
    "unravel_index",
    "unstack",
    "vander",
    "var",
    "vdot",
    "vectorize",
    "view",
    "vsplit",
    "vstack",
    "where",
    "zeros",
    "zeros_like",
]
