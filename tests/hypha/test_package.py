"""The public surface: the package and ``.core`` export the same documented names."""

from __future__ import annotations

import inspect

import mycorrhizal.hypha as hypha
import mycorrhizal.hypha.core as core

DECLARING = {"NetBuilder", "build_net", "pn"}
"""What ``core`` has in its 0.x flavour: nets declared through it read a list output value as one token."""


def test_core_re_exports_exactly_the_package_names() -> None:
    assert core.__all__ == hypha.__all__
    for name in set(hypha.__all__) - DECLARING:
        assert getattr(core, name) is getattr(hypha, name)
    assert issubclass(core.NetBuilder, hypha.NetBuilder) and isinstance(core.pn, hypha.PN)
    assert (core.NetBuilder.list_value, hypha.NetBuilder.list_value) == (
        hypha.ListValue.ONE,
        hypha.ListValue.SEVERAL,
    )


def test_every_public_name_is_documented() -> None:
    for name in hypha.__all__:
        obj = getattr(hypha, name)
        doc = inspect.getdoc(obj if inspect.isclass(obj) or inspect.isroutine(obj) else type(obj))
        assert doc and doc.strip(), f"{name} has no docstring"


def test_api_contract_imports() -> None:
    from mycorrhizal.hypha.core import NetBuilder, PlaceType, Runner, pn  # noqa: F401 - the contract


def test_core_is_a_package_with_the_submodules_upstream_programs_import() -> None:
    from mycorrhizal.hypha.core import builder, runtime, specs

    assert builder.NetBuilder is core.NetBuilder and builder.pn is core.pn
    assert builder.ArcChain is hypha.ArcChain
    for name in ("Runner", "NetRuntime", "PlaceRuntime", "TransitionRuntime"):
        assert getattr(runtime, name) is getattr(hypha, name)
    names = (
        "PlaceType",
        "PlaceSpec",
        "TransitionSpec",
        "ArcSpec",
        "NetSpec",
        "PlaceRef",
        "TransitionRef",
        "SubnetRef",
        "GuardSpec",
    )
    for name in names:
        assert getattr(specs, name) is getattr(hypha, name)
    for module in (builder, runtime, specs):
        assert all(hasattr(module, name) for name in module.__all__)
