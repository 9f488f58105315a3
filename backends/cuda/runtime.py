"""The device side of the CUDA backend: finding numba.cuda (a real GPU, or
numba's simulator under NUMBA_ENABLE_CUDASIM=1), the strided tensors the
launch plan passes between kernels, and moving data in and out.

A `DeviceTensor` is a view: a flat device buffer with a shape, strides in
elements and an offset. Views (transpose, slicing, broadcasting) only change
those numbers, and every kernel reads its operands through them, so no op
that moves data without arithmetic launches a kernel.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np


class CudaUnavailableError(RuntimeError):
    """backend="cuda" was asked for where no GPU (and no simulator) can run it."""


_CUDA = None


def cuda_module():
    """numba.cuda, ready to launch kernels; CudaUnavailableError saying why not."""
    global _CUDA
    if _CUDA is None:
        try:
            from numba import cuda
        except Exception as error:  # numba missing, or numba-cuda failing to import
            raise CudaUnavailableError(
                f"backend='cuda' needs numba-cuda (pip install 'jitc[cuda]'); importing numba.cuda failed: "
                f"{error}") from None
        if not cuda.is_available():
            raise CudaUnavailableError(
                "backend='cuda' found no usable NVIDIA GPU (numba.cuda.is_available() is False). Run on a "
                "machine with a GPU and driver, set NUMBA_ENABLE_CUDASIM=1 before numba is imported to run the "
                "same kernels in numba's (slow) simulator, or use backend='llvm'")
        if simulated():
            _lock_simulated_shared_arrays()
        _CUDA = cuda
    return _CUDA


def _lock_simulated_shared_arrays() -> None:
    """numba's simulator gives a block's threads one shared array by looking
    it up, and creating it when missing, without a lock: two threads can
    each create one, and a tree reduction or matmul tile then reads
    garbage. Serialise that lookup."""
    import sys
    import threading
    from numba.cuda.simulator import kernelapi
    shared = kernelapi.FakeCUDAShared
    if getattr(shared.array, "jitc_locked", False):
        return
    unlocked, lock = shared.array, threading.Lock()

    def array(self, shape, dtype):
        if shape == 0:  # dynamic shared memory: one buffer, no lookup
            return unlocked(self, shape, dtype)
        caller = sys._getframe(1)
        key = (caller.f_code.co_filename, caller.f_lineno)  # the simulator's key: the line asking
        with lock:
            found = self._allocations.get(key)
            if found is None:
                found = self._allocations[key] = np.empty(shape, kernelapi.numpy_support.as_dtype(dtype)
                                                          if isinstance(dtype, kernelapi.types.Type) else dtype)
        return found
    array.jitc_locked = True
    shared.array = array


def simulated() -> bool:
    """Whether kernels run in numba's CUDA simulator (threads in Python)."""
    from numba.core import config
    return bool(config.ENABLE_CUDASIM)


def contiguous_strides(shape: Sequence[int]) -> tuple[int, ...]:
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return tuple(reversed(strides))


class DeviceTensor:
    """A strided view of a flat device buffer (strides and offset in elements)."""

    __slots__ = ("buffer", "shape", "strides", "offset")

    def __init__(self, buffer, shape: tuple[int, ...], strides: tuple[int, ...] | None = None, offset: int = 0):
        self.buffer = buffer
        self.shape = tuple(shape)
        self.strides = contiguous_strides(self.shape) if strides is None else tuple(strides)
        self.offset = offset

    @property
    def dtype(self) -> np.dtype:
        return self.buffer.dtype

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def is_contiguous(self) -> bool:
        return all(stride == expected for stride, expected, size
                   in zip(self.strides, contiguous_strides(self.shape), self.shape) if size != 1)

    def view(self, shape, strides, offset: int | None = None) -> "DeviceTensor":
        return DeviceTensor(self.buffer, shape, strides, self.offset if offset is None else offset)

    def broadcast_strides(self, shape: Sequence[int]) -> tuple[int, ...]:
        """Strides reading this tensor broadcast to `shape` (0 along broadcast axes)."""
        lead = len(shape) - len(self.shape)
        if lead < 0:
            raise ValueError(f"cannot broadcast shape {self.shape} to {tuple(shape)}")
        strides = [0] * lead
        for size, stride, target in zip(self.shape, self.strides, shape[lead:]):
            if size != target and size != 1:
                raise ValueError(f"operands could not be broadcast together: shape {self.shape} to {tuple(shape)}")
            strides.append(stride if size == target and size != 1 else 0)
        return tuple(strides)

    def __repr__(self) -> str:
        return f"DeviceTensor({self.dtype}, shape={self.shape}, strides={self.strides}, offset={self.offset})"


def allocate(shape: Sequence[int], dtype) -> DeviceTensor:
    """A new contiguous tensor (at least one element, so a view of it is never empty)."""
    shape = tuple(int(size) for size in shape)
    return DeviceTensor(cuda_module().device_array(max(math.prod(shape), 1), np.dtype(dtype)), shape)


def is_device_array(value) -> bool:
    """Objects the plan takes without copying: CUDA arrays, and the
    simulator's stand-ins for them."""
    return hasattr(value, "__cuda_array_interface__") or type(value).__name__ == "FakeCUDAArray"


def to_device(value: Any) -> Any:
    """An argument as the plan holds it: arrays (NumPy, copied in; CUDA
    arrays, used in place when C-contiguous) become DeviceTensors, lists and
    tuples are converted item by item, Python scalars stay as they are."""
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value, order="C")
        return DeviceTensor(cuda_module().to_device(array.reshape(-1) if array.size else np.zeros(1, array.dtype)),
                            array.shape)
    if is_device_array(value):
        cuda = cuda_module()
        array = cuda.as_cuda_array(value) if hasattr(value, "__cuda_array_interface__") else value
        if not array.is_c_contiguous():
            array = cuda.to_device(np.ascontiguousarray(array.copy_to_host()))
        return DeviceTensor(array.reshape(-1) if array.size else cuda.device_array(1, array.dtype), array.shape)
    if isinstance(value, list):
        return [to_device(item) for item in value]
    if isinstance(value, tuple):
        return tuple(to_device(item) for item in value)
    return value


def to_host(value: Any) -> Any:
    """`value` with every array in it as a NumPy array: device arrays
    (`copy_to_host()`) and anything NumPy accepts; lists and tuples item by item."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, DeviceTensor):
        value = as_device_array(value)
    if hasattr(value, "copy_to_host"):
        return value.copy_to_host()
    if isinstance(value, list):
        return [to_host(item) for item in value]
    if isinstance(value, tuple):
        return tuple(to_host(item) for item in value)
    if isinstance(value, (bool, int, float, complex, str, type(None), np.generic)):
        return value
    return np.asarray(value)


def as_device_array(tensor: DeviceTensor):
    """The numba device array of a contiguous tensor that starts its buffer."""
    assert tensor.is_contiguous and tensor.offset == 0, tensor
    flat = tensor.buffer if tensor.buffer.size == tensor.size else tensor.buffer[:tensor.size]
    return flat.reshape(tensor.shape)
