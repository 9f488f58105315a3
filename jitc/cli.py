"""The `jitc` command: look into, run and time saved models, and export them as C libraries.

    jitc inspect model.jitc [--json]
    jitc run model.jitc --input x.npy [--input ...] [--arg name=value] [--output y.npy ...] [--method M]
             [--trust-native-code]
    jitc graph model.jitc [--dot] [--graph N] [--specialized] [--method M]
    jitc bench model.jitc --input x.npy [--repeat N] [--warmup N] [--method M]
    jitc export model.jitc --shared libmodel.so [--header model.h] [--prefix P] [--cpu NAME] [--cc CC]

Every subcommand reads the file with the same checks as `jitc.load`, and
arrays with `np.load(allow_pickle=False)`. For a saved module, `--method`
picks the method to run, time or print (default: forward). An error prints one line to
stderr and exits with status 2, without a traceback.
"""
from __future__ import annotations

import argparse
import collections
import inspect
import json
import os
import sys
import time
from typing import Any, Sequence

import numpy as np

from .serialization import ModelFile, load, read_model

EXIT_ERROR = 2


class CommandError(Exception):
    """A mistake in the command line or its files, reported without a traceback."""


# -- inspect ----------------------------------------------------------------------------------------
def _signature(parameters: Sequence[inspect.Parameter]) -> str:
    return str(inspect.Signature(parameters))


def _node_counts(graphs) -> collections.Counter:
    return collections.Counter(node.kind for graph in graphs for node in graph.walk())


def describe(model: ModelFile) -> dict:
    """What `jitc inspect` shows, as plain data."""
    entry_points = []
    for entry in model.entry_points:
        entry_points.append({
            "name": entry.name,
            "kind": entry.kind,
            "signature": _signature(entry.parameters),
            "outputs": 1 if entry.output_arity is None else entry.output_arity,
            "graphs": [{"inputs": [str(p.type) for p in g.params], "outputs": [str(v.type) for v in g.returns],
                        "nodes": sum(1 for _ in g.walk())} for g in entry.graphs],
            "specializations": [{"inputs": [str(p.type) for p in g.params],
                                 "outputs": [str(v.type) for v in g.returns], "static": static or {}}
                                for g, static in zip(entry.specializations, entry.specialization_static)],
            "node_counts": dict(sorted(_node_counts(entry.graphs).items())),
        })
    return {
        "path": model.path,
        "module": model.module,
        "format_version": model.format_version,
        "jitc_version": model.jitc_version,
        "entry_points": entry_points,
        "tensors": {"count": len(model.tensors), "elements": int(sum(a.size for a in model.tensors)),
                    "bytes": int(sum(a.nbytes for a in model.tensors))},
        "ops": model.ops,
        "extra_files": {name: len(data) for name, data in model.extra_files.items()},
        "native": [{key: value for key, value in native.items() if key != "data"} for native in model.native],
    }


def _types(types: list[str]) -> str:
    return "(" + ", ".join(types) + ")"


def _format_bytes(count: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError


def _inspect(arguments) -> int:
    info = describe(read_model(arguments.model))
    if arguments.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['path']}: jitc-model format {info['format_version']}, written by jitc {info['jitc_version']}")
    if info["module"] is not None:
        print(f"module {info['module']}: methods " + ", ".join(entry["name"] for entry in info["entry_points"]))
    for entry in info["entry_points"]:
        print(f"\n{entry['kind']} {entry['name']}{entry['signature']} -> {entry['outputs']} output(s)")
        for index, graph in enumerate(entry["graphs"]):
            print(f"  graph {index}: {_types(graph['inputs'])} -> {_types(graph['outputs'])}, "
                  f"{graph['nodes']} nodes")
        print(f"  specialisations saved: {len(entry['specializations'])}")
        for graph in entry["specializations"]:
            static = ", ".join(f"{name}={value!r}" for name, value in graph["static"].items())
            print(f"    {_types(graph['inputs'])} -> {_types(graph['outputs'])}" + (f" for {static}" if static else ""))
        print("  nodes by op (generic graphs):")
        width = max((len(kind) for kind in entry["node_counts"]), default=0)
        for kind, count in sorted(entry["node_counts"].items(), key=lambda item: (-item[1], item[0])):
            print(f"    {kind:<{width}}  {count}")
    tensors = info["tensors"]
    print(f"\nparameters: {tensors['count']} tensor(s), {tensors['elements']} elements, "
          f"{_format_bytes(tensors['bytes'])}")
    versions = collections.Counter(info["ops"].values())
    print(f"ops: {len(info['ops'])} (" + ", ".join(f"{n} at version {v}" for v, n in sorted(versions.items())) + ")")
    extra = info["extra_files"]
    print("extra files: " + (", ".join(f"{name} ({_format_bytes(size)})" for name, size in extra.items())
                             or "none"))
    native = info["native"]
    print("native code: " + (", ".join(f"{n['target']} ({_format_bytes(n['size'])})" for n in native)
                             or "none cached"))
    return 0


# -- run and bench ------------------------------------------------------------------------------------
_NAMED_VALUES = {"True": True, "False": False, "None": None}


def parse_value(text: str) -> Any:
    """A Python scalar from the command line: int, float, True/False/None;
    anything else stays a string. Nothing is evaluated."""
    if text in _NAMED_VALUES:
        return _NAMED_VALUES[text]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _keyword_arguments(pairs: Sequence[str]) -> dict:
    keywords = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.isidentifier():
            raise CommandError(f"--arg expects name=value, got {pair!r}")
        keywords[name] = parse_value(value)
    return keywords


def _read_array(path: str) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise CommandError(f"cannot read {path!r} as a .npy array: {error}") from None
    if not isinstance(array, np.ndarray):  # an .npz archive
        array.close()
        raise CommandError(f"{path!r} is an .npz archive; give one .npy file per --input")
    return array


def _call_arguments(arguments) -> tuple[list, dict]:
    return [_read_array(path) for path in arguments.input], _keyword_arguments(arguments.arg)


def _outputs(function, result) -> list[np.ndarray]:
    results = [result] if function.output_arity is None else list(result)
    arrays = []
    for index, value in enumerate(results):
        array = np.asarray(value)
        if array.dtype == object:
            raise CommandError(f"output {index} is not an array (a ragged list or another object); "
                               "it cannot be written to .npy")
        arrays.append(array)
    return arrays


def _output_paths(requested: Sequence[str], count: int) -> list[str]:
    if len(requested) == count:
        return list(requested)
    if len(requested) == 1:
        stem, suffix = os.path.splitext(requested[0])
        return [f"{stem}_{index}{suffix or '.npy'}" for index in range(count)]
    raise CommandError(f"the model returns {count} output(s); give --output once (written as NAME_0.npy, "
                       f"NAME_1.npy, ...) or {count} times")


def _method_name(model_path: str, method: str | None, names: Sequence[str], module: str | None) -> str:
    """The entry point `--method` names: forward (or the one function) by default."""
    if method is None:
        return "forward" if module is not None else names[0]
    if module is None:
        raise CommandError(f"{model_path} holds a function, not a module: it has no methods to choose with --method")
    if method not in names:
        raise CommandError(f"module {module} has no method {method!r}; it has {', '.join(names)}")
    return method


def _load_method(arguments):
    """The loaded callable `arguments.method` names."""
    loaded = load(arguments.model, backend=arguments.backend, trust_native_code=arguments.trust_native_code)
    methods = getattr(loaded, "methods", None)
    if methods is None:
        _method_name(arguments.model, arguments.method, [loaded.__name__], None)
        return loaded
    return methods[_method_name(arguments.model, arguments.method, list(methods), loaded.__name__)]


def _run(arguments) -> int:
    function = _load_method(arguments)
    args, kwargs = _call_arguments(arguments)
    outputs = _outputs(function, function(*args, **kwargs))
    if not arguments.output:
        for index, array in enumerate(outputs):
            print(f"output {index}: {array.dtype} {list(array.shape)}")
            print(np.array2string(array, threshold=20, edgeitems=3))
        return 0
    for path, array in zip(_output_paths(arguments.output, len(outputs)), outputs):
        np.save(path, array, allow_pickle=False)
        print(f"wrote {path} ({array.dtype} {list(array.shape)})")
    return 0


def _progress(done: int, total: int, stream, width: int = 30) -> None:
    filled = width * done // total
    stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
    if done == total:
        stream.write("\n")
    stream.flush()


def _bench(arguments) -> int:
    if arguments.repeat < 1 or arguments.warmup < 0:
        raise CommandError("--repeat must be at least 1 and --warmup at least 0")
    function = _load_method(arguments)
    args, kwargs = _call_arguments(arguments)
    start = time.perf_counter()
    function(*args, **kwargs)
    first = time.perf_counter() - start
    for _ in range(arguments.warmup):
        function(*args, **kwargs)
    times = np.empty(arguments.repeat)
    step = max(1, arguments.repeat // 50)
    for index in range(arguments.repeat):
        start = time.perf_counter()
        function(*args, **kwargs)
        times[index] = time.perf_counter() - start
        if (index + 1) % step == 0 or index + 1 == arguments.repeat:
            _progress(index + 1, arguments.repeat, sys.stderr)
    p50, p90, p99 = np.percentile(times, [50, 90, 99]) * 1e3
    print(f"first call (compiles): {first * 1e3:.3f} ms")
    print(f"latency over {arguments.repeat} calls: p50 {p50:.4f} ms  p90 {p90:.4f} ms  p99 {p99:.4f} ms  "
          f"(min {times.min() * 1e3:.4f} ms, mean {times.mean() * 1e3:.4f} ms)")
    return 0


# -- graph -------------------------------------------------------------------------------------------
def _value_names(graph):
    """Names as the text form prints them (the printer's order of first appearance)."""
    from .ir.printer import Namer
    namer = Namer()

    def name_block(block):
        for node in block.nodes:
            for value in node.inputs:
                namer(value)
            for value in node.outputs:
                namer(value)
            for inner in node.blocks:
                for value in inner.params:
                    namer(value)
                name_block(inner)
                for value in inner.returns:
                    namer(value)

    for value in graph.params:
        namer(value)
    name_block(graph.block)
    for value in graph.returns:
        namer(value)
    return namer


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _captured(node) -> list:
    """Values that `node`'s nested blocks use but do not define, in order."""
    blocks, defined, used = list(node.blocks), set(), []
    while blocks:
        block = blocks.pop()
        defined.update(block.params)
        for inner in block.nodes:
            defined.update(inner.outputs)
            used.extend(inner.inputs)
            blocks.extend(inner.blocks)
        used.extend(block.returns)
    return [value for value in dict.fromkeys(used) if value not in defined]


def graph_to_dot(graph, title: str = "graph") -> str:
    """Graphviz text of the top-level block: a box per node labelled by its
    op, an edge per value labelled by its name. Values a node's nested
    blocks read from outside reach that node by a dashed edge."""
    name = _value_names(graph)
    lines = [f"digraph {_quote(title)} {{", "  rankdir=TB;", '  node [shape=box, fontname="monospace"];',
             '  edge [fontname="monospace", fontsize=10];']
    producer: dict = {}
    for index, value in enumerate(graph.params):
        lines.append(f"  input{index} [shape=ellipse, label={_quote(f'{name(value)} : {value.type}')}];")
        producer[value] = f"input{index}"
    for index, node in enumerate(graph.block.nodes):
        label = node.kind + (f" ({len(node.blocks)} block{'s' * (len(node.blocks) != 1)})" if node.blocks else "")
        lines.append(f"  node{index} [label={_quote(label)}];")
        for value in node.inputs:
            if value in producer:
                lines.append(f"  {producer[value]} -> node{index} [label={_quote(name(value))}];")
        for value in _captured(node):
            if value not in producer or value in node.inputs:
                continue
            lines.append(f"  {producer[value]} -> node{index} [style=dashed, label={_quote(name(value))}];")
        for value in node.outputs:
            producer[value] = f"node{index}"
    lines.append('  return [shape=ellipse, label="return"];')
    for value in graph.returns:
        if value in producer:
            lines.append(f"  {producer[value]} -> return [label={_quote(name(value))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _graph(arguments) -> int:
    model = read_model(arguments.model)
    name = _method_name(arguments.model, arguments.method, [e.name for e in model.entry_points], model.module)
    entry = next(entry for entry in model.entry_points if entry.name == name)
    graphs = entry.specializations if arguments.specialized else entry.graphs
    kind = "specialisation" if arguments.specialized else "graph"
    if not 0 <= arguments.graph < len(graphs):
        raise CommandError(f"{entry.name} has {len(graphs)} saved {kind}(s); "
                           f"--graph {arguments.graph} is out of range")
    graph = graphs[arguments.graph]
    sys.stdout.write(graph_to_dot(graph, entry.name) if arguments.dot else str(graph))
    return 0


# -- export ------------------------------------------------------------------------------------------
def _export(arguments) -> int:
    """Each saved specialisation as a C function of a shared library (backends/llvm/export.py)."""
    from .backends.llvm.export import export_library, specialisations
    model = read_model(arguments.model)
    stem = os.path.splitext(os.path.basename(arguments.model))[0]
    header = arguments.header or os.path.join(os.path.dirname(arguments.shared), stem + ".h")
    functions = export_library(specialisations(model.entry_points, model.module), arguments.shared, header,
                               prefix=arguments.prefix, cpu=arguments.cpu, compiler=arguments.cc,
                               origin=os.path.basename(arguments.model))
    print(f"wrote {arguments.shared} and {header}: " + ", ".join(f.name for f in functions))
    return 0


# -- the command line ---------------------------------------------------------------------------------
def _call_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", action="append", default=[], metavar="X.npy",
                        help="a positional argument, read with np.load (repeat in parameter order)")
    parser.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                        help="a keyword argument: an int, float, True, False, None or a string")
    parser.add_argument("--backend", choices=["llvm", "interpreter"], default=None,
                        help="the backend to compile with (default: llvm)")
    parser.add_argument("--trust-native-code", action="store_true",
                        help="run the object code and optimised graphs the file holds (jitc.load's "
                             "trust_native_code): only for files you would run as programs")
    _method_option(parser)


def _method_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", default=None, metavar="NAME",
                        help="for a saved module: the method to use (default: forward)")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    parser = argparse.ArgumentParser(prog="jitc", description="Inspect, run and time saved jitc models.")
    parser.add_argument("--version", action="version", version=f"jitc {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    inspect_command = commands.add_parser("inspect", help="entry points, signatures, parameters, ops")
    inspect_command.add_argument("model")
    inspect_command.add_argument("--json", action="store_true", help="print the summary as JSON")
    inspect_command.set_defaults(handler=_inspect)

    run_command = commands.add_parser("run", help="call the model on .npy inputs")
    run_command.add_argument("model")
    _call_options(run_command)
    run_command.add_argument("--output", action="append", default=[], metavar="Y.npy",
                             help="where to write the result (several outputs: once, as Y_0.npy, "
                                  "Y_1.npy, ..., or once per output); without it results are printed")
    run_command.set_defaults(handler=_run)

    graph_command = commands.add_parser("graph", help="print a graph as IR text or Graphviz dot")
    graph_command.add_argument("model")
    graph_command.add_argument("--dot", action="store_true", help="Graphviz dot of the top-level graph")
    graph_command.add_argument("--graph", type=int, default=0, metavar="N", help="which graph (default 0)")
    graph_command.add_argument("--specialized", action="store_true",
                               help="choose among the specialised graphs saved with the model")
    _method_option(graph_command)
    graph_command.set_defaults(handler=_graph)

    bench_command = commands.add_parser("bench", help="latency percentiles of repeated calls")
    bench_command.add_argument("model")
    _call_options(bench_command)
    bench_command.add_argument("--repeat", type=int, default=100, metavar="N", help="timed calls (default 100)")
    bench_command.add_argument("--warmup", type=int, default=3, metavar="N",
                               help="untimed calls after the first (default 3)")
    bench_command.set_defaults(handler=_bench)

    export_command = commands.add_parser("export", help="compile the saved versions into a C shared library")
    export_command.add_argument("model")
    export_command.add_argument("--shared", required=True, metavar="LIBMODEL.so", help="the library to write")
    export_command.add_argument("--header", metavar="MODEL.h",
                                help="the C header to write (default: the model's name with .h, beside the library)")
    export_command.add_argument("--prefix", default="", help="prepended to every exported function's name")
    export_command.add_argument("--cpu", default=None, metavar="NAME",
                                help="LLVM CPU name to compile for, e.g. x86-64 (default: this machine's CPU)")
    export_command.add_argument("--cc", default=os.environ.get("CC", "cc"), metavar="CC",
                                help="the C compiler that links the library (default: $CC or cc)")
    export_command.set_defaults(handler=_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv` (default: sys.argv[1:]); returns the exit status."""
    try:
        arguments = build_parser().parse_args(argv)
    except SystemExit as exit:  # --help, --version and usage errors (status 2)
        return exit.code if isinstance(exit.code, int) else EXIT_ERROR
    try:
        return arguments.handler(arguments)
    except KeyboardInterrupt:
        print("jitc: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - every error is reported as one line, by design
        message = str(error) or type(error).__name__
        print(f"jitc {arguments.command}: error: {message}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
