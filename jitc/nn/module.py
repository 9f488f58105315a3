"""`Module`: model classes in plain NumPy, as `torch.nn.Module` is for torch.

A module's parameters are the NumPy arrays among its attributes, found
where they lie: directly, in submodules, and inside lists and tuples held
as attributes (`self.blocks = [(w1, b1), (w2, b2)]`). Nothing is
registered, so a module is an ordinary Python object that runs eagerly,
and `jitc.script(module)` compiles its `forward` with every array a
constant of the graph named by its path (`blocks.0.1`, `fc1.weight`).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np

EXPORT_MARK = "__jitc_export__"


def export(method: Callable) -> Callable:
    """Mark a method of a `Module` to be compiled beside `forward` (as
    `torch.jit.export` does): `jitc.script(module)` compiles it too, the
    scripted module calls it by name, and `jitc.save` writes it as an
    entry point of its own."""
    if not callable(method):
        raise TypeError(f"jitc.export marks methods, got {type(method).__name__}")
    setattr(method, EXPORT_MARK, True)
    return method


def exported_method_names(module_type: type) -> list[str]:
    """Names of the methods of `module_type` (and its bases) marked with
    `export`, in the order they are defined, base classes first."""
    names: list[str] = []
    for klass in reversed(module_type.__mro__):
        for name, value in vars(klass).items():
            if getattr(value, EXPORT_MARK, False) and name != "forward" and name not in names:
                names.append(name)
    return names


class Module:
    """Base class of models: calling a module calls its `forward`."""

    def forward(self, *args: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- the module tree ---------------------------------------------------------------------
    def named_attributes(self) -> Iterable[tuple[str, Any]]:
        """The attributes searched for parameters and submodules, in order."""
        return vars(self).items()

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """The direct submodules, including those held in lists and tuples."""
        for name, value in self.named_attributes():
            for path, item in _walk(value, name):
                if isinstance(item, Module):
                    yield path, item

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """This module and every submodule, each once, with its dotted path."""
        seen: set[int] = set()

        def visit(module: Module, path: str) -> Iterator[tuple[str, Module]]:
            if id(module) in seen:
                return
            seen.add(id(module))
            yield path, module
            for name, child in module.named_children():
                yield from visit(child, _join(path, name))

        yield from visit(self, prefix)

    def modules(self) -> Iterator["Module"]:
        return (module for _, module in self.named_modules())

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """Every array of the module tree, each once, with its dotted path,
        in the order the attributes were assigned (depth first)."""
        seen: set[int] = set()

        def visit(module: Module, path: str) -> Iterator[tuple[str, np.ndarray]]:
            seen.add(id(module))
            for name, value in module.named_attributes():
                for item_path, item in _walk(value, _join(path, name)):
                    if id(item) in seen or not isinstance(item, (np.ndarray, Module)):
                        continue
                    if isinstance(item, Module):
                        yield from visit(item, item_path)
                    else:
                        seen.add(id(item))
                        yield item_path, item

        yield from visit(self, prefix)

    def parameters(self) -> Iterator[np.ndarray]:
        return (array for _, array in self.named_parameters())

    # -- state ------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """{path: array} of every parameter (the arrays themselves, not copies)."""
        return dict(self.named_parameters())

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> None:
        """Replace parameters by copies of `state`'s arrays, cast to each
        parameter's dtype; shapes must match. With `strict`, the names must
        be exactly those of `state_dict()`. The old arrays are left as they
        were, so a module scripted before keeps the values it was compiled with."""
        current = self.state_dict()
        missing = [name for name in current if name not in state]
        unexpected = [name for name in state if name not in current]
        if strict and (missing or unexpected):
            raise KeyError(f"{type(self).__name__}.load_state_dict(): missing {missing}, "
                           f"unexpected {unexpected}")
        replacements = {}
        for name, old in current.items():
            if name not in state:
                continue
            new = np.asarray(state[name])
            if new.shape != old.shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict(): '{name}' has shape "
                                 f"{new.shape}, the module's has {old.shape}")
            replacements[id(old)] = np.array(new, dtype=old.dtype, copy=True)
        for module in self.modules():
            module._replace_arrays(replacements)

    def _replace_arrays(self, replacements: dict[int, np.ndarray]) -> None:
        for name, value in list(vars(self).items()):
            replaced = _replaced(value, replacements)
            if replaced is not value:
                object.__setattr__(self, name, replaced)

    def __repr__(self) -> str:
        children = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in self.named_children()]
        extra = self.extra_repr()
        if not children:
            return f"{type(self).__name__}({extra})"
        return f"{type(self).__name__}({extra}\n" + "\n".join(children) + "\n)"

    def extra_repr(self) -> str:
        """What `repr` shows between the parentheses of a leaf module."""
        return ""


class ModuleList(Module, tuple):
    """A fixed sequence of modules: indexable, iterable and sized; its
    items are named `0`, `1`, ... in parameter paths. It is a tuple, so
    scripted code loops over it and indexes it as over any tuple held as
    an attribute: unrolled, each item compiled in turn."""

    def __new__(cls, modules: Iterable[Module] = ()):
        modules = tuple(modules)
        for module in modules:
            if not isinstance(module, Module):
                raise TypeError(f"{cls.__name__} holds modules, got {type(module).__name__}")
        return super().__new__(cls, modules)

    def named_attributes(self) -> Iterable[tuple[str, Any]]:
        return ((str(index), module) for index, module in enumerate(self))

    def __getitem__(self, index):
        item = tuple.__getitem__(self, index)
        return tuple.__new__(type(self), item) if isinstance(index, slice) else item

    __hash__ = object.__hash__
    __eq__ = object.__eq__
    __ne__ = object.__ne__


class Sequential(ModuleList):
    """Modules applied one after another: `Sequential(a, b)(x)` is `b(a(x))`."""

    def __new__(cls, *modules: Module):
        return super().__new__(cls, modules)

    def forward(self, x):
        for module in self:
            x = module(x)
        return x


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """`value` and, for lists and tuples, their items (recursively), with
    paths; modules are not entered (a ModuleList is a tuple)."""
    yield path, value
    if isinstance(value, (list, tuple)) and not isinstance(value, Module):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}.{index}")


def _replaced(value: Any, replacements: dict[int, np.ndarray]) -> Any:
    """`value` with the arrays in `replacements` swapped, lists and tuples
    rebuilt around them; `value` itself when nothing in it changes."""
    if isinstance(value, np.ndarray):
        return replacements.get(id(value), value)
    if isinstance(value, (list, tuple)):
        items = [_replaced(item, replacements) for item in value]
        if all(new is old for new, old in zip(items, value)):
            return value
        if isinstance(value, list):
            value[:] = items
            return value
        return type(value)(items) if type(value) is tuple else type(value)(*items)
    return value


__all__ = ["Module", "ModuleList", "Sequential", "export", "exported_method_names"]
