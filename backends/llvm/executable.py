"""Calling a compiled graph: arguments in, owned NumPy arrays out.

The generated C entry (fastcall.py) takes the call when the arguments are
tensors and scalars of exactly the compiled types. Otherwise (lists, tuples,
None, or no C entry) arguments are flattened into an int64 buffer
(layout.py), the native entry runs through ctypes with the GIL released
(ctypes drops it for CFUNCTYPE calls), and results come back as arrays
whose malloc'd memory is freed when they die.
"""
from __future__ import annotations

import builtins
import ctypes
import struct
from typing import Sequence

import numpy as np

from ...ir.ops.prim import written_parameters
from ...ir.types import BOOL, FLOAT, INT, NONE, ListType, TensorType, TupleType, Type
from .capi import NativeCallError, builtin_function
from .layout import slot_count
from .runtime import CONTEXT_SLOTS, ERROR_ARG_OFFSET, ERROR_ARGS

_libc = ctypes.CDLL(None)
_free = _libc.free
_free.argtypes = [ctypes.c_void_p]
_ENTRY_TYPE = ctypes.CFUNCTYPE(ctypes.c_int32, *[ctypes.c_void_p] * 4)
_INT64_RANGE = (-2 ** 63, 2 ** 63)


class _MallocBuffer:
    """Owns a malloc'd array; NumPy keeps it as the array's base."""

    __slots__ = ("__array_interface__",)

    def __init__(self, address: int, shape: tuple, dtype: np.dtype):
        self.__array_interface__ = {"data": (address, False), "shape": shape, "typestr": dtype.str,
                                    "version": 3}

    def __del__(self):
        _free(self.__array_interface__["data"][0])


class NativeExecutable:
    """A compiled specialisation; callable like the backend contract says."""

    def __init__(self, compiled, graph, constants: Sequence[np.ndarray], errors, entries: list[str]):
        self._compiled = compiled
        self._entry = _ENTRY_TYPE(compiled.addresses[entries[0]])
        self._param_types = [p.type for p in graph.params]
        self._result_types = [v.type for v in graph.returns]
        self._param_names = [p.name for p in graph.params]
        self._written = written_parameters(graph)
        self._arg_slots = sum(slot_count(t) for t in self._param_types)
        self._result_slots = sum(slot_count(t) for t in self._result_types)
        self._constants = list(constants)  # kept alive: native code reads them
        self._constant_pointers = np.array([c.ctypes.data for c in constants] or [0], dtype=np.int64)
        self._errors = list(errors)
        self.fast = None
        if len(entries) > 1:
            self.fast, self._method_definition = builtin_function(graph.name, compiled.addresses[entries[1]],
                                                                  self._constant_pointers)

    @property
    def llvm_ir(self) -> str:
        return self._compiled.llvm_ir

    @property
    def asm(self) -> str:
        return self._compiled.asm

    def __call__(self, *args) -> tuple:
        if self.fast is not None:
            try:
                results = self.fast(*args)
            except NativeCallError as error:
                raise self.error(*error.args) from None
            if results is not NotImplemented:
                return results
        if len(args) != len(self._param_types):
            raise TypeError(f"expected {len(self._param_types)} arguments, got {len(args)}")
        slots, keep_alive = [], []
        for index, (value, type, name) in enumerate(zip(args, self._param_types, self._param_names)):
            if index in self._written:
                _check_writable(value, name)
            _pack(value, type, name, slots, keep_alive)
        arguments = np.array(slots or [0], dtype=np.int64)
        context = np.zeros(CONTEXT_SLOTS, dtype=np.int64)
        results = np.zeros(max(self._result_slots, 1), dtype=np.int64)
        code = self._entry(context.ctypes.data, arguments.ctypes.data, results.ctypes.data,
                           self._constant_pointers.ctypes.data)
        if code:
            raise self._error(code, context)
        values = iter(results[:self._result_slots].tolist())
        return tuple(_unpack(values, type) for type in self._result_types)

    def _error(self, code: int, context: np.ndarray) -> Exception:
        return self.error(code, *context[ERROR_ARG_OFFSET:ERROR_ARG_OFFSET + ERROR_ARGS].tolist())

    def error(self, code: int, *args) -> Exception:
        """The Python exception for error `code` of this module (see emitter.ErrorTable)."""
        exception, message = self._errors[code - 1]
        return getattr(builtins, exception)(message.format(*args))


def _check_writable(value, name: str) -> None:
    """An argument the function writes into must be an array it can write
    into in place (NumPy raises the same ValueError for a read-only one)."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"argument '{name}': the function writes into it, so it must be a NumPy array, "
                        f"not {type(value).__name__}")
    if not value.flags.writeable:
        raise ValueError(f"assignment destination is read-only (argument '{name}', which the function writes into)")
    if any(s % value.itemsize for s in value.strides):
        raise ValueError(f"argument '{name}': the function writes into it, and compiled code cannot write into "
                         f"an array whose strides are not multiples of its item size")


def _pack(value, type: Type, name: str, slots: list, keep_alive: list) -> None:
    if isinstance(type, TensorType):
        array = np.asarray(value)
        if array.dtype != type.dtype.numpy or array.ndim != len(type.shape):
            raise TypeError(f"argument '{name}' must be {type}, got {array.dtype} array of rank {array.ndim}")
        if any(s % array.itemsize for s in array.strides):
            array = np.ascontiguousarray(array)
        keep_alive.append(array)
        slots.append(array.ctypes.data)
        slots.extend(array.shape)
        slots.extend(s // array.itemsize for s in array.strides)
    elif type == INT or type == BOOL:
        integer = int(value)
        if not _INT64_RANGE[0] <= integer < _INT64_RANGE[1]:
            raise OverflowError(f"argument '{name}' = {integer} does not fit the 64 bits compiled code uses")
        slots.append(integer)
    elif type == FLOAT:
        slots.append(struct.unpack("<q", struct.pack("<d", float(value)))[0])
    elif type == NONE:
        pass
    elif isinstance(type, TupleType):
        for element, element_type in zip(value, type.elements):
            _pack(element, element_type, name, slots, keep_alive)
    elif isinstance(type, ListType):
        record = [len(value)]
        for element in value:
            _pack(element, type.element, name, record, keep_alive)
        buffer = np.array(record, dtype=np.int64)
        keep_alive.append(buffer)
        slots.append(buffer.ctypes.data)
    else:
        raise TypeError(f"argument '{name}': values of type {type} cannot be passed to compiled code")


def _unpack(values, type: Type):
    if isinstance(type, TensorType):
        address = next(values)
        shape = tuple(next(values) for _ in type.shape)
        for _ in type.shape:
            next(values)  # strides: results are C-contiguous
        return np.asarray(_MallocBuffer(address, shape, type.dtype.numpy))
    if type == INT:
        return next(values)
    if type == FLOAT:
        return struct.unpack("<d", struct.pack("<q", next(values)))[0]
    if type == BOOL:
        return bool(next(values))
    if type == NONE:
        return None
    if isinstance(type, TupleType):
        return tuple(_unpack(values, t) for t in type.elements)
    if isinstance(type, ListType):
        address = next(values)
        length = ctypes.c_int64.from_address(address).value
        count = length * slot_count(type.element)
        record = iter((ctypes.c_int64 * count).from_address(address + 8)[:] if count else [])
        elements = [_unpack(record, type.element) for _ in range(length)]
        _free(address)
        return elements
    raise TypeError(f"results of type {type} are not supported")
