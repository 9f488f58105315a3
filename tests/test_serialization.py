"""jitc.save / jitc.load: round trips, loading in a process that never
sees the source, and damaged files that must end in LoadError."""
from __future__ import annotations

import collections
import hashlib
import itertools
import json
import mmap
import os
import pathlib
import subprocess
import sys
import tempfile
import textwrap
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitc
from jitc.serialization import BUG_MARKER
from support.compare import assert_same


def mlp(x, w1, b1, w2, b2):
    return np.tanh(x @ w1 + b1) @ w2 + b2


def _mlp_inputs(rng, batch=4):
    shapes = [(batch, 6), (6, 8), (8,), (8, 2), (2,)]
    return tuple(rng.standard_normal(s).astype(np.float32) for s in shapes)


def _affine_with_weights(rng):
    """A traced function whose weights are tensor constants in the graph."""
    w, b = rng.standard_normal((6, 3)), rng.standard_normal(3)

    def affine(x):
        return np.maximum(x @ w + b, 0.0)
    return affine, jitc.trace(affine, rng.standard_normal((2, 6)), backend="interpreter")


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    rng = np.random.default_rng(0)
    affine, traced = _affine_with_weights(rng)
    path = tmp_path_factory.mktemp("model") / "affine.jitc"
    jitc.save(traced, path)
    return path, affine


def test_round_trip_keeps_graph_and_results(tmp_path):
    rng = np.random.default_rng(1)
    traced = jitc.trace(mlp, _mlp_inputs(rng), backend="interpreter")
    jitc.save(traced, tmp_path / "mlp.jitc")
    loaded = jitc.load(tmp_path / "mlp.jitc", backend="interpreter")
    assert str(loaded.graph) == str(traced.graph)
    assert list(loaded.signature.parameters) == ["x", "w1", "b1", "w2", "b2"]
    for batch in (1, 5):
        args = _mlp_inputs(rng, batch)
        assert_same(loaded(*args), mlp(*args))


def test_tensor_constants_survive(saved_model):
    path, affine = saved_model
    loaded = jitc.load(path)
    x = np.random.default_rng(2).standard_normal((7, 6))
    assert_same(loaded(x), affine(x))
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    assert not any(name.endswith((".pkl", ".pickle", ".py")) for name in names)


def test_fresh_process_without_the_source_loads_and_runs(saved_model, tmp_path):
    path, affine = saved_model
    x = np.random.default_rng(3).standard_normal((5, 6))
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        try:
            import test_serialization
        except ImportError:
            pass
        else:
            raise SystemExit("the defining module must not be importable here")
        import jitc
        model = jitc.load({str(path)!r})
        np.save({str(tmp_path / 'y.npy')!r}, model(np.load({str(tmp_path / 'x.npy')!r})))
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, check=True, timeout=120)
    assert_same(np.load(tmp_path / "y.npy"), affine(x))


def test_newer_format_version_is_refused(saved_model, tmp_path):
    path, _ = saved_model
    copy = tmp_path / "newer.jitc"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(copy, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "manifest.json":
                manifest = json.loads(data)
                manifest["format_version"] = 99
                data = json.dumps(manifest).encode()
            target.writestr(item, data)
    with pytest.raises(jitc.LoadError, match="format version 99, newer than"):
        jitc.load(copy)


def test_changed_tensor_bytes_fail_the_checksum(saved_model, tmp_path):
    path, _ = saved_model
    copy = tmp_path / "tampered.jitc"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(copy, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.startswith("tensors/"):
                data = bytes([data[0] ^ 1]) + data[1:]
            target.writestr(item, data)
    with pytest.raises(jitc.LoadError, match="checksum"):
        jitc.load(copy)


def test_not_a_zip_file(tmp_path):
    (tmp_path / "junk.jitc").write_bytes(b"\x80\x04 this is not a model")
    with pytest.raises(jitc.LoadError, match="cannot open"):
        jitc.load(tmp_path / "junk.jitc")


def test_saving_refuses_defaults_it_cannot_store(tmp_path):
    rng = np.random.default_rng(4)
    traced = jitc.trace(mlp, _mlp_inputs(rng), backend="interpreter")
    traced.signature = traced.signature.replace(parameters=[
        p.replace(default=object()) if p.name == "b2" else p for p in traced.signature.parameters.values()])
    with pytest.raises(TypeError, match="default value of parameter 'b2'"):
        jitc.save(traced, pathlib.Path(tmp_path) / "bad.jitc")


# -- format version 2: what the file holds ---------------------------------------------------------
def _rewrite(source: pathlib.Path, target: pathlib.Path, change=lambda name, data: data, add=()):
    """Copy a model entry by entry (local headers keep their size, so tensor
    offsets stay put); `change` returns new bytes or None to drop an entry."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = change(item.filename, old.read(item))
            if data is not None:
                new.writestr(item, data)
        for name, data in add:
            new.writestr(name, data)
    return target


def _edit_manifest(source, target, edit):
    def change(name, data):
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        edit(manifest)
        return json.dumps(manifest).encode()
    return _rewrite(source, target, change)


def _manifest(path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("manifest.json"))


def scaled_tanh(x, w, scale: float = 2.0, shift: int = 1):
    return np.tanh(x @ w) * scale + shift


@pytest.fixture(scope="module")
def scripted_model(tmp_path_factory):
    """A scripted function called with two signatures, so two specialised
    graphs are saved beside the generic ones."""
    function = jitc.script(scaled_tanh, backend="interpreter")
    rng = np.random.default_rng(5)
    for dtype in (np.float64, np.float32):
        function(rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal((4, 2)).astype(dtype))
    path = tmp_path_factory.mktemp("scripted") / "scaled_tanh.jitc"
    jitc.save(function, path, extra_files={"vocab.txt": "a b c", "config.json": b'{"k": 1}'})
    return path, function


def test_manifest_describes_entry_points_versions_and_ops(scripted_model):
    path, function = scripted_model
    manifest = _manifest(path)
    assert (manifest["format"], manifest["format_version"]) == ("jitc-model", 2)
    assert manifest["jitc_version"] == jitc.__version__
    [entry] = manifest["entry_points"]
    assert entry["name"] == "scaled_tanh" and entry["kind"] == "function"
    assert entry["parameters"] == [{"name": "x"}, {"name": "w"}, {"name": "scale", "default": 2.0},
                                   {"name": "shift", "default": 1}]
    assert [g["inputs"] for g in entry["specializations"]] == [
        ["Double(*, *)", "Double(*, *)", "float", "int"], ["Float(*, *)", "Float(*, *)", "float", "int"]]
    assert all(len(g["outputs"]) == 1 for g in entry["graphs"] + entry["specializations"])
    assert {"np::matmul", "np::tanh"} <= set(manifest["ops"]) and set(manifest["ops"].values()) == {1}
    assert manifest["native"] == []
    assert [e["name"] for e in manifest["extra_files"]] == ["vocab.txt", "config.json"]


def test_specializations_round_trip_and_survive_a_second_save(scripted_model, tmp_path):
    path, function = scripted_model
    loaded = jitc.load(path, backend="interpreter")
    originals = {s.types: str(s.graph) for s in function.specializations()}
    assert {types: str(graph) for types, graph in loaded.saved_specializations.items()} == originals
    jitc.save(loaded, tmp_path / "again.jitc")
    again = jitc.load(tmp_path / "again.jitc")
    assert {types: str(graph) for types, graph in again.saved_specializations.items()} == originals


def split_rows(x, n: int):
    return np.stack(np.split(x, n)) * 2.0  # n decides the result's shape: compiled once per value


def test_versions_compiled_for_int_values_keep_them_through_load_save_and_export(tmp_path):
    from jitc.backends.llvm.cache import canonical_text
    from jitc.backends.llvm.export import specialisations
    from jitc.serialization import read_model

    def by_value(path):
        """{n: IR text, values numbered in order} of the file's specialisations,
        by the value each records (a version compiled again after loading
        numbers its values differently)."""
        entry = read_model(path).entry_points[0]
        return {static["n"]: canonical_text(graph)
                for graph, static in zip(entry.specializations, entry.specialization_static)}

    scripted = jitc.script(split_rows)
    x = np.linspace(-1.0, 1.0, 8)
    scripted(x, 2), scripted(x, 4)
    jitc.save(scripted, tmp_path / "split.jitc")
    [entry] = _manifest(tmp_path / "split.jitc")["entry_points"]
    assert [record.get("static") for record in entry["specializations"]] == [{"n": 2}, {"n": 4}]
    for trust in (False, True):
        loaded = jitc.load(tmp_path / "split.jitc", trust_native_code=trust)
        for n in (4, 2):
            assert_same(loaded(x, n), split_rows(x, n))
        with pytest.raises(TypeError, match=r"saved for arguments of types \(Double\(\*\), n=2\); "):
            loaded(x, 8)
        jitc.save(loaded, tmp_path / "again.jitc")  # versions compiled after loading come first
        assert by_value(tmp_path / "again.jitc") == by_value(tmp_path / "split.jitc")
    found = specialisations(read_model(tmp_path / "again.jitc").entry_points)
    assert sorted(version.static["n"] for version in found) == [2, 4]
    x = np.linspace(-1.0, 1.0, 12)  # sizes other than 1, as saved: the trusted load runs the saved graph for n=4
    assert loaded.graph_for(x, 4) is loaded.saved_specializations[loaded.signature_of([x, 4])]


def test_defaults_and_argument_names_survive(scripted_model):
    path, _ = scripted_model
    loaded = jitc.load(path, backend="interpreter")
    assert str(loaded.signature) == "(x, w, scale=2.0, shift=1)"
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((2, 4)), rng.standard_normal((4, 2))
    assert_same(loaded(x, w), scaled_tanh(x, w))
    assert_same(loaded(x, w=w, shift=3), scaled_tanh(x, w, shift=3))


def test_source_locations_survive_and_point_at_the_defining_file(scripted_model):
    path, function = scripted_model
    loaded = jitc.load(path)
    sources = [node.source for node in loaded.graph.walk() if node.kind == "np::tanh"]
    assert sources and sources[0].filename == __file__
    original = next(node.source for node in function.graph.walk() if node.kind == "np::tanh")
    assert sources[0] == original
    message = jitc.errors.format_with_source("error in the loaded model", sources[0])
    assert "return np.tanh(x @ w) * scale + shift" in message


def test_tensors_are_mapped_read_only_without_copies(saved_model):
    path, _ = saved_model
    loaded = jitc.load(path)
    arrays = list(loaded.graph.tensors.values())
    assert arrays
    manifest = _manifest(path)
    raw = path.read_bytes()
    for array, entry in zip(arrays, manifest["tensors"]):
        assert not array.flags.writeable
        with pytest.raises(ValueError):
            array[...] = 0
        base = array
        while base is not None and not isinstance(base, mmap.mmap):
            base = base.obj if isinstance(base, memoryview) else base.base
        assert isinstance(base, mmap.mmap)
        assert entry["offset"] % 64 == 0
        assert raw[entry["offset"]:entry["offset"] + entry["nbytes"]] == array.astype("<f8").tobytes()


def test_saving_is_deterministic(tmp_path):
    rng = np.random.default_rng(7)
    _, traced = _affine_with_weights(rng)
    jitc.save(traced, tmp_path / "a.jitc")
    jitc.save(traced, tmp_path / "b.jitc")
    assert (tmp_path / "a.jitc").read_bytes() == (tmp_path / "b.jitc").read_bytes()


def test_extra_files_fill_the_given_dict(scripted_model):
    path, _ = scripted_model
    extra = {"vocab.txt": "", "config.json": "", "absent.txt": "kept"}
    jitc.load(path, extra_files=extra)
    assert extra == {"vocab.txt": b"a b c", "config.json": b'{"k": 1}', "absent.txt": "kept"}


@pytest.mark.parametrize("name", ["../escape", "a/b", ".hidden", "", "x" * 201])
def test_extra_file_names_are_checked_when_saving(saved_model, tmp_path, name):
    loaded = jitc.load(saved_model[0])
    with pytest.raises(ValueError, match="extra file name"):
        jitc.save(loaded, tmp_path / "bad.jitc", extra_files={name: b""})


def test_format_version_1_is_refused_with_advice(saved_model, tmp_path):
    copy = _edit_manifest(saved_model[0], tmp_path / "v1.jitc", lambda m: m.update(format_version=1))
    with pytest.raises(jitc.LoadError, match="format version 1 .*save it again"):
        jitc.load(copy)


def test_newer_format_version_names_the_writer(saved_model, tmp_path):
    copy = _edit_manifest(saved_model[0], tmp_path / "v4.jitc",
                          lambda m: m.update(format_version=4, jitc_version="9.1.0"))
    with pytest.raises(jitc.LoadError, match=r"format version 4, .*written by jitc 9\.1\.0"):
        jitc.load(copy)


def test_a_module_is_format_version_3_and_a_function_stays_version_2(saved_model, fuzz_model, tmp_path):
    assert _manifest(saved_model[0])["format_version"] == 2  # older jitc read it
    manifest = _manifest(fuzz_model)
    assert (manifest["format_version"], manifest["module"]) == (3, "Shifted")
    assert {entry["kind"] for entry in manifest["entry_points"]} == {"method"}
    copy = _edit_manifest(fuzz_model, tmp_path / "v2.jitc", lambda m: m.update(format_version=2))
    with pytest.raises(jitc.LoadError, match="format version 2, which holds no modules"):
        jitc.load(copy)
    copy = _edit_manifest(fuzz_model, tmp_path / "nomodule.jitc", lambda m: m.pop("module"))
    with pytest.raises(jitc.LoadError, match="entry point 0 is a method, but the file names no module"):
        jitc.load(copy)
    copy = _edit_manifest(fuzz_model, tmp_path / "noforward.jitc",
                          lambda m: m["entry_points"][0].update(name="backward"))
    with pytest.raises(jitc.LoadError, match="module 'Shifted' has no forward method"):
        jitc.load(copy)


def test_unknown_op_is_refused_by_name(saved_model, tmp_path):
    copy = _edit_manifest(saved_model[0], tmp_path / "op.jitc", lambda m: m["ops"].update({"np::frobnicate": 1}))
    with pytest.raises(jitc.LoadError, match="np::frobnicate, which this jitc .* does not know"):
        jitc.load(copy)


def test_newer_op_version_is_refused_by_name(saved_model, tmp_path):
    copy = _edit_manifest(saved_model[0], tmp_path / "op.jitc", lambda m: m["ops"].update({"np::matmul": 2}))
    with pytest.raises(jitc.LoadError, match="np::matmul at version 2, newer than"):
        jitc.load(copy)


def test_graph_op_missing_from_the_op_table_is_refused(saved_model, tmp_path):
    copy = _edit_manifest(saved_model[0], tmp_path / "op.jitc", lambda m: m["ops"].pop("np::matmul"))
    with pytest.raises(jitc.LoadError, match="uses op np::matmul, which the file's op table does not list"):
        jitc.load(copy)


def test_unexpected_and_compressed_entries_are_refused(saved_model, tmp_path):
    extra = _rewrite(saved_model[0], tmp_path / "extra.jitc", add=[("payload.py", b"import os")])
    with pytest.raises(jitc.LoadError, match="payload.py"):
        jitc.load(extra)
    compressed = tmp_path / "compressed.jitc"
    with zipfile.ZipFile(saved_model[0]) as old, \
            zipfile.ZipFile(compressed, "w", compression=zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            new.writestr(item.filename, old.read(item))
    with pytest.raises(jitc.LoadError, match="compressed"):
        jitc.load(compressed)


def test_shape_edit_that_keeps_the_byte_count_is_caught(saved_model, tmp_path):
    copy = _edit_manifest(saved_model[0], tmp_path / "shape.jitc",
                          lambda m: m["tensors"][0].update(shape=m["tensors"][0]["shape"][::-1]))
    with pytest.raises(jitc.LoadError, match="declared .* but @"):
        jitc.load(copy)


def test_native_section_is_checked_and_listed(saved_model, tmp_path):
    from jitc.serialization import read_model
    code = b"\x7fELF not really"
    entry = {"target": "x86_64-unknown-linux-gnu skylake llvmlite-0.44", "file": "native/0.o",
             "size": len(code), "sha256": hashlib.sha256(code).hexdigest()}

    def edit(manifest):
        manifest["native"] = manifest["native"] + [entry]
    copy = _edit_manifest(saved_model[0], tmp_path / "native.jitc", edit)
    with zipfile.ZipFile(copy, "a") as archive:
        archive.writestr("native/0.o", code)
    listed = read_model(copy).native[-1]
    assert listed == {"target": entry["target"], "file": "native/0.o", "size": len(code), "data": code}
    with pytest.raises(jitc.LoadError, match="native code 'native/0.o' is damaged"):
        jitc.load(copy, trust_native_code=True)  # checked, then refused: not a jitc object
    jitc.load(copy)  # never looked at without trust
    missing = _edit_manifest(saved_model[0], tmp_path / "missing.jitc", edit)
    with pytest.raises(jitc.LoadError, match="no entry 'native/0.o'"):
        jitc.load(missing)


# -- damaged files: every case ends in a loaded model or LoadError -------------------------------
_FUZZ_WEIGHTS = np.arange(6.0).reshape(2, 3)


class Shifted(jitc.nn.Module):
    def __init__(self):
        self.weights = _FUZZ_WEIGHTS

    def forward(self, x, shift: float = 0.5):
        return np.tanh(x @ self.weights) + shift

    @jitc.export
    def scaled(self, x):
        return x @ self.weights * 2.0


@pytest.fixture(scope="module")
def fuzz_model(tmp_path_factory):
    """Small but with every part: a module of two methods, each with
    generic graphs for rank 1 and 2 (and forward's for the annotations
    alone) and two specialisations, a default, a tensor constant they
    share and an extra file."""
    scripted = jitc.script(Shifted(), backend="interpreter")
    for x in (np.ones((4, 2)), np.ones(2)):
        scripted(x), scripted.scaled(x)
    path = tmp_path_factory.mktemp("fuzz") / "model.jitc"
    jitc.save(scripted, path, extra_files={"notes": b"x"})
    manifest = _manifest(path)
    assert [entry["name"] for entry in manifest["entry_points"]] == ["forward", "scaled"]
    assert len(manifest["entry_points"][0]["graphs"]) >= 2  # with the one for the annotations alone
    assert all(len(entry["specializations"]) == 2 for entry in manifest["entry_points"])
    assert len(manifest["tensors"]) == 1 and manifest["extra_files"]
    return path


_FUZZ_INPUTS = (np.linspace(-1.0, 1.0, 8).reshape(4, 2), np.linspace(-1.0, 1.0, 2))  # the two saved ranks
# What a call of a self-consistent but edited model may raise: a complaint about its arguments or its
# graph (a shape or type that does not fit, a failed assert), as any call of a compiled function may.
_CALL_ERRORS = (TypeError, ValueError, ArithmeticError, AssertionError, jitc.JitcError)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A folder for the fuzz tests' thousands of files: in memory (/dev/shm)
    where the system has one, as rewriting a file on disk can cost milliseconds."""
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        with tempfile.TemporaryDirectory(dir="/dev/shm", prefix="jitc-fuzz-") as folder:
            yield pathlib.Path(folder)
    else:
        yield tmp_path_factory.mktemp("fuzz-scratch")


def _load_outcome(path, same_model: bool) -> str:
    """Loading ends in a LoadError that the loader's checks raised on purpose
    (not its last-resort wrapper around a bug), or in a model, which is
    called on inputs of both saved ranks. Where no checksum was fixed up
    (`same_model`), a model that loads is the one saved: it must compute
    what `Shifted` computes. An edited file that is consistent again may
    hold another model: its calls return or raise one of _CALL_ERRORS.
    Returns "refused" or "loaded"."""
    try:
        loaded = jitc.load(path, backend="interpreter")
    except jitc.LoadError as error:
        assert BUG_MARKER not in str(error), error
        return "refused"
    with pytest.MonkeyPatch.context() as patch:
        # The passes' own checks (the verifier after every pass, which the suite turns on) would
        # make the calls of thousands of cases most of these tests' time.
        patch.setenv("JITC_VERIFY", "0")
        _call_loaded(loaded, same_model)
    return "loaded"


def _call_loaded(loaded, same_model: bool) -> None:
    methods = getattr(loaded, "methods", {"forward": loaded})
    for (name, method), x in itertools.product(methods.items(), _FUZZ_INPUTS):
        if same_model:
            assert_same(method(x), getattr(Shifted(), name)(x))
            continue
        try:
            with np.errstate(all="ignore"):
                method(x)
        except _CALL_ERRORS:
            pass


def test_random_byte_mutations_end_in_load_error(fuzz_model, scratch):
    """Several thousand flips, truncations, insertions and deletions."""
    import random
    generator = random.Random(1234)
    original = fuzz_model.read_bytes()
    target = scratch / "mutated.jitc"
    cases = int(os.environ.get("JITC_FUZZ_CASES", "3000"))
    outcomes = collections.Counter()
    for case in range(cases):
        mutated = bytearray(original)
        for _ in range(generator.randint(1, 3)):
            position = generator.randrange(len(mutated)) if mutated else 0
            action = generator.choice(["flip", "flip", "truncate", "insert", "delete", "zero"])
            if action == "flip":
                mutated[position] ^= 1 << generator.randrange(8)
            elif action == "truncate":
                del mutated[position:]
            elif action == "insert":
                mutated[position:position] = generator.randbytes(generator.randint(1, 8))
            elif action == "delete":
                del mutated[position:position + generator.randint(1, 8)]
            else:
                mutated[position:position + 4] = bytes(len(mutated[position:position + 4]))
        target.write_bytes(bytes(mutated))
        outcomes[_load_outcome(target, same_model=True)] += 1
    assert outcomes["refused"] > cases * 0.9, outcomes


def test_mutated_graph_text_with_fixed_checksums_ends_in_load_error(fuzz_model, scratch):
    """Mutate the IR text of one graph and write its new checksum into the
    manifest, so the parser and verifier see the damage, not the checksum."""
    import random
    generator = random.Random(99)
    with zipfile.ZipFile(fuzz_model) as archive:
        entries = {item.filename: archive.read(item) for item in archive.infolist()}
    graphs = [name for name in entries if name.endswith(".ir")]
    target = scratch / "text.jitc"
    cases = int(os.environ.get("JITC_FUZZ_CASES", "3000")) // 3
    outcomes = collections.Counter()
    for case in range(cases):
        name = generator.choice(graphs)
        text = bytearray(entries[name])
        for _ in range(generator.randint(1, 3)):
            position = generator.randrange(len(text))
            action = generator.choice(["replace", "delete", "insert", "duplicate"])
            if action == "replace":
                text[position] = generator.choice(b"%@()[],:=*-.#0123456789 \nabcxyzFDT")
            elif action == "delete":
                del text[position:position + generator.randint(1, 12)]
            elif action == "insert":
                text[position:position] = generator.choice(
                    [b"(", b")", b"%x", b"%0", b"@c", b"99999999999999999999", b"-1", b"block0(", b"\n",
                     b"np::add", b"Float(", b"List[", b"# a.py:1:2", b"prim::Loop", b"[axis=7]"])
            else:
                start = generator.randrange(len(text))
                text[position:position] = text[start:start + generator.randint(1, 40)]
        manifest = json.loads(entries["manifest.json"])
        for record in (record for entry in manifest["entry_points"]
                       for record in entry["graphs"] + entry["specializations"]):
            if record["file"] == name:
                record["sha256"] = hashlib.sha256(bytes(text)).hexdigest()
        changed = {**entries, name: bytes(text), "manifest.json": json.dumps(manifest).encode()}
        _rewrite(fuzz_model, target, lambda entry, data: changed[entry])
        outcomes[_load_outcome(target, same_model=False)] += 1
    assert min(outcomes["refused"], outcomes["loaded"]) > cases * 0.05, outcomes


def test_swapped_and_dropped_entries_end_in_load_error(fuzz_model, tmp_path):
    with zipfile.ZipFile(fuzz_model) as archive:
        entries = {item.filename: archive.read(item) for item in archive.infolist()}
    names = list(entries)
    for first in names:
        for second in names:
            swapped = {n: entries[second] if n == first else entries[first] if n == second else entries[n]
                       for n in names}
            target = _rewrite(fuzz_model, tmp_path / "swapped.jitc", lambda n, d: swapped[n])
            if entries[first] == entries[second]:  # the same entry, or a specialisation equal to its graph
                jitc.load(target)
                continue
            with pytest.raises(jitc.LoadError):
                jitc.load(target)
        dropped = _rewrite(fuzz_model, tmp_path / "dropped.jitc", lambda n, d: None if n == first else d)
        with pytest.raises(jitc.LoadError):
            jitc.load(dropped)


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats()
                     | st.text(max_size=12) | st.sampled_from(["graphs/0.ir", "tensors/0.bin", "float64",
                                                               "np::add", "prim::Constant", "x"]),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                  max_size=4),
                     max_leaves=10)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_manifest_edits_end_in_load_error_or_load_cleanly(fuzz_model, scratch, data):
    """Replace, delete or add one field anywhere in the manifest."""
    manifest = _manifest(fuzz_model)
    paths = list(_paths(manifest))[1:]
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths))
        parent = manifest
        try:
            for key in path[:-1]:
                parent = parent[key]
            action = data.draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                parent[path[-1]] = data.draw(_JSON)
            elif action == "delete":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[data.draw(st.text(max_size=8))] = data.draw(_JSON)
            elif isinstance(parent, list):  # an earlier edit may have made it a scalar: nothing to add to
                parent.append(data.draw(_JSON))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this path
    text = json.dumps(manifest)
    target = scratch / "edited.jitc"
    _rewrite(fuzz_model, target, lambda name, old: text.encode() if name == "manifest.json" else old)
    _load_outcome(target, same_model=False)


# -- the examples as modules, loaded where their source cannot be imported -----------------------------
def _example(name: str):
    """examples/<name>.py as a module (it imports example_checks from its folder)."""
    import importlib
    from support.processes import ROOT
    if str(ROOT / "examples") not in sys.path:
        sys.path.insert(0, str(ROOT / "examples"))
    return importlib.import_module(name)


class RNNModel(jitc.nn.Module):
    """The RNN example as a module: its weights are parameters, `forward`
    runs a sequence with rnn() of the example, `step` (exported) one step."""

    def __init__(self, rnn, inputs):
        _, _, self.W_h, self.U_h, _ = inputs(T=1)
        self.b_h = np.linspace(-0.5, 0.5, self.W_h.shape[0], dtype=self.W_h.dtype)
        self.rnn = rnn

    def forward(self, x, h):
        return self.rnn(x, h, self.W_h, self.U_h, self.b_h)

    @jitc.export
    def step(self, x_t, h):
        return np.tanh(x_t @ self.W_h + h @ self.U_h + self.b_h)


_ISOLATED_LOADER = """
import importlib.util, sys
for name in ("examples", "rnn", "gpt2", "example_checks", "test_serialization", "support"):
    assert importlib.util.find_spec(name) is None, f"{name} is importable here"
import numpy as np
import jitc
rnn = jitc.load("rnn.jitc")
y, h = rnn(np.load("x.npy"), np.load("h.npy"))
np.save("rnn_y.npy", y), np.save("rnn_h.npy", h)
np.save("rnn_step.npy", rnn.step(np.load("x.npy")[0], h=np.load("h.npy")))
for trust in (False, True):
    gpt2 = jitc.load("gpt2.jitc", trust_native_code=trust)
    np.save(f"gpt2_{trust}.npy", gpt2.forward(np.load("ids.npy")))
    np.save(f"gpt2_short_{trust}.npy", gpt2(np.load("ids.npy")[:5]))
print(rnn, str(rnn.step.signature), gpt2)
"""


def test_example_models_load_and_match_eager_where_their_source_cannot_be_imported(tmp_path):
    """The issue's criterion: a module scripting the RNN example and the
    GPT-2 example's module, saved, then loaded by `python -I` (no PYTHONPATH,
    no user site, no script folder on sys.path) with a working directory
    holding only the model files and the inputs, and compared with eager."""
    rnn_example, gpt2_example = _example("rnn"), _example("gpt2")
    rng = np.random.default_rng(8)
    rnn_model, gpt2_model = RNNModel(rnn_example.rnn, rnn_example.example_inputs), gpt2_example.GPT2()
    x, h = rnn_example.example_inputs(T=6, B=3)[0], rng.standard_normal((3, 64)).astype(np.float32)
    ids = rng.integers(0, 256, size=12)
    scripted_rnn, scripted_gpt2 = jitc.script(rnn_model), jitc.script(gpt2_model)
    scripted_rnn(x, h), scripted_rnn.step(x[0], h), scripted_gpt2(ids)
    folder = tmp_path / "deployed"
    folder.mkdir()
    jitc.save(scripted_rnn, folder / "rnn.jitc")
    jitc.save(scripted_gpt2, folder / "gpt2.jitc")
    for name, array in {"x": x, "h": h, "ids": ids}.items():
        np.save(folder / f"{name}.npy", array)
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    result = subprocess.run([sys.executable, "-I", "-c", _ISOLATED_LOADER], cwd=folder, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "<LoadedModule RNNModel: forward, step> (x_t, h) <LoadedModule GPT2: forward>"
    tolerance = rnn_example.TOLERANCE
    expected_y, expected_h = rnn_model(x, h)
    assert_same(np.load(folder / "rnn_y.npy"), expected_y, rtol=tolerance, atol=tolerance)
    assert_same(np.load(folder / "rnn_h.npy"), expected_h, rtol=tolerance, atol=tolerance)
    assert_same(np.load(folder / "rnn_step.npy"), rnn_model.step(x[0], h), rtol=tolerance, atol=tolerance)
    tolerance = gpt2_example.TOLERANCE
    for trust in (False, True):
        assert_same(np.load(folder / f"gpt2_{trust}.npy"), gpt2_model(ids), rtol=tolerance, atol=tolerance)
        assert_same(np.load(folder / f"gpt2_short_{trust}.npy"), gpt2_model(ids[:5]), rtol=tolerance,
                    atol=tolerance)


_CHECKED_SOURCE = '''
import numpy as np


def checked_projection(x, w):
    assert np.all(x > 0), "x must be positive"
    return np.log(x) @ w
'''


def test_errors_in_a_loaded_model_name_the_original_line_after_its_file_is_gone(tmp_path):
    import importlib.util
    source = tmp_path / "defining_module.py"
    source.write_text(_CHECKED_SOURCE)
    spec = importlib.util.spec_from_file_location("defining_module", source)
    defining = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(defining)
    scripted = jitc.script(defining.checked_projection)
    scripted(np.ones((2, 3)), np.ones((3, 4)))
    jitc.save(scripted, tmp_path / "checked.jitc")
    source.unlink()
    program = textwrap.dedent(f"""
        import numpy as np
        import jitc
        model = jitc.load({str(tmp_path / 'checked.jitc')!r})
        for x, w in ((-np.ones((2, 3)), np.ones((3, 4))), (np.ones((2, 3)), np.ones((5, 4)))):
            try:
                model(x, w)
            except (AssertionError, ValueError) as error:
                print(type(error).__name__, error)
    """)
    result = subprocess.run([sys.executable, "-I", "-c", program], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assertion, shapes = result.stdout.splitlines()
    assert assertion == f"AssertionError x must be positive (at {source}:6)"
    line = _CHECKED_SOURCE.splitlines()[6]  # the matmul's line, 7 in the file
    span = f"7:{line.index('np.log')}-7:{len(line)}"  # columns from 0, as the IR's sources count them
    assert shapes.startswith("ValueError matmul: ") and shapes.endswith(f"(at {source}:{span})")


def test_a_trusted_load_parses_generic_graphs_on_first_use(tmp_path):
    """Trusted, a call whose optimised graph the file holds runs without the
    generic graph being parsed; a generic graph that is damaged (its checksum
    fixed up) is refused when first needed, with a LoadError."""
    rng = np.random.default_rng(3)
    traced = jitc.trace(mlp, _mlp_inputs(rng))
    traced(*_mlp_inputs(rng))
    jitc.save(traced, tmp_path / "mlp.jitc")
    generic_file = _manifest(tmp_path / "mlp.jitc")["entry_points"][0]["graphs"][0]["file"]
    damaged_text = b"graph(%x : Float(*, 6)):\n  return (%undefined)\n"

    def damage(name, data):
        if name == generic_file:
            return damaged_text
        if name == "manifest.json":
            manifest = json.loads(data)
            manifest["entry_points"][0]["graphs"][0]["sha256"] = hashlib.sha256(damaged_text).hexdigest()
            return json.dumps(manifest).encode()
        return data
    damaged = _rewrite(tmp_path / "mlp.jitc", tmp_path / "damaged.jitc", damage)
    with pytest.raises(jitc.LoadError, match=generic_file):
        jitc.load(damaged)
    loaded = jitc.load(damaged, trust_native_code=True)
    args = _mlp_inputs(rng)
    assert_same(loaded(*args), mlp(*args), rtol=1e-5, atol=1e-5)  # float32, summed in another order
    with pytest.raises(jitc.LoadError, match=generic_file):
        loaded.graph
    with pytest.raises(jitc.LoadError, match=generic_file):
        loaded(*(a.astype(np.float64) for a in args))  # another dtype: built from the generic graph
    intact = jitc.load(tmp_path / "mlp.jitc", trust_native_code=True)
    assert str(intact.graph) == str(traced.graph)
    wider = tuple(a.astype(np.float64) for a in args)
    messages = []
    for model in (intact, jitc.load(tmp_path / "mlp.jitc")):  # the generic graph, parsed when needed, says why
        with pytest.raises(TypeError) as error:
            model(*wider)
        messages.append(str(error.value))
    assert messages[0] == messages[1] and "float32" in messages[0]
