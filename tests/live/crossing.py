"""A statechart for the live view's tests: a parallel crossing whose two regions are active at once.

The cars wait 15 virtual seconds before they are ready; the walkers finish when told "crossed"."""

# septum resolves sibling states by bare name inside a state's transitions.
# ruff: noqa: F821

from enum import Enum, auto

from mycorrhizal.septum import Completed, LabeledTransition, StateConfiguration, septum


class Go(Enum):
    """The crossing's one label."""

    NEXT = auto()


@septum.parallel
class Crossing:
    @septum.transitions
    def transitions():  # type: ignore[no-untyped-def]
        return [LabeledTransition(Completed, Open)]

    @septum.compound
    class Cars:
        @septum.state(config=StateConfiguration(timeout=15))
        class Stopped:
            @septum.on_state
            def on_state(ctx):  # type: ignore[no-untyped-def]
                return None

            @septum.on_timeout
            def on_timeout(ctx):  # type: ignore[no-untyped-def]
                return Go.NEXT

            @septum.transitions
            def transitions():  # type: ignore[no-untyped-def]
                return [LabeledTransition(Go.NEXT, CarsReady)]

        @septum.state(config=StateConfiguration(terminal=True))
        class CarsReady:
            pass

    @septum.compound
    class Walkers:
        @septum.state
        class Walk:
            @septum.on_state
            def on_state(ctx):  # type: ignore[no-untyped-def]
                return Go.NEXT if ctx.msg == "crossed" else None

            @septum.transitions
            def transitions():  # type: ignore[no-untyped-def]
                return [LabeledTransition(Go.NEXT, WalkersDone)]

        @septum.state(config=StateConfiguration(terminal=True))
        class WalkersDone:
            pass


@septum.state(config=StateConfiguration(terminal=True))
class Open:
    pass


def told(ctx, name: str) -> bool:  # type: ignore[no-untyped-def]
    """True when the message (a net's token, when the machine lives in a net) is ``name``; a token
    told is routed to the net's "passed" place."""
    token = getattr(ctx.msg, "token", ctx.msg)
    if token == name and hasattr(ctx.msg, "route"):
        ctx.msg.route("passed")
    return bool(token == name)


@septum.parallel
class Twins:
    """Two regions whose states have the same short names: ``Wait`` and ``Done`` in each."""

    @septum.compound
    class Cars:
        @septum.state
        class Wait:
            @septum.on_state
            def on_state(ctx):  # type: ignore[no-untyped-def]
                return Go.NEXT if told(ctx, "cars") else None

            @septum.transitions
            def transitions():  # type: ignore[no-untyped-def]
                return [LabeledTransition(Go.NEXT, Done)]

        @septum.state(config=StateConfiguration(terminal=True))
        class Done:
            pass

    @septum.compound
    class Walkers:
        @septum.state
        class Wait:
            @septum.on_state
            def on_state(ctx):  # type: ignore[no-untyped-def]
                return Go.NEXT if told(ctx, "walkers") else None

            @septum.transitions
            def transitions():  # type: ignore[no-untyped-def]
                return [LabeledTransition(Go.NEXT, Done)]

        @septum.state(config=StateConfiguration(terminal=True))
        class Done:
            pass
