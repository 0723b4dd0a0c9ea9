"""Distribution: what a wheel user gets.

* baseline objects hold no AVX (tools/check_baseline_isa.py; needs objdump and
  a build dir, skipped otherwise -- e.g. when testing an installed wheel);
* one OpenMP runtime, visible to threadpoolctl, and threadpool_limits works;
* cconv never sets OpenMP's global thread count itself;
* the type stubs match the compiled module and the API, and ship with it;
* the version has one source.
"""
from __future__ import annotations

import ast
import glob
import importlib.util
import inspect
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import cconv
from cconv import _api, _core

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PKG = os.path.dirname(os.path.abspath(cconv.__file__))
TOOL = os.path.join(ROOT, "tools", "check_baseline_isa.py")


# ---------------------------------------------------------------- baseline ISA

def _isa_tool():
    if not os.path.exists(TOOL):
        pytest.skip("tools/check_baseline_isa.py not here (testing an installed wheel)")
    if shutil.which("objdump") is None:
        pytest.skip("objdump not available")
    spec = importlib.util.spec_from_file_location("check_baseline_isa", TOOL)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _build_temp():
    """The build_ext temp dir of the current build, or skip."""
    env = os.environ.get("CCONV_BUILD_TEMP")
    cands = [env] if env else sorted(glob.glob(os.path.join(ROOT, "build", "temp.*")))
    cands = [c for c in cands if c and glob.glob(os.path.join(c, "cconv", "_core.o"))]
    if not cands:
        pytest.skip("no build dir with objects (build with `python setup.py build_ext "
                    "--inplace` or set CCONV_BUILD_TEMP)")
    return max(cands, key=os.path.getmtime)


def test_baseline_objects_have_no_avx(capsys):
    tool = _isa_tool()
    objdir = _build_temp()
    rc = tool.check(objdir)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "_core.o: baseline" in out  # the Cython module itself was checked


def test_isa_check_catches_avx_in_a_baseline_object(tmp_path, capsys):
    """Negative control: an AVX2 object under a baseline name must fail the check."""
    if platform_machine() not in ("x86_64", "amd64"):
        pytest.skip("AVX only exists on x86-64")
    tool = _isa_tool()
    objdir = _build_temp()
    avx2 = sorted(glob.glob(os.path.join(objdir, "src", "*_avx2.o")))
    assert avx2, "an x86-64 build must compile src/*_avx2.c"
    (tmp_path / "cconv").mkdir()
    (tmp_path / "src").mkdir()
    shutil.copy(os.path.join(objdir, "cconv", "_core.o"), tmp_path / "cconv" / "_core.o")
    shutil.copy(avx2[0], tmp_path / "src" / os.path.basename(avx2[0]))  # allowed there
    shutil.copy(avx2[0], tmp_path / "src" / "pool.o")  # not allowed here
    rc = tool.check(str(tmp_path))
    out = capsys.readouterr().out
    assert rc == 1, out
    assert "FAIL src/pool.o" in out
    assert "ymm" in out


@pytest.mark.slow
def test_fresh_build_is_baseline():
    """Build from a copy of the tree into a temp dir and check its objects."""
    _isa_tool()
    r = subprocess.run([sys.executable, TOOL, "--build", "-q"], capture_output=True, text=True,
                       timeout=1200)
    assert r.returncode == 0, r.stdout + r.stderr


def platform_machine():
    import platform
    return platform.machine().lower()


# ---------------------------------------------------------------- OpenMP / threads

def test_cconv_never_sets_the_global_thread_count_in_source():
    src = os.path.join(ROOT, "src")
    if not os.path.isdir(src):
        pytest.skip("no src/ here (testing an installed wheel)")
    files = glob.glob(os.path.join(src, "*.[ch]")) + [os.path.join(ROOT, "cconv", "_core.pyx")]
    offenders = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            for i, line in enumerate(fh, 1):
                if re.search(r"\bomp_set_num_threads\s*\(", line):
                    offenders.append(f"{os.path.relpath(f, ROOT)}:{i}: {line.strip()}")
    assert not offenders, "cconv must pass num_threads per region:\n" + "\n".join(offenders)


def test_compiled_module_does_not_import_omp_set_num_threads():
    """The same, on the binary that is installed: no reference to the symbol."""
    so = _core.__file__
    if not so.endswith(".so") or shutil.which("nm") is None:
        pytest.skip("needs an ELF/Mach-O extension and nm")
    r = subprocess.run(["nm", "-D", "--undefined-only", so], capture_output=True, text=True)
    if r.returncode != 0:
        r = subprocess.run(["nm", "-u", so], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"nm cannot read {so}: {r.stderr.strip()}")
    assert "omp_set_num_threads" not in r.stdout
    if _core.openmp_enabled():
        assert re.search(r"\bGOMP_|__kmpc_|omp_get_max_threads", r.stdout), \
            "an OpenMP build should import the OpenMP runtime"


def _env(**extra):
    """Environment for a child Python that imports the same cconv as this one."""
    path = os.pathsep.join(p for p in (os.path.dirname(PKG), os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, PYTHONPATH=path, **extra)


def _threadpoolctl():
    return pytest.importorskip("threadpoolctl")


def _openmp_only():
    if not _core.openmp_enabled():
        pytest.skip("cconv was built without OpenMP")


def test_threadpoolctl_sees_exactly_one_openmp_runtime():
    """In a fresh process that imports only cconv, threadpoolctl lists one
    OpenMP runtime, and it is the one cconv loaded."""
    _threadpoolctl()
    _openmp_only()
    code = ("import json, cconv, threadpoolctl\n"
            "from cconv import _api\n"
            "info = [i for i in threadpoolctl.threadpool_info() if i['user_api'] == 'openmp']\n"
            "print(json.dumps({'info': info, 'runtime': _api._openmp_runtime()}))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=HERE, timeout=120, env=_env())
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout.strip().splitlines()[-1])
    info = res["info"]
    assert len(info) == 1, f"expected one OpenMP runtime, threadpoolctl found {info}"
    lib = os.path.basename(info[0]["filepath"])
    assert info[0]["num_threads"] >= 1
    if sys.platform.startswith("linux"):
        # cconv's own report of the runtime it loaded names the same library
        assert lib in res["runtime"].split(", "), (lib, res["runtime"])


def test_threadpool_limits_makes_cconv_single_threaded():
    threadpoolctl = _threadpoolctl()
    _openmp_only()
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 16, 20, 20)).astype(np.float32)
    w = rng.standard_normal((24, 16, 3, 3)).astype(np.float32)
    before = _core.default_threads()
    y_default = cconv.conv2d(x, w, padding=1)
    p_default = cconv.max_pool2d(x, 3, stride=2)
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert _core.default_threads() == 1
        assert cconv._api.config()["default_threads"] == 1
        y_one = cconv.conv2d(x, w, padding=1)
        p_one = cconv.max_pool2d(x, 3, stride=2)
    assert _core.default_threads() == before
    # results do not depend on the thread count (no split reductions)
    np.testing.assert_array_equal(y_one, y_default)
    np.testing.assert_array_equal(p_one, p_default)


def test_omp_num_threads_is_what_none_means():
    """num_threads=None follows OMP_NUM_THREADS, as users and job schedulers expect."""
    _openmp_only()
    r = subprocess.run([sys.executable, "-c",
                        "import cconv; print(cconv._core.default_threads())"],
                       capture_output=True, text=True, cwd=HERE, timeout=120,
                       env=_env(OMP_NUM_THREADS="3"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "3"


# ---------------------------------------------------------------- stubs, metadata

def test_typing_files_ship_with_the_package():
    for name in ("py.typed", "_core.pyi", "_api.pyi"):
        assert os.path.isfile(os.path.join(PKG, name)), f"cconv/{name} is missing"


def _stub_functions(path):
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    funcs, classes = {}, {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            funcs[node.name] = node
        elif isinstance(node, ast.ClassDef):
            classes[node.name] = {n.name: n for n in node.body if isinstance(n, ast.FunctionDef)}
    return funcs, classes


_KINDS = {"posonly": inspect.Parameter.POSITIONAL_ONLY,
          "args": inspect.Parameter.POSITIONAL_OR_KEYWORD,
          "kwonly": inspect.Parameter.KEYWORD_ONLY}


def _stub_params(fn, drop_self=False):
    a = fn.args
    out = []
    pos = [(p, "posonly") for p in a.posonlyargs] + [(p, "args") for p in a.args]
    defaults = [None] * (len(pos) - len(a.defaults)) + list(a.defaults)
    for (p, kind), d in zip(pos, defaults):
        out.append((p.arg, _KINDS[kind], d))
    for p, d in zip(a.kwonlyargs, a.kw_defaults):
        out.append((p.arg, _KINDS["kwonly"], d))
    return out[1:] if drop_self else out


def _compare(name, stub_fn, runtime, drop_self=False):
    try:
        sig = inspect.signature(runtime)
    except (TypeError, ValueError):
        pytest.fail(f"{name}: the runtime signature cannot be inspected")
    rparams = list(sig.parameters.values())
    if drop_self and rparams and rparams[0].name == "self":
        rparams = rparams[1:]
    sparams = _stub_params(stub_fn, drop_self)
    assert [p.name for p in rparams] == [s[0] for s in sparams], name
    for rp, (sname, skind, sdef) in zip(rparams, sparams):
        # Cython reports positional-or-keyword for plain def arguments
        assert rp.kind == skind, f"{name}({sname}): kind {rp.kind} != stub {skind}"
        has_default = rp.default is not inspect.Parameter.empty
        assert has_default == (sdef is not None), f"{name}({sname}): default presence"
        if sdef is not None and not (isinstance(sdef, ast.Constant) and sdef.value is ...):
            assert ast.literal_eval(sdef) == rp.default, \
                f"{name}({sname}): default {rp.default!r} != stub {ast.unparse(sdef)}"


def _public_functions(module, skip=()):
    return sorted(n for n, v in vars(module).items()
                  if callable(v) and not n.startswith("_") and not inspect.isclass(v)
                  and getattr(v, "__module__", module.__name__) == module.__name__
                  and n not in skip)


def _packed_weights_init():
    """PackedWeights.__init__ as a plain function with the .pyx's signature.

    A cdef class's __init__ is a slot wrapper that inspect sees as
    (*args, **kwargs), so read its definition from _core.pyx (which ships
    with the package) and check it still accepts exactly those keywords."""
    pyx = os.path.join(PKG, "_core.pyx")
    if not os.path.isfile(pyx):
        pytest.skip("cconv/_core.pyx not shipped here")
    with open(pyx, encoding="utf-8") as f:
        text = f.read()
    cls = text.index("cdef class PackedWeights")
    m = re.compile(r"\n    def __init__\((.*?)\):", re.S).search(text, cls)
    assert m, "PackedWeights.__init__ not found in _core.pyx"
    ns = {}
    exec(f"def __init__({m.group(1)}): pass", ns)  # plain Python parameters only
    params = list(inspect.signature(ns["__init__"]).parameters)[1:]
    w = np.ones((2, 1, 1, 1), np.float32)
    _core.PackedWeights(**dict(zip(params, (w, 1, None))))  # the compiled class agrees
    return ns["__init__"]


def test_core_stub_matches_the_compiled_module():
    funcs, classes = _stub_functions(os.path.join(PKG, "_core.pyi"))
    for name, node in funcs.items():
        assert hasattr(_core, name), f"_core.pyi declares {name}, the module has none"
        _compare(f"_core.{name}", node, getattr(_core, name))
    missing = [n for n in _public_functions(_core) if n not in funcs]
    assert not missing, f"_core.pyi lacks {missing}"
    assert set(classes) == {"PackedWeights"}
    _compare("PackedWeights.__init__", classes["PackedWeights"]["__init__"],
             _packed_weights_init(), drop_self=True)
    pw = cconv.pack_weights(np.ones((2, 1, 1, 1), np.float32))
    for prop in ("shape", "dtype", "groups", "isa", "nbytes", "ndim"):
        assert prop in classes["PackedWeights"], prop
        getattr(pw, prop)


def test_api_stub_matches_the_api():
    funcs, _ = _stub_functions(os.path.join(PKG, "_api.pyi"))
    for name, node in funcs.items():
        assert hasattr(_api, name), f"_api.pyi declares {name}, _api.py has none"
        _compare(f"_api.{name}", node, getattr(_api, name))
    public = set(_public_functions(_api)) | {
        n for n in cconv.__all__ if getattr(_api, n, None) is not None
        and getattr(cconv, n) is getattr(_api, n)}  # what cconv re-exports from _api
    public -= {"PackedWeights", "pack_weights"}  # re-exported from _core (in its stub)
    missing = sorted(n for n in public if n not in funcs)
    assert not missing, f"_api.pyi lacks {missing}"


def test_version_has_one_source():
    from importlib import metadata

    from cconv._version import __version__
    assert cconv.__version__ == __version__
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc|\.dev|\.post)?\d*", __version__)
    try:
        dist_version = metadata.version("cconv")
    except metadata.PackageNotFoundError:
        pytest.skip("cconv is not installed as a distribution (in-place build)")
    assert dist_version == __version__
