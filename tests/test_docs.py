"""The documentation matches the code: every hook documented with its exact signature and
result mode, code examples are valid Python, and links lead somewhere."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from pathlib import Path

import pytest
from virtkit import hookspecs

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
HOOKS_MD = DOCS / "hooks.md"
LINKED_PAGES = [*sorted(DOCS.glob("*.md")), REPO / "plugins" / "_template" / "README.md"]

CODE_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def hook_specs() -> dict[str, object]:
    return {
        name: fn
        for name, fn in vars(hookspecs).items()
        if getattr(fn, f"{hookspecs.PROJECT}_spec", None) is not None
    }


def spec_signature(name: str, fn: object) -> str:
    """``def name(arg: type, ...) -> type`` as written in hookspecs.py (annotations are strings
    there, so they read exactly as in the source)."""
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"def {name}({params}) -> {sig.return_annotation}"


def documented_sections() -> dict[str, str]:
    """``### <hook name>`` sections of hooks.md, each with its text up to the next heading."""
    text = HOOKS_MD.read_text(encoding="utf-8")
    parts = re.split(r"^### (\S+)\n", text, flags=re.MULTILINE)
    sections = dict(zip(parts[1::2], parts[2::2], strict=True))
    return {name: re.split(r"^## ", body, flags=re.MULTILINE)[0] for name, body in sections.items()}


def test_every_hook_is_documented_and_every_documented_hook_exists() -> None:
    specs, documented = set(hook_specs()), set(documented_sections())
    assert not specs - documented, f"hooks missing from docs/hooks.md: {sorted(specs - documented)}"
    assert not documented - specs, (
        f"docs/hooks.md documents hooks that do not exist: {sorted(documented - specs)}"
    )


def test_hooks_are_documented_in_specification_order() -> None:
    order = [name for name in documented_sections() if name in hook_specs()]
    assert order == [name for name in hook_specs() if name in order]


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_documented_signature_and_result_mode_match_the_spec(name: str) -> None:
    body = documented_sections().get(name)
    assert body is not None, f"{name} is not documented in docs/hooks.md"
    blocks = CODE_BLOCK.findall(body)
    assert len(blocks) >= 2, f"{name}: expected a signature block and an example block"
    assert blocks[0].strip() == spec_signature(name, hook_specs()[name])
    firstresult = getattr(hook_specs()[name], f"{hookspecs.PROJECT}_spec")["firstresult"]
    marker = "**firstresult**" if firstresult else "**Called on every plugin**"
    assert marker in body, f"{name}: the section must say {marker}"
    example = ast.parse(blocks[1])
    impl = next(n for n in ast.walk(example) if isinstance(n, ast.FunctionDef))
    assert impl.name == name, f"{name}: the example implements {impl.name}"
    spec_args = set(inspect.signature(hook_specs()[name]).parameters)  # type: ignore[arg-type]
    extra = {a.arg for a in impl.args.args} - spec_args - {"self"}
    assert not extra, f"{name}: the example takes arguments the spec does not pass: {extra}"


@pytest.mark.parametrize("page", LINKED_PAGES, ids=lambda p: p.name)
def test_python_examples_are_valid_python(page: Path) -> None:
    for block in CODE_BLOCK.findall(page.read_text(encoding="utf-8")):
        if re.fullmatch(r"def \w+\(.*\) -> .+", block.strip()):
            continue  # a bare signature
        try:
            ast.parse(textwrap.dedent(block))
        except SyntaxError as exc:
            pytest.fail(f"{page.name}: invalid Python in example:\n{block}\n{exc}")


def anchors(page: Path) -> set[str]:
    """GitHub's anchors for the headings of ``page``."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


@pytest.mark.parametrize("page", LINKED_PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    text = CODE_BLOCK.sub("", page.read_text(encoding="utf-8"))
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        if not linked.exists() or (linked.suffix == ".md" and anchor not in anchors(linked) | {""}):
            broken.append(target)
    assert not broken, f"{page.name}: links that lead nowhere: {broken}"


# --------------------------------------------------------------------------- extensions.md

EXTENSION_BLOCK = re.compile(r"^<!-- extension: (\w+) -->\n```python\n(.*?)^```", re.M | re.S)
TEST_NS = "xmlns:test='http://libvirt.org/schemas/domain/test/1.0'"


def install_extension(module: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Install the example ``module`` of extensions.md the way a distribution would: the module
    and a dist-info whose entry point (group ``virtkit.plugins``) names it, on ``sys.path``."""
    examples = dict(EXTENSION_BLOCK.findall((DOCS / "extensions.md").read_text(encoding="utf-8")))
    assert module in examples, f"docs/extensions.md has no example module {module}"
    (folder / f"{module}.py").write_text(examples[module], encoding="utf-8")
    info = folder / f"{module}-0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0\n")
    short = module.removeprefix("virtkit_")
    (info / "entry_points.txt").write_text(f"[virtkit.plugins]\n{short} = {module}\n")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delenv("VIRTKIT_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("VIRTKIT_DISABLE_PLUGINS", raising=False)


def node_uri(folder: Path, name: str, *domains: tuple[str, int]) -> str:
    """A test-driver node file holding ``(name, state)`` domains with one network interface."""
    body = "".join(
        f"<domain type='test' {TEST_NS}><name>{dom}</name><memory>65536</memory>"
        "<devices><interface type='network'><source network='default'/></interface></devices>"
        f"<test:runstate>{state}</test:runstate></domain>"
        for dom, state in domains
    )
    path = folder / f"{name}.xml"
    path.write_text(f"<node>{body}</node>", encoding="utf-8")
    return f"test://{path}"


RUNNING, SHUTOFF = 1, 5


def test_extension_example_freeze_vetoes_a_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import virtkit
    from virtkit.errors import HookVetoError

    install_extension("virtkit_freeze", tmp_path, monkeypatch)
    monkeypatch.setenv("VIRTKIT_FROZEN_DOMAINS", "billing-db")
    with virtkit.open(node_uri(tmp_path, "n", ("billing-db", SHUTOFF), ("web", SHUTOFF))) as conn:
        frozen = conn.lookup_by_name("billing-db")
        with pytest.raises(HookVetoError, match="'billing-db' is frozen by change control"):
            frozen.create()
        assert not frozen.is_active()
        conn.lookup_by_name("web").create()
        assert conn.lookup_by_name("web").is_active()


def test_extension_example_protect_wraps_destroy_and_undefine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import virtkit
    from virtkit.errors import HookVetoError

    install_extension("virtkit_protect", tmp_path, monkeypatch)
    with virtkit.open(node_uri(tmp_path, "n", ("prod-db", RUNNING), ("dev", RUNNING))) as conn:
        prod = conn.lookup_by_name("prod-db")
        with pytest.raises(HookVetoError, match="refusing to destroy production domain"):
            prod.destroy()
        with pytest.raises(HookVetoError, match="refusing to undefine production domain"):
            prod.undefine()
        assert prod.is_active() and prod.is_persistent()
        conn.lookup_by_name("dev").destroy()
        assert not conn.lookup_by_name("dev").is_active()


def test_extension_example_netmap_rewrites_incoming_migration_xml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import virtkit

    install_extension("virtkit_netmap", tmp_path, monkeypatch)
    with (
        virtkit.open(node_uri(tmp_path, "src", ("web", RUNNING))) as src,
        virtkit.open(node_uri(tmp_path, "dst")) as dst,
    ):
        moved = src.lookup_by_name("web").migrate(dst, virtkit.DomainMigrateFlags.LIVE)
        assert "network='dc2-lan'" in moved.xml_desc().replace('"', "'")
        assert "network='default'" in src.lookup_by_name("web").xml_desc().replace('"', "'")


def test_extension_example_audit_logs_each_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import virtkit
    from virtkit.errors import OperationInvalidError

    install_extension("virtkit_audit", tmp_path, monkeypatch)
    caplog.set_level("INFO", logger="virtkit.audit")
    with virtkit.open(node_uri(tmp_path, "n")) as conn:
        dom = conn.define_xml("<domain type='test'><name>vm1</name><memory>65536</memory></domain>")
        dom.create()
        dom.destroy()
        with pytest.raises(OperationInvalidError):
            dom.destroy()
        dom.undefine()
    lines = [r.getMessage().split(" ", 1)[1] for r in caplog.records if r.name == "virtkit.audit"]
    outcomes = [" ".join(line.split()[:3]) for line in lines]
    assert outcomes == [
        "define vm1 ok",
        "start vm1 ok",
        "destroy vm1 ok",
        "destroy vm1 failed",
        "undefine vm1 ok",
    ]
