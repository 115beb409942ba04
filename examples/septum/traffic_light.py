"""A traffic light with a pedestrian mode: compound and parallel states, history, guards.

``Light`` holds the day's operation (``Day``) and the night mode (``Night``).  In the day the cars'
lights cycle Green -> Yellow -> Red on timers (``Cycle``).  A pedestrian's button is only acted on
once the green has lasted its minimum (a guard); otherwise it is remembered (an action), and the
next yellow leads to the pedestrians' phase: a parallel state in which the cars wait on red while
the walkers' signal goes Walk -> Flashing; when both regions are done, the cycle starts again at
Green.  "night" from anywhere in the day switches to a flashing yellow, and "day" returns to exactly
where the day was left (deep history).  "off" ends the machine.

Every handler is a plain function, so the example drives the machine through the synchronous door
(``send``/``run_sync``) with a manual clock: no event loop.  At the end it prints the statechart as
SCXML, which statechart tools read (``from_scxml`` reads it back, its guards and actions by name).

    python examples/septum/traffic_light.py
"""

# septum resolves `Events` (and sibling states) by bare name inside a state's handlers.
# ruff: noqa: F821

from enum import Enum, auto

from mycorrhizal.common import ManualClock
from mycorrhizal.render import to_mermaid
from mycorrhizal.septum import (
    Completed,
    DeepHistory,
    LabeledTransition,
    StateConfiguration,
    StateMachine,
    Unhandled,
    septum,
    to_scxml,
)

MIN_GREEN = 10.0  # seconds of green before a pedestrian's button is acted on at once


def green_long_enough(ctx):
    return ctx.timebase.now() - ctx.common["green_since"] >= MIN_GREEN


def remember_request(ctx):
    ctx.common["requested"] = True


def requested(ctx):
    return ctx.common.get("requested", False)


@septum.compound
class Light:
    class Events(Enum):
        BUTTON = auto()
        NEXT = auto()
        NIGHT = auto()
        DAY = auto()
        OFF = auto()

    @septum.on_state
    def on_state(ctx):
        # Messages no state inside handled reach the light itself.
        return {"night": Events.NIGHT, "off": Events.OFF}.get(ctx.msg)

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.NIGHT, Night), LabeledTransition(Events.OFF, Off)]

    @septum.compound
    class Day:
        @septum.compound
        class Cycle:
            @septum.state(config=StateConfiguration(timeout=30))
            class Green:
                @septum.on_enter
                def on_enter(ctx):
                    ctx.common["green_since"] = ctx.timebase.now()

                @septum.on_state
                def on_state(ctx):
                    return Events.BUTTON if ctx.msg == "button" else None

                @septum.on_timeout
                def on_timeout(ctx):
                    return Events.NEXT

                @septum.transitions
                def transitions():
                    return [
                        LabeledTransition(
                            Events.BUTTON, Yellow, guard=green_long_enough, action=remember_request
                        ),
                        LabeledTransition(Events.BUTTON, Unhandled, action=remember_request),
                        LabeledTransition(Events.NEXT, Yellow),
                    ]

            @septum.state(config=StateConfiguration(timeout=3))
            class Yellow:
                @septum.on_state
                def on_state(ctx):
                    if ctx.msg == "button":
                        remember_request(ctx)
                    return None

                @septum.on_timeout
                def on_timeout(ctx):
                    return Events.NEXT

                @septum.transitions
                def transitions():
                    return [
                        LabeledTransition(Events.NEXT, Crossing, guard=requested),
                        LabeledTransition(Events.NEXT, Red),
                    ]

            @septum.state(config=StateConfiguration(timeout=20))
            class Red:
                @septum.on_state
                def on_state(ctx):
                    return Events.BUTTON if ctx.msg == "button" else None

                @septum.on_timeout
                def on_timeout(ctx):
                    return Events.NEXT

                @septum.transitions
                def transitions():
                    return [
                        LabeledTransition(Events.BUTTON, Unhandled, action=remember_request),
                        LabeledTransition(Events.NEXT, Green),
                    ]

        @septum.parallel
        class Crossing:
            @septum.on_enter
            def on_enter(ctx):
                ctx.common["requested"] = False
                ctx.common["crossings"] = ctx.common.get("crossings", 0) + 1

            @septum.transitions
            def transitions():
                return [LabeledTransition(Completed, Cycle)]

            @septum.compound
            class Cars:
                @septum.state(config=StateConfiguration(timeout=15))
                class Stopped:
                    @septum.on_state
                    def on_state(ctx):
                        return None

                    @septum.on_timeout
                    def on_timeout(ctx):
                        return Events.NEXT

                    @septum.transitions
                    def transitions():
                        return [LabeledTransition(Events.NEXT, CarsReady)]

                @septum.state(config=StateConfiguration(terminal=True))
                class CarsReady:
                    pass

            @septum.compound
            class Walkers:
                @septum.state(config=StateConfiguration(timeout=10))
                class Walk:
                    @septum.on_state
                    def on_state(ctx):
                        return None

                    @septum.on_timeout
                    def on_timeout(ctx):
                        return Events.NEXT

                    @septum.transitions
                    def transitions():
                        return [LabeledTransition(Events.NEXT, Flashing)]

                @septum.state(config=StateConfiguration(timeout=5))
                class Flashing:
                    @septum.on_state
                    def on_state(ctx):
                        return None

                    @septum.on_timeout
                    def on_timeout(ctx):
                        return Events.NEXT

                    @septum.transitions
                    def transitions():
                        return [LabeledTransition(Events.NEXT, WalkersDone)]

                @septum.state(config=StateConfiguration(terminal=True))
                class WalkersDone:
                    pass

    @septum.state
    class Night:
        @septum.on_state
        def on_state(ctx):
            return Events.DAY if ctx.msg == "day" else None

        @septum.transitions
        def transitions():
            return [LabeledTransition(Events.DAY, DeepHistory(Day))]


@septum.state(config=StateConfiguration(terminal=True))
class Off:
    pass


#: Pictures regenerated by `mycorrhizal diagrams`.
DIAGRAMS = {"machine": Light}


def where(fsm):
    return " > ".join(s.name for s in fsm.configuration)


def main():
    clock = ManualClock()
    fsm = StateMachine(Light, timebase=clock)
    fsm.run_sync()
    script = [
        (5, "button"),  # too early: remembered, the green goes on
        (25, None),  # the green's 30 s end: yellow, then the pedestrians' phase
        (3, None),
        (12, "night"),  # in the middle of the crossing
        (60, "day"),  # back exactly where the day was left
        (20, None),
        (40, "off"),
    ]
    for seconds, message in script:
        clock.advance(seconds)
        fsm.run_sync()
        if message is not None:
            fsm.send(message)
        print(f"t={clock.now():5.0f}s {message or '':7} {where(fsm)}")
    print(
        f"pedestrian phases entered: {fsm.common['crossings']} (once more after the night); "
        f"complete: {fsm.is_complete}"
    )
    print(to_mermaid(Light))
    print(to_scxml(Light))


if __name__ == "__main__":
    main()
