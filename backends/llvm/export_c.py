"""The C side of an exported library (export.py): the header users include
and the wrapper source compiled into the library.

Each exported function takes plain pointers and shapes, packs them into the
i64 slots the compiled graph reads (layout.py), runs the graph's native
entry with a context of its own (so calls from several threads share
nothing), and hands back malloc'd outputs through `jitc_tensor`s. A failure
returns nonzero and leaves the message Python would raise, as
"ValueError: ...", for `jitc_last_error()`.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field

from ...ir.graph import Graph
from ...ir.types import BOOL, FLOAT, INT, NONE, DType, TensorType, TupleType, Type
from .runtime import CONTEXT_SLOTS, ERROR_ARG_OFFSET

MAX_RANK = 8  # of an output: jitc_tensor's shape array
RESERVED_PREFIX = "jitc_"  # the names of the wrapper and its locals

# dtype -> (C element type, jitc_dtype enumerator); the enumerators' numbers are part of the ABI
C_TYPES = {
    DType.BOOL: ("bool", "JITC_BOOL"), DType.INT8: ("int8_t", "JITC_INT8"), DType.UINT8: ("uint8_t", "JITC_UINT8"),
    DType.INT16: ("int16_t", "JITC_INT16"), DType.UINT16: ("uint16_t", "JITC_UINT16"),
    DType.INT32: ("int32_t", "JITC_INT32"), DType.UINT32: ("uint32_t", "JITC_UINT32"),
    DType.INT64: ("int64_t", "JITC_INT64"), DType.UINT64: ("uint64_t", "JITC_UINT64"),
    DType.FLOAT16: ("uint16_t", "JITC_FLOAT16"),  # IEEE half bits
    DType.FLOAT32: ("float", "JITC_FLOAT32"), DType.FLOAT64: ("double", "JITC_FLOAT64"),
}
_SCALARS = {INT: "int64_t", FLOAT: "double", BOOL: "bool"}
# C keywords and the names the header and wrapper rely on: a parameter is not named after them
_C_KEYWORDS = frozenset(
    "auto bool break case char const continue default do double else enum extern float for goto if inline int "
    "long register restrict return short signed sizeof static struct switch typedef union unsigned void volatile "
    "while true false NULL int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t intptr_t size_t".split())


class ExportError(ValueError):
    """A model or an entry point that cannot be exported as a C library."""


def c_identifier(name: str) -> str:
    """`name` as a C identifier: other characters become '_', keywords get a trailing '_'."""
    text = "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in name) or "_"
    text = "_" + text if text[0].isdigit() else text
    return text + "_" if text in _C_KEYWORDS else text


def c_string(text: str) -> str:
    """A C string literal holding `text` (UTF-8)."""
    escaped = []
    for byte in text.encode("utf-8"):
        character = chr(byte)
        if character in '"\\?':
            escaped.append("\\" + character)
        elif 32 <= byte < 127:
            escaped.append(character)
        else:
            escaped.append(f"\\{byte:03o}")
    return '"' + "".join(escaped) + '"'


@dataclass
class CValue:
    """A tensor or scalar of the C signature: a graph parameter or result,
    or one element of a tuple (tuples are flattened, in slot order)."""

    name: str      # C name stem
    label: str     # how messages name it: x, or x[0] for a tuple element
    type: Type
    slot: int      # its first i64 slot in the flattened arguments or results
    written: bool = False  # a parameter the function writes into (prim::CopyInto)
    static: object = None  # the int or bool value the version was compiled for, if any


@dataclass
class CFunction:
    """One exported function: a specialised graph under a C name."""

    name: str
    implementation: str        # the symbol of its compiled graph
    graph: Graph
    summary: str               # what the header says it was made from
    params: list[CValue]
    results: list[CValue]
    errors: list[tuple[str, str]]   # the graph's error table (emitter.ErrorTable)
    constant_offsets: list[int] = field(default_factory=list)  # into the constants blob

    @property
    def arg_slots(self) -> int:
        return sum(_slots(p.type) for p in self.params)

    @property
    def result_slots(self) -> int:
        return sum(_slots(r.type) for r in self.results)


def _slots(type: Type) -> int:
    return 1 + 2 * len(type.shape) if isinstance(type, TensorType) else 1


def flatten_values(labels: list[str], types: list[Type], what: str, where: str, used: set[str],
                   written: frozenset[int] = frozenset(), static: dict | None = None) -> list[CValue]:
    """The C values of parameters or results `types` named `labels` (None
    is left out: it takes no slot); ExportError for lists and other types C
    cannot take. C names avoid those in `used` (and are added to it)."""
    values, slot = [], 0

    def add(stem: str, label: str, type: Type, index: int) -> None:
        nonlocal slot
        if isinstance(type, TupleType):
            for position, element in enumerate(type.elements):
                add(f"{stem}_{position}", f"{label}[{position}]", element, index)
        elif isinstance(type, TensorType) and type.dtype in C_TYPES and type.shape is not None:
            if what == "result" and len(type.shape) > MAX_RANK:
                raise ExportError(f"{where}: {what} {label} has rank {len(type.shape)}; jitc_tensor holds "
                                  f"up to {MAX_RANK} dims")
            suffixes = ("_data", "_shape") if what == "parameter" else ("",)
            values.append(CValue(_fresh(stem, suffixes, used), label, type, slot, index in written))
            slot += _slots(type)
        elif type in _SCALARS:
            value = (static or {}).get(label)
            values.append(CValue(_fresh(stem, ("",), used), label, type, slot, static=value))
            slot += 1
        elif type != NONE:
            raise ExportError(f"{where}: {what} {label} is {type}; the C API takes tensors of a known dtype, "
                              "int, float, bool, tuples of those and None (lists are not supported)")

    for index, (label, type) in enumerate(zip(labels, types)):
        add(c_identifier(label), label, type, index)
    return values


def _fresh(stem: str, suffixes: tuple[str, ...], used: set[str]) -> str:
    """`stem`, or stem_2, stem_3...: the first whose names (stem + each
    suffix) are unused and outside jitc_*, which the wrapper's own names use."""
    stem = "arg_" + stem if stem.startswith(RESERVED_PREFIX) else stem
    candidate, number = stem, 1
    while any(candidate + suffix in used for suffix in suffixes):
        number += 1
        candidate = f"{stem}_{number}"
    used.update(candidate + suffix for suffix in suffixes)
    return candidate


# -- the header ---------------------------------------------------------------------------------------------
_COMMON = """#ifndef JITC_COMMON_DEFINED
#define JITC_COMMON_DEFINED
#define JITC_MAX_RANK {max_rank}

/* Element types of jitc_tensor.dtype. */
typedef enum {{
{enumerators}
}} jitc_dtype;

/* An output: `data` is C-contiguous, allocated by the library; release it with jitc_free(data). */
typedef struct {{
    void *data;
    int64_t ndim;
    int64_t shape[JITC_MAX_RANK];
    int dtype; /* a jitc_dtype */
}} jitc_tensor;

/* Bytes per element of a jitc_dtype (0 for an unknown one). */
static inline size_t jitc_dtype_size(int dtype) {{
    static const unsigned char sizes[] = {{{sizes}}};
    return dtype >= 0 && dtype < (int)sizeof sizes ? sizes[dtype] : 0;
}}

/* Frees an output's data. */
void jitc_free(void *data);

/* The message of the last failed call in this thread, as Python would raise it ("ValueError: ..."). */
const char *jitc_last_error(void);
#endif
"""


def _shape_text(type: TensorType) -> str:
    return "(" + ", ".join(str(d) for d in type.shape) + ("," if len(type.shape) == 1 else "") + ")"


def _describe(value: CValue) -> str:
    if isinstance(value.type, TensorType):
        text = f"{value.type.dtype.value} array of shape {_shape_text(value.type)}"
        return text + (", written in place" if value.written else "")
    text = f"{value.type}"
    return text + (f", must be {value.static!r} (the version was compiled for that value)"
                   if value.static is not None else "")


def _parameter_declarations(value: CValue) -> list[str]:
    if isinstance(value.type, TensorType):
        const = "" if value.written else "const "
        return [f"{const}{C_TYPES[value.type.dtype][0]} *{value.name}_data", f"const int64_t *{value.name}_shape"]
    return [f"{_SCALARS[value.type]} {value.name}"]


def _result_declaration(value: CValue) -> str:
    return f"jitc_tensor *{value.name}" if isinstance(value.type, TensorType) else \
        f"{_SCALARS[value.type]} *{value.name}"


def prototype(function: CFunction) -> str:
    """`int name(...)`, one parameter (an array's data and shape) or result per line."""
    lines = [", ".join(_parameter_declarations(p)) for p in function.params]
    lines += [_result_declaration(r) for r in function.results]
    start = f"int {function.name}("
    return start + (",\n" + " " * len(start)).join(lines or ["void"]) + ")"


def _comment(function: CFunction) -> str:
    lines = [f"{function.name}: {function.summary}"]
    lines += [f"  {p.label}: {_describe(p)}" for p in function.params]
    lines += [f"  -> {r.name}: {_describe(r)}" for r in function.results]
    return "/* " + "\n * ".join(line.replace("*/", "* /") for line in lines) + "\n */"


def header(functions: list[CFunction], guard: str, description: str) -> str:
    """The header: common declarations (guarded, so headers of several
    libraries can be included together) and one prototype per function."""
    dtypes = list(C_TYPES)
    common = _COMMON.format(max_rank=MAX_RANK,
                            enumerators=",\n".join(f"    {C_TYPES[d][1]} = {i}" for i, d in enumerate(dtypes)),
                            sizes=", ".join(str(d.itemsize) for d in dtypes))
    usage = ("Arrays are passed as a pointer to C-contiguous data and a pointer to their sizes\n"
             " * (one int64_t per dim). In shapes, * is any size but 1 and a number that size;\n"
             " * other sizes return an error. Each function returns 0, or nonzero on an error\n"
             " * (jitc_last_error() says which); outputs are set only on success.\n"
             " * Functions may be called from several threads at once.")
    parts = [f"/* {description}\n *\n * {usage}\n */", f"#ifndef {guard}", f"#define {guard}", "",
             "#include <stdbool.h>", "#include <stddef.h>", "#include <stdint.h>", "",
             "#ifdef __cplusplus", 'extern "C" {', "#endif", "", common]
    for function in functions:
        parts += [_comment(function), prototype(function) + ";", ""]
    parts += ["#ifdef __cplusplus", "}", "#endif", f"#endif /* {guard} */", ""]
    return "\n".join(parts)


# -- the wrapper source ----------------------------------------------------------------------------------------
_RUNTIME = r"""#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exported, so that where several jitc libraries are loaded they all use the first one's. */
_Thread_local char jitc_error_message[2048];

__attribute__((format(printf, 1, 2))) static int jitc_fail(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(jitc_error_message, sizeof jitc_error_message, format, arguments);
    va_end(arguments);
    return 1;
}

const char *jitc_last_error(void) { return jitc_error_message; }

void jitc_free(void *data) { free(data); }

/* Sizes and C-contiguous strides of an array argument into its slots: data, sizes, strides.
   any[axis] marks axes the version was compiled for any size but 1 (a * in its type). */
static int jitc_pack_tensor(const char *name, const void *data, const int64_t *shape, int rank,
                            const signed char *any, int64_t *slots) {
    int64_t stride = 1;
    if (rank > 0 && shape == NULL)
        return jitc_fail("ValueError: argument '%s': its shape pointer is NULL", name);
    for (int axis = rank - 1; axis >= 0; --axis) {
        if (shape[axis] < 0)
            return jitc_fail("ValueError: argument '%s': negative size %lld at axis %d", name,
                             (long long)shape[axis], axis);
        if (any[axis] && shape[axis] == 1)
            return jitc_fail("ValueError: argument '%s': this version was compiled for sizes other than 1 "
                             "at axis %d, got 1 (export a model that was also called with size 1 there)",
                             name, axis);
        slots[1 + axis] = shape[axis];
        slots[1 + rank + axis] = stride;
        if (__builtin_mul_overflow(stride, shape[axis], &stride))
            return jitc_fail("ValueError: argument '%s': array is too big", name);
    }
    if (data == NULL && stride != 0)
        return jitc_fail("ValueError: argument '%s': its data pointer is NULL", name);
    slots[0] = (int64_t)(intptr_t)data;
    return 0;
}

static void jitc_unpack_tensor(jitc_tensor *out, const int64_t *slots, int rank, int dtype) {
    out->data = (void *)(intptr_t)slots[0];
    out->ndim = rank;
    for (int axis = 0; axis < JITC_MAX_RANK; ++axis)
        out->shape[axis] = axis < rank ? slots[1 + axis] : 0;
    out->dtype = dtype;
}
"""


def _message_call(exception: str, message: str, args: str) -> str:
    """`return jitc_fail(...)` of a Python `str.format` message whose fields
    are error arguments (i64s, as Python formats them)."""
    text, values = [f"{exception}: "], []
    for literal, field_name, _, _ in string.Formatter().parse(message):
        text.append(literal.replace("%", "%%"))
        if field_name is not None:
            text.append("%lld")
            values.append(f"(long long){args}[{int(field_name or 0)}]")
    return f"return jitc_fail({', '.join([c_string(''.join(text))] + values)});"


def _error_function(index: int, errors: list[tuple[str, str]]) -> str:
    lines = [f"static int jitc_error_{index}(int code, const int64_t *a) {{", "    switch (code) {"]
    for code, (exception, message) in enumerate(errors, 1):
        lines.append(f"    case {code}: {_message_call(exception, message, 'a')}")
    lines += ['    default: return jitc_fail("RuntimeError: compiled code failed with unknown code %d", code);',
              "    }", "}"]
    return "\n".join(lines)


def _body(index: int, function: CFunction) -> list[str]:
    lines = [prototype(function) + " {",
             f"    int64_t jitc_args[{max(function.arg_slots, 1)}], jitc_results[{max(function.result_slots, 1)}];",
             f"    int64_t jitc_context[{CONTEXT_SLOTS}] = {{0}};"]
    outputs = [r.name for r in function.results]
    if outputs:
        lines.append(f"    if ({' || '.join(f'{name} == NULL' for name in outputs)})")
        lines.append(f'        return jitc_fail("ValueError: {function.name}: an output pointer is NULL");')
    for param in function.params:
        label = c_string(param.label)
        if isinstance(param.type, TensorType):
            rank = len(param.type.shape)
            marks = ", ".join("0" if isinstance(d, int) else "1" for d in param.type.shape) or "0"
            lines.append(f"    static const signed char jitc_any_{param.name}[] = {{{marks}}};")
            lines.append(f"    if (jitc_pack_tensor({label}, {param.name}_data, {param.name}_shape, {rank}, "
                         f"jitc_any_{param.name}, jitc_args + {param.slot})) return 1;")
            continue
        if param.static is not None:
            message = (f"ValueError: argument '{param.label}': this version was compiled for "
                       f"{param.label}={param.static!r}, got %lld")
            lines.append(f"    if ({param.name} != {int(param.static)}) "
                         f"return jitc_fail({c_string(message)}, (long long){param.name});")
        if param.type == FLOAT:
            lines.append(f"    __builtin_memcpy(&jitc_args[{param.slot}], &{param.name}, 8);")
        else:
            lines.append(f"    jitc_args[{param.slot}] = (int64_t){param.name};")
    constants = "NULL" if not function.constant_offsets else f"(int64_t *)jitc_constants_{index}"
    lines.append(f"    int jitc_code = {function.implementation}(jitc_context, jitc_args, jitc_results, {constants});")
    lines.append(f"    if (jitc_code != 0) return jitc_error_{index}(jitc_code, jitc_context + {ERROR_ARG_OFFSET});")
    for result in function.results:
        if isinstance(result.type, TensorType):
            lines.append(f"    jitc_unpack_tensor({result.name}, jitc_results + {result.slot}, "
                         f"{len(result.type.shape)}, {C_TYPES[result.type.dtype][1]});")
        elif result.type == FLOAT:
            lines.append(f"    __builtin_memcpy({result.name}, &jitc_results[{result.slot}], 8);")
        elif result.type == BOOL:
            lines.append(f"    *{result.name} = jitc_results[{result.slot}] != 0;")
        else:
            lines.append(f"    *{result.name} = jitc_results[{result.slot}];")
    lines += ["    return 0;", "}"]
    return lines


def source(functions: list[CFunction], header_name: str, blob_name: str) -> str:
    """The wrapper source: runtime helpers, the constants (the blob file,
    included by the assembler) and one definition per function."""
    constants = (".section .rodata\n.balign 64\n.globl jitc_constants\n.hidden jitc_constants\n"
                 f'jitc_constants:\n.incbin "{blob_name}"\n.previous\n')
    parts = [f"/* Generated by jitc export: the C API of {header_name}. */", f'#include "{header_name}"', _RUNTIME,
             f"__asm__({c_string(constants)});",
             'extern const unsigned char jitc_constants[] __attribute__((visibility("hidden")));', ""]
    for index, function in enumerate(functions):
        parts.append(f"int32_t {function.implementation}(int64_t *context, int64_t *args, int64_t *results, "
                     "int64_t *constants);")
        if function.constant_offsets:
            pointers = ", ".join(f"jitc_constants + {offset}" for offset in function.constant_offsets)
            parts.append(f"static const void *const jitc_constants_{index}[] = {{{pointers}}};")
        parts += [_error_function(index, function.errors), *_body(index, function), ""]
    return "\n".join(parts)
