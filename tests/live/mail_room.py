"""Composed nets: MailRoom for the browser test (letters arrive once a second; a tree per letter
sorts it), and Desks, whose keyed machines sort letters per addressee."""

from mycorrhizal.common import ManualClock
from mycorrhizal.mycelium import PNRunner, pn
from mycorrhizal.rhizomorph import Status, bt
from mycorrhizal.septum import StateConfiguration, septum


@bt.tree
def Sorter():
    @bt.condition
    def addressed(ctx):  # type: ignore[no-untyped-def]
        return not ctx.token.endswith("?")

    @bt.action
    def send(ctx):  # type: ignore[no-untyped-def]
        ctx.route("sorted")
        return Status.SUCCESS

    bt.root(bt.sequence(addressed, send, name="sort"))


@pn.net
def MailRoom(builder):  # type: ignore[no-untyped-def]
    @builder.io_input_place()
    async def letters(bb, timebase):  # type: ignore[no-untyped-def]
        for name in ["to ann", "to bob", "to whom?"]:
            await timebase.sleep(1)
            yield name

    done, odd = builder.place("sorted"), builder.place("odd")

    @builder.transition(bt=Sorter, inputs=[letters], outputs=[done], rejected=odd)
    async def sort(consumed, bb, timebase):  # type: ignore[no-untyped-def]
        pass


@septum.state(config=StateConfiguration(can_dwell=True))
def Desk():
    """One machine per addressee (the key): routes each letter to 'sorted'."""

    @septum.on_state
    def on_state(ctx):  # type: ignore[no-untyped-def]
        if ctx.msg is not None:
            ctx.msg.route("sorted")


def addressee(letter: str) -> str:
    """A Desks machine's key: the last word of the letter."""
    return letter.split()[-1]


@pn.net
def Desks(builder):  # type: ignore[no-untyped-def]
    inbox, done = builder.place("inbox"), builder.place("sorted")

    @builder.transition(fsm=Desk, fsm_key=addressee, inputs=[inbox], outputs=[done])
    async def desk(consumed, bb, timebase):  # type: ignore[no-untyped-def]
        pass


@pn.net
def Growing(builder):  # type: ignore[no-untyped-def]
    """A net that grows while it runs: one virtual second in, it adds the place 'late' to itself."""

    @builder.io_input_place()
    async def ticks(bb, timebase):  # type: ignore[no-untyped-def]
        await timebase.sleep(1)
        GROWING.add_place("late", initial=["news"])
        yield "tick"

    builder.place("early")


GROWING = PNRunner(Growing, {}, ManualClock())
"""``mycorrhizal serve mail_room.py:GROWING`` watches this runner (on a virtual clock: paced)."""


@pn.net
def Flood(builder):  # type: ignore[no-untyped-def]
    """One virtual second in, 1200 letters arrive at once: more events than a page lists."""

    @builder.io_input_place()
    async def letters(bb, timebase):  # type: ignore[no-untyped-def]
        await timebase.sleep(1)
        for n in range(1200):
            yield f"letter {n}"

    done = builder.place("sorted")

    @builder.transition(inputs=[letters], outputs=[done])
    async def sort(consumed, bb, timebase):  # type: ignore[no-untyped-def]
        return {done: consumed[0]}
