"""The documentation site's API reference: what it shows, the check that all of it is documented,
and the MkDocs hooks that generate its pages (``mkdocs.yml`` loads this file as a hook).

The rule (DEVELOPERS.md points contributors here):

- The public API is every name in the ``__all__`` of ``mycorrhizal`` and of each of its direct
  subpackages and modules whose name has no leading underscore (``mycorrhizal.septum``,
  ``mycorrhizal.render``, ...). Each such module gets one reference page, generated at build time
  with exactly the names of its ``__all__``: a new package or a new name appears without editing
  anything here.
- Every public name needs its own docstring (a constant or alias: a string literal right after the
  assignment, or ``#:`` comment lines right before it).
- The page also shows each public class's own public members (no leading underscore, not
  inherited). Its methods, properties and nested classes need their own docstring too; its data
  attributes (fields, enum members, class constants) are shown with their type and value, and a
  docstring is optional: the class docstring says what its fields mean.

``python .ci/docs_site.py`` prints every violation (exit 1 when there is one); tests/test_docs_site.py
runs the same check in the suite, and the site build (``mkdocs build --strict``) fails on it too.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import griffe
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "mycorrhizal"
REFERENCE = "reference"  # the site folder of the generated pages
NAV_TITLE = "API reference"  # the nav section (in mkdocs.yml) the generated pages are added to
# The reference pages' order in the nav: the engines, their composition, then the rest by name.
ORDER = ["", "septum", "hypha", "rhizomorph", "mycelium", "common", "render"]
# Sphinx roles some docstrings use (:class:`Name`, :func:`~mod.name`): shown as code on the site.
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|exc|data|obj|const):`~?\.?([^`]+)`")
# A reStructuredText literal-block marker: "text::" reads "text:", a lone "::" line goes; the
# indented block below it is a code block in Markdown too.
LITERAL_AFTER_TEXT = re.compile(r"(?<=\S)::$", re.MULTILINE)
LITERAL_ALONE = re.compile(r"^[ \t]*::[ \t]*$", re.MULTILINE)

log = logging.getLogger("mkdocs.hooks.docs_site")  # under "mkdocs": a warning fails --strict


class SphinxConventions(griffe.Extension):
    """Read docstrings as this code base writes them: ``#:`` comments document the assignment
    below them, Sphinx roles (``:class:`Name```) become plain code, and a method that overrides a
    documented one without a docstring of its own shows the overridden method's docstring."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        """Give overriding methods without a docstring the docstring of the method they override."""
        for cls in _classes(pkg):
            for name, member in cls.members.items():
                if member.is_alias or member.docstring is not None or not member.is_function:
                    continue
                inherited = _overridden_docstring(cls, name)
                if inherited is not None:
                    member.docstring = griffe.Docstring(inherited, parent=member)

    def on_instance(self, *, node: Any, obj: griffe.Object, agent: Any, **kwargs: Any) -> None:
        """Turn Sphinx roles in the docstring into Markdown code."""
        if obj.docstring is not None:
            obj.docstring.value = _markdown(obj.docstring.value)

    def on_attribute_instance(self, *, node: Any, attr: griffe.Attribute, agent: Any, **kwargs: Any) -> None:
        """Give an attribute without a docstring the ``#:`` comment lines right above it."""
        if attr.docstring is not None or attr.filepath is None or attr.lineno is None:
            return
        lines = _source_lines(str(attr.filepath))
        comment: list[str] = []
        index = attr.lineno - 2
        while index >= 0 and lines[index].strip().startswith("#:"):
            comment.insert(0, lines[index].strip()[2:].strip())
            index -= 1
        if comment:
            text = _markdown(" ".join(comment))
            attr.docstring = griffe.Docstring(text, lineno=index + 2, parent=attr)


def _markdown(docstring: str) -> str:
    text = ROLE.sub(r"`\1`", docstring)
    return LITERAL_ALONE.sub("", LITERAL_AFTER_TEXT.sub(":", text))


def _classes(obj: griffe.Object) -> Iterator[griffe.Class]:
    for member in obj.members.values():
        if isinstance(member, griffe.Class):
            yield member
        if isinstance(member, griffe.Module | griffe.Class):
            yield from _classes(member)


def _overridden_docstring(cls: griffe.Class, name: str) -> str | None:
    try:
        bases = cls.mro()
    except ValueError:  # a base outside the package, or an inconsistent hierarchy
        return None
    for base in bases:
        member = base.members.get(name)
        if member is not None and not member.is_alias and member.docstring is not None:
            return member.docstring.value
    return None


@functools.cache
def _source_lines(path: str) -> list[str]:
    return Path(path).read_text(encoding="utf-8").splitlines()


def load(root: Path = ROOT, package: str = PACKAGE) -> griffe.Module:
    """The package as the site's generator sees it (static analysis, the same extension)."""
    loaded = griffe.load(
        package,
        search_paths=[str(root)],
        extensions=griffe.load_extensions(SphinxConventions()),
        resolve_aliases=True,
        resolve_external=False,
    )
    assert isinstance(loaded, griffe.Module)
    return loaded


def public_modules(package: griffe.Module) -> list[griffe.Module]:
    """The package itself and its direct submodules with an ``__all__``, public ones only."""
    modules = [package] if package.exports is not None else []
    for name, module in package.modules.items():
        if not name.startswith("_") and module.exports is not None:
            modules.append(module)
    return sorted(modules, key=_order)


def exports(module: griffe.Module) -> list[str]:
    """The names in the module's ``__all__``, in its order."""
    return [str(name) for name in module.exports or ()]


def _target(obj: griffe.Object | griffe.Alias) -> griffe.Object | None:
    try:
        return obj.final_target if isinstance(obj, griffe.Alias) else obj
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None


def _where(obj: griffe.Object) -> str:
    try:
        return f"{obj.relative_package_filepath}:{obj.lineno}"
    except ValueError:
        return f"{obj.filepath}:{obj.lineno}"


def _class_members(cls: griffe.Class, shown_as: str) -> Iterator[str]:
    for name, member in cls.members.items():
        if name.startswith("_") or member.inherited:
            continue
        target = _target(member)
        if target is None or target.is_attribute:
            continue  # data attributes: documented by the class docstring (see the rule above)
        if not target.docstring or not target.docstring.value.strip():
            yield f"{shown_as}.{name} ({_where(target)})"
        if isinstance(target, griffe.Class):
            yield from _class_members(target, f"{shown_as}.{name}")


def namespace_class(obj: griffe.Object) -> griffe.Class | None:
    """The private class of a public instance (``septum = _Septum()``): its methods are the API
    (``@septum.state``), so the page shows them under the instance and they need docstrings."""
    value = obj.value if isinstance(obj, griffe.Attribute) else None
    if not isinstance(value, griffe.ExprCall) or not isinstance(value.function, griffe.ExprName):
        return None
    try:
        cls = obj.modules_collection.get_member(value.function.canonical_path)
    except (KeyError, ValueError):
        return None
    return cls if isinstance(cls, griffe.Class) and cls.name.startswith("_") else None


def missing_docstrings(package: griffe.Module) -> list[str]:
    """Every shown object that needs a docstring and has none, as ``public.path (file:line)``."""
    missing: list[str] = []
    for module in public_modules(package):
        for name in exports(module):
            shown_as = f"{module.path}.{name}"
            if name not in module.members:
                missing.append(f"{shown_as} (in __all__ but not defined in {module.path})")
                continue
            target = _target(module.members[name])
            if target is None:
                missing.append(f"{shown_as} (its import cannot be followed)")
                continue
            if not target.docstring or not target.docstring.value.strip():
                missing.append(f"{shown_as} ({_where(target)})")
            cls = target if isinstance(target, griffe.Class) else namespace_class(target)
            if cls is not None:
                missing.extend(_class_members(cls, shown_as))
    return missing


def page_name(module: griffe.Module) -> str:
    """The site path of a module's reference page."""
    short = "index" if module.path == PACKAGE else module.path.removeprefix(PACKAGE + ".")
    return f"{REFERENCE}/{short}.md"


def _order(module: griffe.Module) -> tuple[int, str]:
    short = module.path.removeprefix(PACKAGE).lstrip(".")
    return (ORDER.index(short) if short in ORDER else len(ORDER), short)


def _entry(module: griffe.Module, name: str) -> str:
    """One public name's entry: its signature and docstring (a class: with its own public members)."""
    target = _target(module.members[name]) if name in module.members else None
    text = f"::: {module.path}.{name}\n    options:\n      show_root_heading: true\n"
    cls = namespace_class(target) if target is not None else None
    if cls is not None:  # the instance's methods, as entries under it
        text += f"\n::: {cls.path}\n    options:\n      show_root_heading: false\n      heading_level: 3\n"
    return text + "\n"


def _kind(module: griffe.Module, name: str) -> int:
    target = _target(module.members[name]) if name in module.members else None
    kinds = (griffe.Attribute, griffe.Class, griffe.Function)
    return next((i for i, kind in enumerate(kinds) if isinstance(target, kind)), len(kinds))


def page(module: griffe.Module, others: list[griffe.Module]) -> str:
    """One module's reference page: its docstring, then an entry for every name of its ``__all__``
    (constants, classes, then functions); the package's own page also lists the other pages."""
    text = f"# `{module.path}`\n\n::: {module.path}\n    options:\n      members: false\n\n"
    names = sorted(exports(module), key=lambda name: _kind(module, name))
    text += "".join(_entry(module, name) for name in names)
    if module.path == PACKAGE and others:
        rows = "".join(
            f"| [`{other.path}`]({Path(page_name(other)).name}) | {_summary(other)} |\n" for other in others
        )
        text += "## Packages and modules\n\n| module | what it holds |\n|---|---|\n" + rows
    return text


def _summary(module: griffe.Module) -> str:
    docstring = module.docstring.value if module.docstring else ""
    return " ".join(docstring.split("\n\n")[0].split()).replace("|", "\\|")


def _reference_entries(html_path: Path, module: griffe.Module) -> Iterator[str]:
    """The public names of ``module`` that have no entry (an anchor with their full name) in the page."""
    html = html_path.read_text(encoding="utf-8") if html_path.exists() else ""
    for name in exports(module):
        if f'id="{module.path}.{name}"' not in html:
            yield f"{module.path}.{name}"


# ---- MkDocs hooks -------------------------------------------------------------------------------

_state: dict[str, Any] = {}


def on_config(config: Any) -> Any:
    """Load the package, report undocumented names, add one nav entry per reference page."""
    package = load(Path(config.config_file_path).parent)
    modules = public_modules(package)
    _state["modules"] = modules
    for problem in missing_docstrings(package):
        log.warning("API reference: no docstring: %s", problem)
    section = next((item for item in config.nav or () if isinstance(item, dict) and NAV_TITLE in item), None)
    if section is None:
        log.warning("mkdocs.yml: the nav has no '%s' section for the generated pages", NAV_TITLE)
        return config
    section[NAV_TITLE] = [{module.path: page_name(module)} for module in modules]
    return config


def on_files(files: Any, config: Any) -> Any:
    """Add the generated reference pages to the site's files."""
    modules: list[griffe.Module] = _state["modules"]
    others = [module for module in modules if module.path != PACKAGE]
    _state["pages"] = []
    for module in modules:
        generated = File.generated(config, page_name(module), content=page(module, others))
        files.append(generated)
        _state["pages"].append((module, Path(generated.abs_dest_path)))
    return files


def on_post_build(config: Any) -> None:
    """Check that every public name got its entry (an anchor with its full name) on its page."""
    for module, html_path in _state["pages"]:
        for entry in _reference_entries(html_path, module):
            log.warning("API reference: no entry for %s on %s", entry, page_name(module))


def main() -> int:
    """Print every public name or member that lacks a docstring; exit 1 if there is one."""
    missing = missing_docstrings(load())
    for problem in missing:
        print(f"no docstring: {problem}")
    print(f"{len(missing)} missing docstring(s)" if missing else "every public name has a docstring")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
