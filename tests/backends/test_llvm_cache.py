"""The compilation cache (backends/llvm/cache.py): a second process loads
object code instead of compiling, a damaged entry is rebuilt, and graphs
that differ only in their constants' values share code but not data."""
from __future__ import annotations

import hashlib
import json
import pathlib
import zlib

import numpy as np
import pytest

import jitc
from jitc.backends.llvm import cache
from support.processes import CACHED_LAYER, run_cached_layer, run_program

def _run(tmp_path: pathlib.Path) -> str:
    return run_cached_layer(tmp_path)[1]


def test_a_second_process_loads_the_object_code(tmp_path):
    assert _run(tmp_path) == "compiled"
    assert len(list((tmp_path / "cache").glob("*.jitcobj"))) == 1
    assert _run(tmp_path) == "disk"


def test_a_damaged_entry_is_rebuilt(tmp_path):
    _run(tmp_path)
    (entry,) = (tmp_path / "cache").glob("*.jitcobj")
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    assert _run(tmp_path) == "compiled"
    assert _run(tmp_path) == "disk"
    entry.write_bytes(b"truncated")
    assert _run(tmp_path) == "compiled"


def test_the_key_follows_the_code_generator(monkeypatch):
    """An edited lowering under the same version string must not run object
    code the old one made: the key holds the text of the code generator."""
    graph = jitc.script(tanh_layer).graph_for(np.ones((2, 3)), np.ones((3, 4)))
    before = cache.cache_key(graph, ())
    assert cache.cache_key(graph, ()) == before
    monkeypatch.setattr(cache, "code_generator_digest", lambda: "an edited backend")
    assert cache.cache_key(graph, ()) != before


def test_the_source_digest_is_kept_until_a_file_changes(tmp_path, monkeypatch):
    """The digest of the sources is read from the cache folder while every
    file's stat is unchanged (so a process need not read them), and computed
    from the text again once a file is written."""
    monkeypatch.setenv("JITC_CACHE_DIR", str(tmp_path / "cache"))
    sources = tmp_path / "sources"
    (sources / "inner").mkdir(parents=True)
    (sources / "a.py").write_text("A = 1\n")
    (sources / "inner" / "b.py").write_text("B = 2\n")
    (sources / "notes.txt").write_text("not source")
    expected = hashlib.sha256(b"a.py\0A = 1\n" + b"inner/b.py\0B = 2\n").hexdigest()
    assert cache.source_digest(str(sources)) == expected
    (memo,) = (tmp_path / "cache").glob("*.sources")
    memo.write_text("0" * 64)  # a digest this test planted: read back while the files stay as they are
    assert cache.source_digest(str(sources)) == "0" * 64
    (sources / "inner" / "b.py").write_text("B = 3\n")  # the same size: the stamp still changes
    assert cache.source_digest(str(sources)) == hashlib.sha256(b"a.py\0A = 1\n" + b"inner/b.py\0B = 3\n").hexdigest()
    (sources / "inner" / "b.py").write_text("B = 2\n")
    assert cache.source_digest(str(sources)) == expected
    for memo in (tmp_path / "cache").glob("*.sources"):
        memo.write_text("not a digest")  # a damaged memo is not believed
    assert cache.source_digest(str(sources)) == expected


def test_the_host_as_llvm_names_it_is_kept_until_the_cpu_or_llvm_changes(tmp_path, monkeypatch):
    """The key's CPU name and features come from the cache folder while
    /proc/cpuinfo's description and llvmlite's library are unchanged, so
    a process need not import LLVM to find its cached code; another CPU
    asks LLVM again, and the key follows what LLVM says."""
    monkeypatch.setenv("JITC_CACHE_DIR", str(tmp_path / "cache"))
    host = cache.host.__wrapped__
    truth = cache._llvm_host()
    assert host() == truth
    memos = list((tmp_path / "cache").glob("*.host"))
    if not memos:  # no /proc/cpuinfo here: LLVM is asked every time
        assert cache._cpu_stamp() is None
        return
    memos[0].write_text('["0.0", "planted", "+feature"]')
    assert host() == ["0.0", "planted", "+feature"]
    monkeypatch.setattr(cache, "_cpu_stamp", lambda: "model name : another CPU\n")
    assert host() == truth
    memos[0].write_text("[1, 2]")
    monkeypatch.undo()
    monkeypatch.setenv("JITC_CACHE_DIR", str(tmp_path / "cache"))
    assert host() == truth  # a damaged memo is not believed
    graph = jitc.script(tanh_layer).graph_for(np.ones((2, 3)), np.ones((3, 4)))
    before = cache.cache_key(graph, ())
    monkeypatch.setattr(cache, "host", lambda: [*truth[:2], truth[2] + ",+another-feature"])
    assert cache.cache_key(graph, ()) != before


def test_running_cached_code_does_not_import_the_code_generator(tmp_path):
    """A process whose object code comes from the disk cache imports neither the
    code generator nor its lowering tables, nor (where jitc loads objects
    itself) LLVM: start-up time."""
    from jitc.backends.llvm import engine
    program = CACHED_LAYER + (
        "import sys\n"
        "print(sorted(name for name in sys.modules if name.split('.')[-1] in ('codegen', 'lowerings')\n"
        "             or name == 'llvmlite.binding'))\n")
    folder = str(tmp_path / "cache")
    first = run_program(program, tmp_path, JITC_CACHE_DIR=folder).splitlines()
    second = run_program(program, tmp_path, JITC_CACHE_DIR=folder).splitlines()
    assert first[0] == "built compiled" and "jitc.backends.llvm.codegen" in first[1]
    assert second[0] == "disk disk"
    assert second[1] == ("[]" if engine.OWN_LOADER else "['llvmlite.binding']")


def tanh_layer(x, w):
    return np.tanh(x @ w)


def test_same_code_different_constants():
    rng = np.random.default_rng(1)
    traced = [jitc.trace(lambda x, w=w: x @ w, (rng.standard_normal((2, 3)),))
              for w in (np.ones((3, 4)), np.full((3, 4), 3.0))]
    x = rng.standard_normal((2, 3))
    first, second = (t(x) for t in traced)
    np.testing.assert_allclose(first, x @ np.ones((3, 4)))
    np.testing.assert_allclose(second, x @ np.full((3, 4), 3.0))
    assert traced[1].compile_stats()[0]["code_from"] == "memory"


def test_entries_round_trip_and_first_format_entries_still_read():
    ir = "define void @f() {\n  ret void\n}\n"
    entry = cache.Entry(["f"], ["w"], [("f", "a message")], ir)
    key, back, obj = cache.decode(cache.encode("k", entry, b"object code"))
    assert (key, back.entries, back.constant_keys, back.errors, obj) == ("k", ["f"], ["w"], [("f", "a message")],
                                                                          b"object code")
    assert zlib.decompress(back.llvm_ir).decode() == ir  # kept compressed until listed
    meta = zlib.compress(json.dumps({"key": "k", "entries": ["f"], "constant_keys": [], "errors": [],
                                     "llvm_ir": ir}).encode())
    body = len(meta).to_bytes(8, "little") + meta + b"old object"
    old = cache.decode(cache.MAGIC_V1 + body + hashlib.sha256(body).digest())  # what model files hold
    assert old[1].llvm_ir == ir and old[2] == b"old object"
    encoded = cache.encode("k", entry, b"object code")
    for damaged in (encoded[:-40], encoded[:len(cache.MAGIC) + 20], b"x" + encoded[1:]):
        with pytest.raises(ValueError):
            cache.decode(damaged)
