"""The documentation site: every public name documented, every guide in the nav (.ci/docs_site.py).

The site build itself (``mkdocs build --strict`` in .ci/run) also fails on all of this, and on
broken links; these tests give the same answer in the suite, in a second.
"""

import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import griffe
import pytest
from mkdocs.config import load_config

ROOT = Path(__file__).resolve().parent.parent


def _load_docs_site() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_site", ROOT / ".ci" / "docs_site.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("docs_site", module)
    spec.loader.exec_module(module)
    return module


docs_site = _load_docs_site()


@pytest.fixture(scope="module")
def package() -> griffe.Module:
    return docs_site.load()


def test_every_public_name_has_a_docstring(package: griffe.Module) -> None:
    missing = docs_site.missing_docstrings(package)
    assert not missing, (
        "These public names (or public methods of public classes) have no docstring; give each a "
        "one-line docstring (a constant: a string literal after it or '#:' comments above it). "
        "See .ci/docs_site.py for the rule.\n  " + "\n  ".join(missing)
    )


def test_every_package_gets_a_reference_page_with_every_name(package: griffe.Module) -> None:
    modules = {module.path: module for module in docs_site.public_modules(package)}
    for name in ("mycorrhizal", "mycorrhizal.septum", "mycorrhizal.hypha", "mycorrhizal.rhizomorph"):
        assert name in modules
    for expected in ("mycorrhizal.mycelium", "mycorrhizal.common"):
        assert expected in modules
    for module in modules.values():
        page = docs_site.page(module, [])
        for name in docs_site.exports(module):
            assert f"::: {module.path}.{name}\n" in page


def test_the_decorator_namespace_shows_its_methods(package: griffe.Module) -> None:
    page = docs_site.page(package["septum"], [])
    assert "::: mycorrhizal.septum.dsl._Septum\n" in page  # @septum.state, @septum.on_state, ...


def test_every_guide_is_in_the_nav_and_every_nav_entry_exists() -> None:
    config = load_config(str(ROOT / "mkdocs.yml"))

    def files(nav: object) -> list[str]:
        if isinstance(nav, str):
            return [nav]
        if isinstance(nav, dict):
            return [file for value in nav.values() for file in files(value)]
        if isinstance(nav, list):
            return [file for item in nav for file in files(item)]
        return []

    in_nav = [file for file in files(config.nav) if not file.startswith(docs_site.REFERENCE + "/")]
    guides = sorted(str(path.relative_to(ROOT / "docs")) for path in (ROOT / "docs").rglob("*.md"))
    assert sorted(in_nav) == guides, "add every page of docs/ to the nav in mkdocs.yml (and only those)"
    assert any(isinstance(item, dict) and docs_site.NAV_TITLE in item for item in config.nav)


# ---- the check itself, on a package made for the purpose ----------------------------------------

SAMPLE = {
    "__init__.py": '''
        """A sample package."""
        from .shapes import Circle, Square, area, documented_constant, tools, undocumented_constant
        __all__ = ["Circle", "Square", "area", "documented_constant", "undocumented_constant",
                   "tools", "ghost"]
    ''',
    "shapes.py": '''
        """Shapes."""

        #: Documented by a comment above it.
        documented_constant = 1
        undocumented_constant = 2


        class Shape:
            """A base class."""

            def draw(self) -> str:
                """Draw the shape."""
                return ""


        class Circle(Shape):
            """A circle, see :class:`Square`."""

            radius: float = 1.0  # a field: the class docstring covers it

            def draw(self) -> str:  # inherits Shape.draw's docstring
                return "o"

            def grow(self) -> None:
                pass

            def _private(self) -> None:
                pass


        class Square:
            pass


        def area(shape: Shape) -> float:
            """The area of ``shape``, for instance::

                area(Circle())

            ::

                area(Square())
            """
            return 0.0


        class _Tools:
            """Helpers."""

            def measure(self) -> None:
                pass


        tools = _Tools()
        """A namespace of helpers."""
    ''',
}


@pytest.fixture
def sample(tmp_path: Path) -> griffe.Module:
    (tmp_path / "sample").mkdir()
    for name, text in SAMPLE.items():
        (tmp_path / "sample" / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return docs_site.load(tmp_path, "sample")


def test_the_check_names_every_missing_docstring_and_nothing_else(sample: griffe.Module) -> None:
    missing = docs_site.missing_docstrings(sample)
    assert [entry.split(" (")[0] for entry in missing] == [
        "sample.Circle.grow",
        "sample.Square",
        "sample.undocumented_constant",
        "sample.tools.measure",
        "sample.ghost",
    ]
    assert "sample/shapes.py:25" in missing[0]  # where to write it
    assert "in __all__ but not defined" in missing[-1]


def test_docstrings_are_read_as_the_code_base_writes_them(sample: griffe.Module) -> None:
    assert sample["documented_constant"].final_target.docstring.value == "Documented by a comment above it."
    assert sample["Circle"].final_target.docstring.value == "A circle, see `Square`."
    assert sample["Circle"].final_target["draw"].docstring.value == "Draw the shape."
    area = sample["area"].final_target.docstring.value
    assert area == "The area of ``shape``, for instance:\n\n    area(Circle())\n\n\n\n    area(Square())"


def test_a_missing_reference_entry_is_reported(sample: griffe.Module, tmp_path: Path) -> None:
    html = tmp_path / "page.html"
    html.write_text('<h2 id="sample.Circle">Circle</h2><h2 id="sample.area">area</h2>', encoding="utf-8")
    missing = list(docs_site._reference_entries(html, sample))
    assert missing == [
        "sample.Square",
        "sample.documented_constant",
        "sample.undocumented_constant",
        "sample.tools",
        "sample.ghost",
    ]
