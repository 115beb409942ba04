"""What runs an fsm= transition elsewhere (distribution's workers) reads of it and brings into it."""

from __future__ import annotations

from typing import Any

from mycorrhizal.hypha import NetSpec
from mycorrhizal.mycelium import PNRunner, machines, pn
from mycorrhizal.mycelium.machine_handler import embedded_machine
from mycorrhizal.mycelium.machine_pool import MachinePool
from mycorrhizal.septum import State, StateConfiguration, StateMachine, septum


@septum.state(config=StateConfiguration(can_dwell=True))
def Idle() -> Any:
    @septum.on_state
    def on_state(ctx: Any) -> None:
        if ctx.msg is not None:
            ctx.msg.route("done")

    @septum.transitions
    def transitions() -> list[Any]:
        return []


def key(token: Any) -> Any:
    return token["who"]


def net() -> NetSpec:
    @pn.net
    def Desk(builder: Any) -> None:
        queue = builder.place("queue")
        done = builder.place("done")

        @builder.transition(fsm=Idle, fsm_key=key, inputs=[queue], outputs=[done])
        async def serve(consumed: Any, bb: Any, timebase: Any) -> None:
            return None

        @builder.transition(inputs=[done], outputs=[queue])
        async def again(consumed: Any, bb: Any, timebase: Any) -> Any:
            return None

    return Desk


def test_an_fsm_transition_tells_its_machine_and_key_and_others_none() -> None:
    spec = net()
    serve, again = (next(t for t in spec.transitions if t.name == name) for name in ("serve", "again"))
    found = embedded_machine(serve.handler)
    assert found is not None and found.key is key and isinstance(found.initial, State)
    assert found.initial is Idle
    assert embedded_machine(again.handler) is None
    assert embedded_machine(None) is None


async def test_a_pool_adopts_and_forgets_machines_made_elsewhere() -> None:
    spec = net()
    runner = PNRunner(spec)
    embedded = embedded_machine(next(t for t in spec.transitions if t.name == "serve").handler)
    assert embedded is not None
    pool = MachinePool.in_runner(embedded, runner, "Desk.serve")
    assert MachinePool.in_runner(embedded, runner, "serve") is pool  # made once, kept in the runner
    first, second = StateMachine(Idle), StateMachine(Idle)
    assert pool.adopt("ann", first) is None
    assert machines(runner, "serve")["ann"] is first
    assert pool.adopt("ann", second) is first  # replaced: the caller closes the old one
    assert pool.forget("ann") is second
    assert "ann" not in machines(runner, "serve") and pool.forget("ann") is None
