"""The CPython and NumPy C APIs, as symbols the JIT resolves: what the
native call path (fastcall.py) needs to read arguments and build results
without Python code in between.

CPython functions are looked up in the running interpreter, type objects by
their addresses (`id(float)` is `&PyFloat_Type` in CPython), NumPy's
functions in its `_ARRAY_API` table at the indices its own header names.
"""
from __future__ import annotations

import ctypes
import functools
import os
import re
import sys

import numpy as np

from .. import NativeCallError
from . import symbols

PYTHON_FUNCTIONS = ("PyLong_FromLongLong", "PyFloat_FromDouble", "PyBool_FromLong", "PyLong_AsLongLong",
                    "PyErr_Occurred", "PyErr_Clear", "PyTuple_New", "PyTuple_SetItem", "PyCapsule_New",
                    "PyCapsule_GetPointer", "PyEval_SaveThread", "PyEval_RestoreThread", "PyErr_SetObject",
                    "Py_IncRef", "Py_DecRef")
PYTHON_OBJECTS = {"jitc_PyLong_Type": int, "jitc_PyFloat_Type": float, "jitc_Py_True": True,
                  "jitc_Py_False": False, "jitc_Py_NotImplemented": NotImplemented, "jitc_PyArray_Type": np.ndarray}
NUMPY_FUNCTIONS = ("PyArray_New", "PyArray_SetBaseObject", "PyArray_Return")

# struct offsets on 64-bit CPython / NumPy 2 (checked by `available()` against live objects)
OB_TYPE = 8
FLOAT_VALUE = 16
ARRAY_DATA, ARRAY_ND, ARRAY_DIMS, ARRAY_STRIDES, ARRAY_DESCR, ARRAY_FLAGS = 16, 24, 32, 40, 56, 64
DESCR_BYTEORDER, DESCR_TYPE_NUM = 26, 28
NPY_ARRAY_ALIGNED = 0x0100
NPY_ARRAY_WRITEABLE = 0x0400
NPY_ARRAY_CARRAY = 0x0001 | 0x0100 | 0x0400  # C-contiguous, aligned, writeable


def _api_indices() -> dict[str, int]:
    header = os.path.join(np.get_include(), "numpy", "__multiarray_api.h")
    with open(header) as file:
        text = file.read()
    indices = {}
    for name in NUMPY_FUNCTIONS:
        match = re.search(r"#define %s\b[^#]*?PyArray_API\[(\d+)\]" % name, text)
        if match is None:
            raise LookupError(name)
        indices[name] = int(match.group(1))
    return indices


def _layout_matches() -> bool:
    array = np.zeros((2, 3), dtype=np.float32)[:, ::2]
    read = lambda address, type: type.from_address(address).value  # noqa: E731
    descr = id(array.dtype)
    return (read(id(array) + ARRAY_ND, ctypes.c_int) == 2
            and read(id(array) + ARRAY_DATA, ctypes.c_void_p) == array.ctypes.data
            and read(read(id(array) + ARRAY_DIMS, ctypes.c_void_p) + 8, ctypes.c_int64) == 2
            and read(read(id(array) + ARRAY_STRIDES, ctypes.c_void_p) + 8, ctypes.c_int64) == 8
            and read(id(array) + ARRAY_DESCR, ctypes.c_void_p) == descr
            and read(descr + DESCR_TYPE_NUM, ctypes.c_int) == array.dtype.num
            and read(id(array) + OB_TYPE, ctypes.c_void_p) == id(np.ndarray)
            and read(id(1.5) + FLOAT_VALUE, ctypes.c_double) == 1.5)


@functools.cache
def available() -> bool:
    """Register every symbol; False (and the slower ctypes path) where the
    interpreter or NumPy is not the layout this was written against."""
    if sys.implementation.name != "cpython" or ctypes.sizeof(ctypes.c_void_p) != 8 or os.environ.get(
            "JITC_DISABLE_FASTCALL"):
        return False
    try:
        indices = _api_indices()
        if not _layout_matches():
            return False
    except (OSError, LookupError, ValueError):
        return False
    for name in PYTHON_FUNCTIONS:
        symbols.define(name, ctypes.cast(getattr(ctypes.pythonapi, name), ctypes.c_void_p).value)
    for name, value in PYTHON_OBJECTS.items():
        symbols.define(name, id(value))
    symbols.define("jitc_NativeCallError", id(NativeCallError))
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    from numpy._core import _multiarray_umath
    table = get_pointer(_multiarray_umath._ARRAY_API, None)
    for name, index in indices.items():
        symbols.define(name, ctypes.c_void_p.from_address(table + 8 * index).value)
    symbols.define("jitc_free", ctypes.cast(ctypes.CDLL(None).free, ctypes.c_void_p).value)
    return True


class _MethodDef(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("method", ctypes.c_void_p), ("flags", ctypes.c_int),
                ("doc", ctypes.c_char_p)]


METH_FASTCALL = 0x0080
_new_function = ctypes.pythonapi.PyCFunction_NewEx
_new_function.restype = ctypes.py_object
_new_function.argtypes = [ctypes.c_void_p, ctypes.py_object, ctypes.py_object]


def builtin_function(name: str, address: int, bound):
    """A Python builtin calling the METH_FASTCALL C function at `address`
    with `bound` as its self; returns (function, what must stay alive with it)."""
    definition = _MethodDef(name.encode(), address, METH_FASTCALL, None)
    return _new_function(ctypes.addressof(definition), bound, None), definition
