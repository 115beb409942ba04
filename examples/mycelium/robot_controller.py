"""A warehouse robot: a state machine inside a behaviour tree inside a state machine, on one blackboard.

    modes (septum)    Idle -orders-> Working -tree succeeded-> Idle -charge asked-> Charging -full-> Idle
                                     Working -tree failed-> Recovering -arm homed-> Idle
                      Idle -end_of_shift-> OffDuty
    Working           tree_state(WorkTree): entering it runs the work tree to completion
    WorkTree (BT)     selector decide:
                        recharge      = battery_low, drive_to_dock, ask_for_charge
                        fulfil_order  = claim_next_order, drive_to_shelf, timeout(5 s, pick_item),
                                        drive_to_packing, hand_over
                        give_up_order
    pick_item         machine_action(Reaching): a fresh arm machine (septum) for every pick
                        Reaching -> Gripping (retried when it slips) -> Lifting -> Holding
                        Gripping -no grip-> Dropped;  Lifting -slipped-> Dropped

BT-in-FSM: the robot's ``Working`` mode is a ``tree_state``: entering it runs the work tree to
completion, and the tree's outcome picks the next mode. FSM-in-BT: the tree's ``pick_item`` action
runs a fresh arm machine per pick; the arm's timeouts are its motions. When the pick overruns its
5 s deadline the tree halts the action, which cancels the arm machine with every timer it set:
nothing of the abandoned arm fires afterwards, and the clock is left with no pending timer.

The tree, both machines and the scenario share one ``Robot`` blackboard. Time is a ManualClock and
the sensors (battery gauge, grip force, load cell) read through a seeded random generator, so every
run prints exactly the same thing, in milliseconds.

Run:  python examples/mycelium/robot_controller.py
"""

from __future__ import annotations

import argparse
import asyncio
import random
from enum import Enum, auto

import attrs

from mycorrhizal.common import ManualClock, Timebase
from mycorrhizal.mycelium import machine_action, tree_state
from mycorrhizal.rhizomorph import Status, bt
from mycorrhizal.septum import LabeledTransition, Repeat, Retry, StateConfiguration, StateMachine, septum

SPEED = 1.0  # metres per second
DRIVE_DRAIN = 1.5  # battery % per metre driven
ARM_DRAIN = 1.0  # battery % per arm motion (reach, grip attempt, lift)
LOW_BATTERY = 30.0  # % on the battery gauge below which the robot charges before its next order
DOCK = 0.0  # metres along the aisle
PACKING = 2.0

REACH_TIME = 1.0  # the arm's motions, as its states' timeouts
GRIP_TIME = 1.5
LIFT_TIME = 0.5
GRIP_RETRIES = 2  # after the first attempt
GRIP_THRESHOLD = 0.6  # grip force (0..1) needed to lift
HOLD_THRESHOLD = 0.5  # load-cell reading (0..1) that means the item is still in the gripper
PICK_DEADLINE = 5.0  # the tree abandons a pick that takes longer
RECOVER_TIME = 2.0  # re-homing the arm after a failed order
CHARGE_STEP = 10.0  # seconds per charging step
CHARGE_RATE = 20.0  # % per charging step


# --------------------------------------------------------------------------- the world


@attrs.frozen
class Item:
    """What sits on a shelf, and how well it can be gripped and held (sensor ranges, 0..1)."""

    name: str
    grip: tuple[float, float]
    hold: tuple[float, float]


BOX = Item("box", grip=(0.7, 1.0), hold=(0.8, 1.0))
BOTTLE = Item("bottle", grip=(0.4, 0.9), hold=(0.7, 1.0))  # slippery: a grip may need a retry
CRATE = Item("crate", grip=(0.05, 0.3), hold=(0.8, 1.0))  # jammed on its shelf: never grips
VASE = Item("vase", grip=(0.7, 1.0), hold=(0.1, 0.4))  # grips, then slides out while lifting


@attrs.frozen
class Order:
    """Fetch ``item`` from the shelf at ``shelf`` metres and bring it to the packing station."""

    id: str
    item: Item
    shelf: float


@attrs.frozen
class Abandonment:
    """A pick the tree gave up on: when, in which arm state, and the timers left on the clock."""

    order: str
    at: float
    arm_state: str
    pending_timers: int


@attrs.define
class Robot:
    """The blackboard of the tree, the mode machine and every arm machine: one object, never copied."""

    clock: ManualClock
    seed: int = 20
    battery: float = 62.0
    position: float = DOCK
    rng: random.Random = attrs.field(init=False)
    orders: list[Order] = attrs.Factory(list)
    current: Order | None = None
    arm_state: str = "Parked"
    holding: Item | None = None
    needs_charge: bool = False
    mode: str = "Idle"
    delivered: list[tuple[str, float]] = attrs.Factory(list)
    failed: list[tuple[str, str, float]] = attrs.Factory(list)
    charges: list[tuple[float, float, float, float]] = attrs.Factory(list)  # start, end, from %, to %
    modes: list[tuple[float, str, str]] = attrs.Factory(list)
    arm_log: list[tuple[float, str, str]] = attrs.Factory(list)  # (t, order id, what the arm did)
    abandoned: list[Abandonment] = attrs.Factory(list)
    journal: list[str] = attrs.Factory(list)

    def __attrs_post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def say(self, text: str) -> None:
        """Add a line to the journal, stamped with the virtual time."""
        self.journal.append(f"  t={self.clock.now():6.1f}s  {text}")

    # The sensors: readings are noisy, and the noise comes from the seeded generator.

    def battery_gauge(self) -> float:
        """What the battery gauge reads (the true level plus noise)."""
        return round(self.battery + self.rng.gauss(0.0, 1.0), 1)

    def grip_force(self) -> float:
        """What the gripper's force sensor reads on the current item."""
        assert self.current is not None
        return round(self.rng.uniform(*self.current.item.grip), 2)

    def load_cell(self) -> float:
        """What the load cell reads while lifting the current item."""
        assert self.current is not None
        return round(self.rng.uniform(*self.current.item.hold), 2)

    # Effects shared by the tree and the machines.

    async def drive_to(self, target: float, timebase: Timebase, where: str) -> None:
        """Drive along the aisle to ``target`` metres."""
        distance = abs(target - self.position)
        self.say(f"driving {distance:g} m to {where}")
        await timebase.sleep(distance / SPEED)
        self.position = target
        self.battery -= distance * DRIVE_DRAIN

    def arm(self, what: str) -> None:
        """Record what the arm did for the current order."""
        order = self.current.id if self.current is not None else "-"
        self.arm_log.append((self.clock.now(), order, what))
        self.say(f"  arm: {what}")

    def enter_mode(self, mode: str) -> None:
        """Record a change of the robot's top-level mode."""
        if mode != self.mode:
            self.modes.append((self.clock.now(), self.mode, mode))
            self.say(f"mode {self.mode} -> {mode}")
        self.mode = mode


# --------------------------------------------------------------------------- the arm (FSM, run by the tree)


@septum.state(config=StateConfiguration(timeout=REACH_TIME))
def Reaching():
    """The arm moves to the shelf; the motion takes REACH_TIME."""

    class Events(Enum):
        REACHED = auto()

    @septum.on_enter
    def on_enter(ctx):
        bb: Robot = ctx.common
        bb.arm_state = "Reaching"
        bb.battery -= ARM_DRAIN
        bb.arm(f"reaching for the {bb.current.item.name}")

    @septum.on_state
    def on_state(ctx):
        return None  # the motion ends with the timeout

    @septum.on_timeout
    def on_timeout(ctx):
        return Events.REACHED

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.REACHED, Gripping)]


@septum.state(config=StateConfiguration(timeout=GRIP_TIME, retries=GRIP_RETRIES))
def Gripping():
    """The gripper closes for GRIP_TIME, then the force sensor says whether it holds; retried if not."""

    class Events(Enum):
        GRIPPED = auto()
        SLIPPED = auto()
        GAVE_UP = auto()

    @septum.on_enter
    def on_enter(ctx):
        bb: Robot = ctx.common
        bb.arm_state = "Gripping"
        bb.battery -= ARM_DRAIN
        bb.arm(f"grip attempt {ctx.retry_count + 1}")

    @septum.on_state
    def on_state(ctx):
        return None

    @septum.on_timeout
    def on_timeout(ctx):
        bb: Robot = ctx.common
        force = bb.grip_force()
        if force >= GRIP_THRESHOLD:
            bb.arm(f"gripped (force {force:.2f})")
            return Events.GRIPPED
        bb.arm(f"grip slipped (force {force:.2f} < {GRIP_THRESHOLD})")
        return Events.SLIPPED

    @septum.on_fail
    def on_fail(ctx):
        ctx.common.arm(f"no grip after {ctx.retry_count + 1} attempts")
        return Events.GAVE_UP

    @septum.transitions
    def transitions():
        return [
            LabeledTransition(Events.GRIPPED, Lifting),
            LabeledTransition(Events.SLIPPED, Retry),
            LabeledTransition(Events.GAVE_UP, Dropped),
        ]


@septum.state(config=StateConfiguration(timeout=LIFT_TIME))
def Lifting():
    """The arm lifts for LIFT_TIME; the load cell then says whether the item is still there."""

    class Events(Enum):
        LIFTED = auto()
        SLIPPED = auto()

    @septum.on_enter
    def on_enter(ctx):
        ctx.common.arm_state = "Lifting"
        ctx.common.battery -= ARM_DRAIN
        ctx.common.arm("lifting")

    @septum.on_state
    def on_state(ctx):
        return None

    @septum.on_timeout
    def on_timeout(ctx):
        load = ctx.common.load_cell()
        if load >= HOLD_THRESHOLD:
            ctx.common.arm(f"lifted (load {load:.2f})")
            return Events.LIFTED
        ctx.common.arm(f"slipped while lifting (load {load:.2f} < {HOLD_THRESHOLD})")
        return Events.SLIPPED

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.LIFTED, Holding), LabeledTransition(Events.SLIPPED, Dropped)]


@septum.state(config=StateConfiguration(terminal=True))
def Holding():
    @septum.on_enter
    def on_enter(ctx):
        bb: Robot = ctx.common
        bb.arm_state = "Holding"
        bb.holding = bb.current.item
        bb.arm(f"holding the {bb.holding.name}")


@septum.state(config=StateConfiguration(terminal=True))
def Dropped():
    @septum.on_enter
    def on_enter(ctx):
        bb: Robot = ctx.common
        bb.arm_state = "Dropped"
        bb.arm(f"dropped the {bb.current.item.name}")


# --------------------------------------------------------------------------- the work tree (BT)


@bt.tree
def WorkTree():
    @bt.condition
    def battery_low(bb):
        reading = bb.battery_gauge()
        if reading < LOW_BATTERY:
            bb.say(f"battery gauge reads {reading:.1f}% (< {LOW_BATTERY:g}%): going to charge")
            return True
        return False

    @bt.action
    async def drive_to_dock(bb, timebase):
        await bb.drive_to(DOCK, timebase, "the dock")
        return Status.SUCCESS

    @bt.action
    def ask_for_charge(bb):
        bb.needs_charge = True
        return Status.SUCCESS

    @bt.sequence
    def recharge():
        yield battery_low
        yield drive_to_dock
        yield ask_for_charge

    @bt.action
    def claim_next_order(bb):
        if not bb.orders:
            return Status.FAILURE
        bb.current = bb.orders.pop(0)
        bb.arm_state = "Parked"
        bb.say(f"order {bb.current.id}: a {bb.current.item.name} from the shelf at {bb.current.shelf:g} m")
        return Status.SUCCESS

    @bt.action
    async def drive_to_shelf(bb, timebase):
        await bb.drive_to(bb.current.shelf, timebase, "the shelf")
        return Status.SUCCESS

    # FSM-in-BT: each pick runs a fresh arm machine on this blackboard and this clock.
    pick_item = bt.timeout(PICK_DEADLINE)(machine_action(Reaching, name="pick_item", succeed_in=[Holding]))

    @bt.action
    async def drive_to_packing(bb, timebase):
        await bb.drive_to(PACKING, timebase, "packing")
        return Status.SUCCESS

    @bt.action
    def hand_over(bb, timebase):
        bb.delivered.append((bb.current.id, timebase.now()))
        bb.say(f"order {bb.current.id} delivered (battery {bb.battery:.1f}%)")
        bb.holding = None
        bb.arm_state = "Parked"
        bb.current = None
        return Status.SUCCESS

    @bt.sequence
    def fulfil_order():
        yield claim_next_order
        yield drive_to_shelf
        yield pick_item
        yield drive_to_packing
        yield hand_over

    @bt.action
    def give_up_order(bb, timebase):
        order = bb.current
        if order is None:
            return Status.FAILURE  # nothing was claimed: nothing to give up
        now = timebase.now()
        if bb.arm_state == "Dropped":
            reason = "dropped"
        else:
            # The deadline halted the arm machine: its timers must already be gone from the clock.
            reason = f"pick abandoned after {PICK_DEADLINE:g} s in {bb.arm_state}"
            bb.abandoned.append(Abandonment(order.id, now, bb.arm_state, bb.clock.pending))
        bb.failed.append((order.id, reason, now))
        bb.say(f"order {order.id} failed: {reason}")
        bb.current = None
        bb.holding = None
        return Status.FAILURE

    @bt.root
    @bt.selector
    def decide():
        yield recharge
        yield fulfil_order
        yield give_up_order


# --------------------------------------------------------------------------- the robot's modes (FSM)


@septum.state()
def Idle():
    """Waits for orders; goes to charge when the tree asked for it."""

    class Events(Enum):
        WORK = auto()
        CHARGE = auto()
        CLOCK_OFF = auto()

    @septum.on_enter
    def on_enter(ctx):
        ctx.common.enter_mode("Idle")

    @septum.on_state
    def on_state(ctx):
        bb: Robot = ctx.common
        if ctx.msg == "end_of_shift":
            return Events.CLOCK_OFF
        if bb.needs_charge:
            return Events.CHARGE
        if bb.orders:
            return Events.WORK
        return None  # wait for the next "orders" message

    @septum.transitions
    def transitions():
        return [
            LabeledTransition(Events.WORK, Working),
            LabeledTransition(Events.CHARGE, Charging),
            LabeledTransition(Events.CLOCK_OFF, OffDuty),
        ]


@septum.state(config=StateConfiguration(timeout=CHARGE_STEP))
def Charging():
    """On the dock: CHARGE_RATE % per CHARGE_STEP until full."""

    class Events(Enum):
        MORE = auto()
        FULL = auto()

    @septum.on_enter
    def on_enter(ctx):
        bb: Robot = ctx.common
        if bb.mode != "Charging":
            bb.enter_mode("Charging")
            bb.charges.append((bb.clock.now(), bb.clock.now(), bb.battery, bb.battery))

    @septum.on_state
    def on_state(ctx):
        return None

    @septum.on_timeout
    def on_timeout(ctx):
        bb: Robot = ctx.common
        bb.battery = min(100.0, bb.battery + CHARGE_RATE)
        start, _, before, _ = bb.charges[-1]
        bb.charges[-1] = (start, bb.clock.now(), before, bb.battery)
        bb.say(f"charged to {bb.battery:.1f}%")
        if bb.battery < 100.0:
            return Events.MORE
        bb.needs_charge = False
        return Events.FULL

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.MORE, Repeat), LabeledTransition(Events.FULL, Idle)]


@septum.state(config=StateConfiguration(timeout=RECOVER_TIME))
def Recovering():
    """After a failed order the arm re-homes before the robot takes the next one."""

    class Events(Enum):
        HOMED = auto()

    @septum.on_enter
    def on_enter(ctx):
        ctx.common.enter_mode("Recovering")
        ctx.common.arm_state = "Parked"

    @septum.on_state
    def on_state(ctx):
        return None

    @septum.on_timeout
    def on_timeout(ctx):
        return Events.HOMED

    @septum.transitions
    def transitions():
        return [LabeledTransition(Events.HOMED, Idle)]


@septum.state(config=StateConfiguration(terminal=True))
def OffDuty():
    @septum.on_enter
    def on_enter(ctx):
        ctx.common.enter_mode("OffDuty")


# BT-in-FSM: entering Working runs the work tree to completion; its outcome picks the next mode.
Working = tree_state(
    WorkTree,
    success=Idle,
    failure=Recovering,
    name="Working",
    on_enter=lambda ctx: ctx.common.enter_mode("Working"),
)

DIAGRAMS = {"work_tree": WorkTree, "modes": Idle, "arm": Reaching}


# --------------------------------------------------------------------------- the scenario


@attrs.frozen
class Report:
    """Everything the scenario observed, for printing and for tests."""

    delivered: tuple[tuple[str, float], ...]
    failed: tuple[tuple[str, str, float], ...]
    charges: tuple[tuple[float, float, float, float], ...]
    modes: tuple[tuple[float, str, str], ...]
    arm: tuple[tuple[float, str, str], ...]
    abandoned: tuple[Abandonment, ...]
    pending_at_end: int
    final_mode: str
    final_battery: float
    journal: tuple[str, ...]


SCHEDULE: list[tuple[float, list[Order] | str]] = [
    # (virtual time, orders arriving, or a message to the robot)
    (0.0, [Order("o1", BOX, 6.0), Order("o2", BOTTLE, 9.0), Order("o3", CRATE, 4.0)]),
    (60.0, [Order("o4", VASE, 5.0), Order("o5", BOX, 3.0)]),
    (200.0, "end_of_shift"),
]


async def run_scenario(*, seed: int = 20) -> Report:
    """Run the robot through SCHEDULE on a virtual clock and return what happened."""
    clock = ManualClock()
    bb = Robot(clock=clock, seed=seed)
    robot = StateMachine(Idle, common_data=bb, timebase=clock)
    running = asyncio.create_task(robot.run(wait=True))  # until OffDuty; the clock drives it
    for at, what in SCHEDULE:
        await clock.run_for(at - clock.now())
        if isinstance(what, str):
            bb.say(f"<< {what}")
            robot.send_message(what)
        else:
            bb.say("<< new orders: " + ", ".join(f"{o.id} ({o.item.name})" for o in what))
            bb.orders.extend(what)
            robot.send_message("orders")
    await running
    return Report(
        delivered=tuple(bb.delivered),
        failed=tuple(bb.failed),
        charges=tuple(bb.charges),
        modes=tuple(bb.modes),
        arm=tuple(bb.arm_log),
        abandoned=tuple(bb.abandoned),
        pending_at_end=clock.pending,
        final_mode=robot.current_state.name,
        final_battery=round(bb.battery, 1),
        journal=tuple(bb.journal),
    )


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seed", type=int, default=20, help="seed of the sensors' noise")
    args = parser.parse_args(argv)
    print("Warehouse robot: arm FSM inside a work BT inside a mode FSM (virtual clock, seeded sensors)")
    report = asyncio.run(run_scenario(seed=args.seed))
    print("\n".join(report.journal))
    print("\nDelivered: " + ", ".join(f"{o} at t={t:g}s" for o, t in report.delivered))
    print("Failed:    " + ", ".join(f"{o} ({why}) at t={t:g}s" for o, why, t in report.failed))
    for start, end, before, after in report.charges:
        print(f"Charged:   t={start:g}s..{end:g}s, {before:.1f}% -> {after:.1f}%")
    for gone in report.abandoned:
        print(
            f"Abandoned: arm of {gone.order} halted at t={gone.at:g}s in {gone.arm_state}; "
            f"timers left on the clock: {gone.pending_timers}"
        )
    print(
        f"Final:     {report.final_mode}, battery {report.final_battery:.1f}%, "
        f"timers pending {report.pending_at_end}"
    )
    return report


if __name__ == "__main__":
    main()
