"""The docs tell the truth: every hook and operation is documented, the generated reference pages are
current, the worked plugin example runs, and ``mkdocs build --strict`` passes."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from neural_trader import docgen
from neural_trader.plugins import make_plugin_manager

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def docs_host():
    host = docgen.docs_host()
    yield host
    host.close()


# -- hooks ---------------------------------------------------------------------------------------------

HOOKS = list(docgen.hook_specs())


def test_hook_discovery_finds_every_hookspec():
    known = {name for name in vars(make_plugin_manager().hook) if name.startswith("nt_")}
    assert {func.__name__ for _, func in HOOKS} == known


@pytest.mark.parametrize(("section", "spec"), HOOKS, ids=[func.__name__ for _, func in HOOKS])
def test_every_hookspec_is_documented(section, spec):
    body, params = docgen.parse_docstring(spec.__doc__)
    name = spec.__name__
    assert body, f"hookspec {name} has no docstring saying what it is for"
    expected = docgen.hook_parameters(spec)
    missing = [p for p in expected if not params.get(p)]
    assert not missing, f"hookspec {name}: document {', '.join(missing)} with ':param <name>: <text>'"
    unknown = sorted(set(params) - set(expected))
    assert not unknown, f"hookspec {name} documents parameters it does not have: {unknown}"
    assert section != "Hooks", f"hookspec {name} is not under a banner section of hookspecs.py"


def test_parse_docstring_joins_continuation_lines():
    body, params = docgen.parse_docstring("""Do a thing.

    More about it.

    :param register: call it
        once per thing.
    :param other: short.
    """)
    assert body == "Do a thing.\n\nMore about it."
    assert params == {"register": "call it once per thing.", "other": "short."}


# -- operations ---------------------------------------------------------------------------------------


def test_every_operation_has_a_summary_and_described_parameters(docs_host):
    problems = []
    for op in docs_host.operations:
        if not op.summary.strip():
            problems.append(f"{op.name}: no summary")
        for name, _prop, _required in docgen.schema_rows(op.input_schema):
            if not _prop.get("description", "").strip():
                problems.append(f"{op.name}: parameter {name!r} has no description (param(description=...))")
    assert not problems, "\n".join(problems)


def test_operations_reference_names_every_frontend(docs_host):
    text = docgen.operations_reference(docs_host)
    assert "`neural-trader system ping`" in text
    assert "`system_ping`" in text
    assert "`POST /v1/system/ping`" in text
    assert "`GET /v1/system/ping`" in text
    assert "/openapi.json" in text
    assert "| `echo` | string | no | `\"\"` | `length <= 1000` | text to send back unchanged |" in text


def test_first_party_plugins_come_from_the_distribution():
    assert "system" in docgen.first_party_plugins()


# -- generated pages ----------------------------------------------------------------------------------


def test_every_first_party_plugin_loads_or_says_why_not(docs_host):
    failed = docgen.missing_plugins(docs_host, "failed")
    assert not failed, "first-party plugins failed: " + "; ".join(failed)


def test_generated_reference_is_current(docs_host):
    unavailable = docgen.missing_plugins(docs_host, "unavailable")
    if unavailable:
        pytest.skip("first-party plugins are unavailable here (optional dependencies), so the reference "
                    "would be incomplete: " + "; ".join(unavailable))
    stale = []
    for rel, text in docgen.render_all(docs_host).items():
        path = ROOT / rel
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(str(rel))
    assert not stale, f"stale generated docs: {', '.join(stale)}; regenerate with: {docgen.REGENERATE}"


def test_every_generated_page_is_in_the_nav():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for rel in (docgen.HOOKS_PAGE, docgen.OPERATIONS_PAGE, docgen.ERRORS_PAGE, docgen.SETTINGS_PAGE,
                docgen.CLI_PAGE):
        assert str(rel.relative_to("docs")) in nav, f"{rel} is not in the mkdocs.yml nav"


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None, reason="mkdocs is not installed ('.[docs]')")
def test_mkdocs_build_strict(tmp_path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- the worked example in writing-plugins.md ---------------------------------------------------------

_TITLED_BLOCK = re.compile(r'^```\w+ title="(?P<path>[^"]+)"\n(?P<code>.*?)^```$', re.MULTILINE | re.DOTALL)

_CONFTEST = textwrap.dedent("""\
    import sys
    from pathlib import Path

    import pytest

    sys.path.insert(0, str(Path(__file__).parents[1] / "src"))


    @pytest.fixture
    def nt_host(nt_host_factory):
        # The pack is not pip-installed here: register its module the way a test can.
        from nt_hello import plugin

        return nt_host_factory(plugins=[plugin])
""")


def test_writing_plugins_example_runs(tmp_path):
    """Write out the titled blocks of writing-plugins.md as a pack and run its tests with pytest."""
    page = (ROOT / "docs" / "writing-plugins.md").read_text(encoding="utf-8")
    files = {m["path"]: m["code"] for m in _TITLED_BLOCK.finditer(page)}
    assert {"pyproject.toml", "src/nt_hello/plugin.py", "tests/test_hello.py"} <= set(files)
    pack = tmp_path / "nt-hello"
    for rel, code in {**files, "src/nt_hello/__init__.py": "", "tests/conftest.py": _CONFTEST}.items():
        path = pack / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NT_")}
    env["NT_CONFIG"] = str(tmp_path / "no-config.toml")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=pack, capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 passed" in proc.stdout, proc.stdout
