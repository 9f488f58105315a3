"""The native call path: a METH_FASTCALL C function per compiled version
that checks and unpacks its arguments, runs the graph with the GIL
released, and builds the results, all without Python code.

    PyObject *fast(PyObject *constant_pointers, PyObject *const *args, Py_ssize_t nargs)

It returns NotImplemented (running nothing) when the arguments are not
exactly what this version was compiled for (another dtype, rank, size-1
pattern, a subclass, an unaligned or byte-swapped array, a keyword call...):
the Python dispatcher then takes over and does the full, slower job. It
returns a tuple with one object per graph result; arrays own their malloc'd
memory through a PyCapsule base. A failure inside the graph raises
`NativeCallError(code, *args)`, which the executable turns into the Python
exception the code stands for.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir

from ...ir.types import BOOL, FLOAT, INT, DType, TensorType, Type
from . import capi
from .emitter import const
from .layout import F64, I1, I8, I8P, I32, I64, I64P, VOID
from .runtime import CONTEXT_SLOTS, ERROR_ARG_OFFSET, ERROR_ARGS, declare

_OBJECT = I8P


def supports(types: list[Type]) -> bool:
    """Tensors, ints, floats and bools only (lists, tuples and None take the ctypes path)."""
    return all(isinstance(t, TensorType) or t in (INT, FLOAT, BOOL) for t in types)


def _type_numbers(dtype: DType) -> tuple[int, ...]:
    if dtype == DType.INT64:
        return tuple({np.dtype(np.int64).num, np.dtype(np.longlong).num})
    if dtype == DType.UINT64:
        return tuple({np.dtype(np.uint64).num, np.dtype(np.ulonglong).num})
    return (dtype.numpy.num,)


class _Emitter:
    def __init__(self, module: ir.Module, name: str):
        self.module = module
        self.function = ir.Function(module, ir.FunctionType(_OBJECT, [_OBJECT, _OBJECT.as_pointer(), I64]), name)
        self.builder = ir.IRBuilder(self.function.append_basic_block("entry"))
        self.decline_block = self.function.append_basic_block("decline")

    def object(self, name: str) -> ir.Value:
        existing = self.module.globals.get(name)
        if existing is None:
            existing = ir.GlobalVariable(self.module, I8, name)
            existing.linkage = "external"
        return self.builder.bitcast(existing, _OBJECT)

    def call(self, name: str, result, args, values) -> ir.Value:
        return self.builder.call(declare(self.module, name, result, args), values)

    def field(self, pointer, offset: int, type: ir.Type) -> ir.Value:
        address = self.builder.gep(pointer, [const(offset)])
        return self.builder.load(self.builder.bitcast(address, type.as_pointer()))

    def require(self, condition) -> None:
        """Go on only if `condition` holds; otherwise decline the call."""
        ok = self.function.append_basic_block("ok")
        self.builder.cbranch(condition, ok, self.decline_block)
        self.builder.position_at_end(ok)


def emit_fast_entry(module: ir.Module, name: str, entry: ir.Function, param_types: list[Type],
                    result_types: list[Type], arg_slots: int, result_slots: int,
                    written: frozenset[int] = frozenset()) -> None:
    """`self` is the int64 array of the graph's constant pointers, so one
    compiled entry serves every executable that shares its code. Arrays
    the graph writes into (`written` parameters) must be writeable, or the
    call is declined (the slow path says why)."""
    e = _Emitter(module, name)
    b = e.builder
    constant_pointers, args, nargs = e.function.args
    e.require(b.icmp_signed("==", nargs, const(len(param_types))))
    context = b.alloca(I64, size=CONTEXT_SLOTS)
    for slot in range(CONTEXT_SLOTS):
        b.store(const(0), b.gep(context, [const(slot)]))
    slots = b.alloca(I64, size=max(arg_slots, 1))
    results = b.alloca(I64, size=max(result_slots, 1))
    position = 0
    for index, type in enumerate(param_types):
        argument = b.load(b.gep(args, [const(index)]))
        for value in _unpack_argument(e, argument, type, index in written):
            b.store(value, b.gep(slots, [const(position)]))
            position += 1
    state = e.call("PyEval_SaveThread", I8P, [], [])
    constants = b.bitcast(e.field(constant_pointers, capi.ARRAY_DATA, _OBJECT), I64P)
    code = b.call(entry, [context, slots, results, constants])
    e.call("PyEval_RestoreThread", VOID, [I8P], [state])
    failed = e.function.append_basic_block("failed")
    succeeded = e.function.append_basic_block("succeeded")
    b.cbranch(b.icmp_signed("!=", code, ir.Constant(I32, 0)), failed, succeeded)

    b.position_at_end(failed)
    error = e.call("PyTuple_New", _OBJECT, [I64], [const(1 + ERROR_ARGS)])
    values = [b.sext(code, I64)] + [b.load(b.gep(context, [const(ERROR_ARG_OFFSET + i)])) for i in range(ERROR_ARGS)]
    for i, value in enumerate(values):
        item = e.call("PyLong_FromLongLong", _OBJECT, [I64], [value])
        e.call("PyTuple_SetItem", I32, [_OBJECT, I64, _OBJECT], [error, const(i), item])
    e.call("PyErr_SetObject", VOID, [_OBJECT, _OBJECT], [e.object("jitc_NativeCallError"), error])
    e.call("Py_DecRef", VOID, [_OBJECT], [error])
    b.ret(ir.Constant(_OBJECT, None))

    b.position_at_end(succeeded)
    output = e.call("PyTuple_New", _OBJECT, [I64], [const(len(result_types))])
    position = 0
    for index, type in enumerate(result_types):
        count = 1 + 2 * len(type.shape) if isinstance(type, TensorType) else 1
        flat = [b.load(b.gep(results, [const(position + i)])) for i in range(count)]
        position += count
        item = _result_object(e, flat, type)
        e.call("PyTuple_SetItem", I32, [_OBJECT, I64, _OBJECT], [output, const(index), item])
    b.ret(output)

    b.position_at_end(e.decline_block)
    not_implemented = e.object("jitc_Py_NotImplemented")
    e.call("Py_IncRef", VOID, [_OBJECT], [not_implemented])
    b.ret(not_implemented)


def _unpack_argument(e: _Emitter, argument, type: Type, written: bool = False) -> list:
    b = e.builder
    kind = e.field(argument, capi.OB_TYPE, _OBJECT)
    if type == FLOAT:
        e.require(b.icmp_unsigned("==", kind, e.object("jitc_PyFloat_Type")))
        return [b.bitcast(e.field(argument, capi.FLOAT_VALUE, F64), I64)]
    if type == BOOL:
        is_true = b.icmp_unsigned("==", argument, e.object("jitc_Py_True"))
        e.require(b.or_(is_true, b.icmp_unsigned("==", argument, e.object("jitc_Py_False"))))
        return [b.zext(is_true, I64)]
    if type == INT:
        e.require(b.icmp_unsigned("==", kind, e.object("jitc_PyLong_Type")))
        value = e.call("PyLong_AsLongLong", I64, [_OBJECT], [argument])
        overflow = b.and_(b.icmp_signed("==", value, const(-1)),
                          b.icmp_unsigned("!=", e.call("PyErr_Occurred", _OBJECT, [], []),
                                          ir.Constant(_OBJECT, None)))
        with b.if_then(overflow, likely=False):
            e.call("PyErr_Clear", VOID, [], [])
            b.branch(e.decline_block)
        return [value]
    e.require(b.icmp_unsigned("==", kind, e.object("jitc_PyArray_Type")))
    descr = e.field(argument, capi.ARRAY_DESCR, _OBJECT)
    number = e.field(descr, capi.DESCR_TYPE_NUM, I32)
    matches = ir.Constant(I1, 0)
    for expected in _type_numbers(type.dtype):
        matches = b.or_(matches, b.icmp_signed("==", number, ir.Constant(I32, expected)))
    e.require(b.and_(matches, b.icmp_unsigned("!=", e.field(descr, capi.DESCR_BYTEORDER, I8), ir.Constant(I8, ord(">")))))
    e.require(b.icmp_signed("==", e.field(argument, capi.ARRAY_ND, I32), ir.Constant(I32, len(type.shape))))
    flags = e.field(argument, capi.ARRAY_FLAGS, I32)
    required = capi.NPY_ARRAY_ALIGNED | (capi.NPY_ARRAY_WRITEABLE if written else 0)
    e.require(b.icmp_unsigned("==", b.and_(flags, ir.Constant(I32, required)), ir.Constant(I32, required)))
    dims = b.bitcast(e.field(argument, capi.ARRAY_DIMS, _OBJECT), I64P)
    strides = b.bitcast(e.field(argument, capi.ARRAY_STRIDES, _OBJECT), I64P)
    sizes, steps = [], []
    for axis, dim in enumerate(type.shape):
        size = b.load(b.gep(dims, [const(axis)]))
        if dim == 1 or isinstance(dim, int):
            e.require(b.icmp_signed("==", size, const(dim)))
        else:  # '*' in a specialised signature: any size but 1
            e.require(b.icmp_signed("!=", size, const(1)))
        sizes.append(size)
        steps.append(b.sdiv(b.load(b.gep(strides, [const(axis)])), const(type.dtype.itemsize)))
    return [b.ptrtoint(e.field(argument, capi.ARRAY_DATA, _OBJECT), I64), *sizes, *steps]


def _capsule_destructor(e: _Emitter) -> ir.Function:
    existing = e.module.globals.get("jitc_capsule_free")
    if existing is not None:
        return existing
    function = ir.Function(e.module, ir.FunctionType(VOID, [_OBJECT]), "jitc_capsule_free")
    function.linkage = "internal"
    b = ir.IRBuilder(function.append_basic_block("entry"))
    pointer = b.call(declare(e.module, "PyCapsule_GetPointer", I8P, [_OBJECT, I8P]),
                     [function.args[0], ir.Constant(I8P, None)])
    b.call(declare(e.module, "jitc_free", VOID, [I8P]), [pointer])
    b.ret_void()
    return function


def _result_object(e: _Emitter, flat: list, type: Type) -> ir.Value:
    b = e.builder
    if type == INT:
        return e.call("PyLong_FromLongLong", _OBJECT, [I64], [flat[0]])
    if type == FLOAT:
        return e.call("PyFloat_FromDouble", _OBJECT, [F64], [b.bitcast(flat[0], F64)])
    if type == BOOL:
        return e.call("PyBool_FromLong", _OBJECT, [I64], [flat[0]])
    rank = len(type.shape)
    dims = b.alloca(I64, size=max(rank, 1))
    for axis in range(rank):
        b.store(flat[1 + axis], b.gep(dims, [const(axis)]))
    data = b.inttoptr(flat[0], I8P)
    array = e.call("PyArray_New", _OBJECT, [_OBJECT, I32, I64P, I32, I64P, I8P, I32, I32, _OBJECT],
                   [e.object("jitc_PyArray_Type"), ir.Constant(I32, rank), dims,
                    ir.Constant(I32, type.dtype.numpy.num), ir.Constant(I64P, None), data, ir.Constant(I32, 0),
                    ir.Constant(I32, capi.NPY_ARRAY_CARRAY), ir.Constant(_OBJECT, None)])
    capsule = e.call("PyCapsule_New", _OBJECT, [I8P, I8P, _capsule_destructor(e).type],
                     [data, ir.Constant(I8P, None), _capsule_destructor(e)])
    e.call("PyArray_SetBaseObject", I32, [_OBJECT, _OBJECT], [array, capsule])
    return e.call("PyArray_Return", _OBJECT, [_OBJECT], [array])
