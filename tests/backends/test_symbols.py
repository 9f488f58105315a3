"""backends/llvm/symbols.py: the addresses generated code calls by name."""
from __future__ import annotations

import ctypes

from jitc.backends.llvm import symbols


def test_process_functions_are_defined_under_a_prefix():
    assert symbols.define_from_process(["malloc", "free"], prefix="jitc_test_")
    libc = ctypes.CDLL(None)
    assert symbols.address("jitc_test_malloc") == ctypes.cast(libc.malloc, ctypes.c_void_p).value
    assert symbols.address("jitc_test_free") == ctypes.cast(libc.free, ctypes.c_void_p).value


def test_a_missing_function_defines_none():
    assert not symbols.define_from_process(["calloc", "jitc_no_such_function"], prefix="jitc_test_missing_")
    assert symbols.address("jitc_test_missing_calloc") is None


def test_defined_symbols_come_before_the_process():
    symbols.define("jitc_test_defined", 1234)
    assert symbols.address("jitc_test_defined") == 1234
    assert symbols.address("malloc") == ctypes.cast(ctypes.CDLL(None).malloc, ctypes.c_void_p).value
