"""``keras.ops.numpy``: the NumPy-like ops, each a primitive with its VJP beside it, or a
composition of primitives (and then differentiable for free).

Every function takes NumPy arrays, Python scalars, ``Variable``s or recorded ``Tensor``s; it returns
an ``np.ndarray`` (a ``Tensor`` while a tape records it). Dtypes follow Keras's promotion
(``numpykeras.ops.dtypes.result_type``): Python scalars are weak, ints meeting floats give floats,
and float functions of ints give floatx.
"""

from __future__ import annotations

import builtins
import math
import string

import numpy as np

from numpykeras import backend
from numpykeras.ops import dtypes
from numpykeras.ops.autodiff import Tensor, primitive, unwrap

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
    if isinstance(x, (bool, int, float, complex)):
        return dtypes.dtype_of(x)
    return to_array(x).dtype.name


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
_erf64 = np.frompyfunc(math.erf, 1, 1)


@primitive
def erf(x):
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t**2) dt`` (exact ``math.erf``
    per element, in Python: slow on large arrays)."""
    x = _float_input(x)
    return np.asarray(_erf64(x.astype(np.float64)), dtype=np.float64).astype(x.dtype)


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
    return np.asarray(np.einsum(",".join(ins) + "->" + out, *arrays, optimize=len(arrays) > 2))


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


@primitive
def pad(x, pad_width, mode="constant", constant_values=None):
    """``x`` padded by ``pad_width`` (``((before, after), ...)``)."""
    kwargs = {} if constant_values is None else {"constant_values": constant_values}
    if mode not in (
        "constant",
        "reflect",
        "symmetric",
        "edge",
        "wrap",
        "maximum",
        "minimum",
        "mean",
        "median",
    ):
        raise ValueError(f"Unsupported padding mode: {mode}")
    if mode != "constant" and constant_values is not None:
        raise ValueError(
            "Argument `constant_values` can only be provided when `mode == 'constant'`."
        )
    return np.pad(to_array(x), pad_width, mode=mode, **kwargs)


def _pad_vjp(g, ans, x, pad_width, mode="constant", constant_values=None):
    if mode != "constant":
        raise NotImplementedError(f"pad: no gradient for mode={mode!r}")
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (len(_shape(x)), 2))
    key = tuple(builtins.slice(b, b + n) for (b, _), n in zip(widths, _shape(x)))
    return (get_item(g, key), None, None, None)


pad.defvjp(_pad_vjp)


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
amax = max
amin = min


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
    x = _float_input(x) if not _is_tracked(x) else x
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
    """The ``q``-th quantiles over ``axis`` (``method="linear"``), as ``np.quantile``."""
    if method != "linear":
        raise ValueError(f"Only method='linear' is supported. Received: method={method!r}")
    x = _float_input(x) if not _is_tracked(x) else x
    shape = _shape(x)
    axes = _norm_axes(axis, len(shape))
    rest = [i for i in range(len(shape)) if i not in axes]
    flat = reshape(transpose(x, rest + list(axes)), tuple(shape[i] for i in rest) + (-1,))
    s = sort(flat, axis=-1)
    n = _shape(s)[-1]
    qs = np.asarray(unwrap(q), dtype=np.float64)
    pos = qs * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = (pos - lo).astype(_dtype_name(s))
    out = take(s, lo, axis=-1) * (1.0 - frac) + take(s, hi, axis=-1) * frac  # (..., *q.shape)
    out = moveaxis(out, tuple(range(len(rest), len(rest) + qs.ndim)), tuple(range(qs.ndim)))
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


__all__ = [
    "abs",
    "absolute",
    "add",
    "all",
    "allclose",
    "amax",
    "amin",
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
    "argsort",
    "array_split",
    "average",
    "broadcast_to",
    "cast",
    "cbrt",
    "ceil",
    "clip",
    "concatenate",
    "conj",
    "conjugate",
    "copy",
    "cos",
    "cosh",
    "count_nonzero",
    "cumprod",
    "cumsum",
    "diag",
    "diagonal",
    "diff",
    "divide",
    "dot",
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
    "floor",
    "floor_divide",
    "full",
    "full_like",
    "get_item",
    "greater",
    "greater_equal",
    "hstack",
    "hypot",
    "identity",
    "imag",
    "inner",
    "isclose",
    "isfinite",
    "isinf",
    "isnan",
    "less",
    "less_equal",
    "linspace",
    "log",
    "log10",
    "log1p",
    "log2",
    "logaddexp",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
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
    "ndim",
    "negative",
    "nonzero",
    "not_equal",
    "ones",
    "ones_like",
    "outer",
    "pad",
    "power",
    "prod",
    "quantile",
    "ravel",
    "real",
    "reciprocal",
    "repeat",
    "reshape",
    "roll",
    "round",
    "rsqrt",
    "sign",
    "sin",
    "sinh",
    "size",
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
    "tri",
    "tril",
    "triu",
    "true_divide",
    "trunc",
    "unstack",
    "var",
    "vdot",
    "vstack",
    "where",
    "zeros",
    "zeros_like",
]
