"""A composed net for the browser test: letters arrive once a second; a tree per letter sorts it."""

from mycorrhizal.mycelium import pn
from mycorrhizal.rhizomorph import Status, bt


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
