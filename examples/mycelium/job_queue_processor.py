"""Job queue: behaviour trees inside a Petri net validate, enrich and route jobs by priority.

    incoming -> [validate (ValidateJob tree)] -> valid -> [prioritize (RouteJob tree)]
                        |                                   |         |         |
                     rejected                           critical     fast     normal
                                                            |         |         |
                                                    [work_critical] [work_fast] [work_normal]
                                                            \\         |         /
                                                                 completed (logged)

One tree runs per job token in each of the two tree transitions. The validation tree rejects bad
jobs with a reason and routes good ones as enriched jobs; the routing tree picks a lane. Each lane
has one worker (a transition with concurrency 1) whose work takes virtual time, critical jobs
first. Run it and the output is the same every time.

Run:  python examples/mycelium/job_queue_processor.py [--out DIR] [--log out/events.json]
  or: mycorrhizal demo job-queue --out DIR --log out/events.json
``--log`` writes everything the run did as an object-centric event log (spores.observe): OCEL 2.0
JSON for ``.json``, OCEL 2.0 SQLite for ``.sqlite``, JSON lines for ``.jsonl``. A job is one
``job`` object through its life: submitted, enriched (estimate), completed (lane, times).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import Annotated, Any

import attrs

from mycorrhizal import spores
from mycorrhizal.common import ManualClock, RenderError, dot_available
from mycorrhizal.mycelium import PlaceType, PNRunner, pn
from mycorrhizal.render import render
from mycorrhizal.rhizomorph import Status, bt

log = logging.getLogger("job_queue_example")

LANES = ("critical", "fast", "normal")


@spores.spore.object("job")  # in --log, every stage of a job is the same "job" object
@attrs.frozen
class Job:
    """A job as submitted."""

    id: str
    owner: str
    kind: str
    priority: int
    size_kb: int


@spores.spore.object("job")
@attrs.frozen
class ReadyJob:
    """A validated job, enriched with what the routing tree and the workers need."""

    job: Job
    estimate: Annotated[float, spores.SporesAttr]  # virtual seconds of work
    received_at: Annotated[float, spores.SporesAttr]

    @property
    def id(self) -> str:
        """The job's id (what the event log calls this token)."""
        return self.job.id


@spores.spore.object("job")
@attrs.frozen
class Completed:
    """A finished job: which lane ran it and when."""

    job: Job
    lane: Annotated[str, spores.SporesAttr]
    started: Annotated[float, spores.SporesAttr]
    finished: Annotated[float, spores.SporesAttr]

    @property
    def id(self) -> str:
        """The job's id (what the event log calls this token)."""
        return self.job.id


@attrs.define
class Blackboard:
    """Shared by the net, both trees and the workers."""

    max_size_kb: int = 512
    seconds_per_kb: float = 0.01
    log: list[str] = attrs.Factory(list)
    done: list[Completed] = attrs.Factory(list)


# --------------------------------------------------------------------------- the trees


@bt.tree
def ValidateJob():
    """Reject a job that breaks a rule (saying which); route a good one as an enriched ReadyJob."""

    def rule(ok: bool, ctx: Any, reason: str) -> Status:
        if ok:
            return Status.SUCCESS
        ctx.reject(reason)
        return Status.FAILURE

    @bt.action
    def has_owner(ctx):
        return rule(bool(ctx.token.owner), ctx, "no owner")

    @bt.action
    def priority_in_range(ctx):
        return rule(0 <= ctx.token.priority <= 10, ctx, f"priority {ctx.token.priority} not in 0..10")

    @bt.action
    def fits(ctx, bb):
        return rule(ctx.token.size_kb <= bb.max_size_kb, ctx, f"{ctx.token.size_kb} kB > {bb.max_size_kb} kB")

    @bt.action
    def enrich(ctx, bb, timebase):
        job = ctx.token
        estimate = round(0.5 + job.size_kb * bb.seconds_per_kb, 2)
        ready = ReadyJob(job, estimate=estimate, received_at=timebase.now())
        ctx.route("valid", produce=ready)
        return Status.SUCCESS

    @bt.root
    @bt.sequence
    def validate():
        yield has_owner
        yield priority_in_range
        yield fits
        yield enrich


@bt.tree
def RouteJob():
    """Alerts and priority >= 9 are critical; short jobs of priority >= 5 are fast; the rest normal."""

    @bt.condition
    def is_critical(ctx):
        return ctx.token.job.kind == "alert" or ctx.token.job.priority >= 9

    @bt.condition
    def is_quick(ctx):
        return ctx.token.job.priority >= 5 and ctx.token.estimate <= 2.0

    def lane(name: str) -> Any:
        def send(ctx):
            ctx.route(name)
            return Status.SUCCESS

        send.__name__ = f"to_{name}"
        return bt.action(send)

    to_critical, to_fast, to_normal = (lane(name) for name in LANES)

    @bt.sequence
    def critical():
        yield is_critical
        yield to_critical

    @bt.sequence
    def quick():
        yield is_quick
        yield to_fast

    @bt.root
    @bt.selector
    def choose_lane():
        yield critical
        yield quick
        yield to_normal


# --------------------------------------------------------------------------- the net


@pn.net
def JobQueueProcessor(builder):
    incoming = builder.place("incoming", type=PlaceType.QUEUE)
    valid = builder.place("valid", type=PlaceType.QUEUE)
    rejected = builder.place("rejected")
    lanes = {name: builder.place(name, type=PlaceType.QUEUE) for name in LANES}

    @builder.io_output_place()
    def completed(token, bb, timebase):
        bb.done.append(token)
        line = (
            f"t={token.finished:5.2f}s  {token.lane:<8} {token.job.id} "
            f"({token.job.kind}, p{token.job.priority}) done after {token.finished - token.started:.2f}s"
        )
        bb.log.append(line)
        log.info("%s", line)

    @builder.transition(bt=ValidateJob, inputs=[incoming], outputs=[valid], rejected=rejected)
    async def validate(consumed, bb, timebase):
        pass  # the ValidateJob tree decides

    @builder.transition(bt=RouteJob, inputs=[valid], outputs=list(lanes.values()))
    async def prioritize(consumed, bb, timebase):
        pass  # the RouteJob tree decides

    def worker(lane: str, priority: int) -> None:
        async def work(consumed, bb, timebase):
            ready = consumed.token
            started = timebase.now()
            await timebase.sleep(ready.estimate)  # the work itself, in virtual time
            return {completed: Completed(ready.job, lane, started, timebase.now())}

        builder.transition(
            name=f"work_{lane}", inputs=[lanes[lane]], outputs=[completed], concurrency=1, priority=priority
        )(work)

    for priority, lane in enumerate(reversed(LANES)):
        worker(lane, priority)


DIAGRAMS = {"net": JobQueueProcessor, "validate": ValidateJob, "route": RouteJob}


# --------------------------------------------------------------------------- the scenario

JOBS = [
    Job("job-01", "ana", "report", 3, 120),
    Job("job-02", "ben", "alert", 2, 10),
    Job("job-03", "", "export", 5, 40),
    Job("job-04", "cy", "thumbnail", 7, 30),
    Job("job-05", "dee", "backup", 9, 400),
    Job("job-06", "eli", "report", 12, 50),
    Job("job-07", "fay", "thumbnail", 6, 90),
    Job("job-08", "gus", "export", 4, 900),
    Job("job-09", "hal", "alert", 8, 5),
    Job("job-10", "ivy", "report", 1, 200),
]


@attrs.frozen
class Report:
    """What the scenario observed."""

    lanes: dict[str, tuple[str, ...]]
    rejected: tuple[tuple[str, str], ...]
    completed: tuple[Completed, ...]
    log: tuple[str, ...]
    finished_at: float


async def run_scenario(log: Path | None = None) -> Report:
    """Submit the jobs at t=0 and run the net on a virtual clock until every job is settled
    (logged into ``log``)."""
    clock = ManualClock()
    bb = Blackboard()
    runner = PNRunner(JobQueueProcessor, bb, clock)
    if log is not None:
        spores.configure(transport=spores.transport_for(log))
        spores.observe(runner)
    await runner.start()
    runner.add_tokens("incoming", JOBS)
    idle = asyncio.ensure_future(runner.run_until_idle())
    while not idle.done():
        await clock.run_for(0.25)  # workers sleep in virtual time; move it along
    await idle
    rejected = tuple((r.token.id, r.reason) for r in runner.tokens("rejected"))
    await runner.stop()
    if log is not None:
        await spores.aclose()  # writes the whole log and closes the file
        events = spores.get_dispatcher().events
        spores.configure()  # logging off again: nothing else in this process writes to the closed file
        print(f"wrote {events} events to {log}\n")
    by_lane = {lane: tuple(c.job.id for c in bb.done if c.lane == lane) for lane in LANES}
    finished = max(c.finished for c in bb.done)
    return Report(by_lane, rejected, tuple(bb.done), tuple(bb.log), finished)


def main(argv: list[str] | None = None) -> Report:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, help="write the net's and the trees' pictures into this folder")
    parser.add_argument("--log", type=_log_path, help="write the run's event log (.json, .sqlite, .jsonl)")
    args = parser.parse_args(argv)
    print(f"Job queue: {len(JOBS)} jobs validated and routed by behaviour trees inside a Petri net\n")
    report = asyncio.run(run_scenario(args.log))
    print("Completed (virtual time):")
    for line in report.log:
        print(f"  {line}")
    print("\nRejected:")
    for job_id, reason in report.rejected:
        print(f"  {job_id}: {reason}")
    print("\nLanes: " + ", ".join(f"{lane}={len(ids)}" for lane, ids in report.lanes.items()))
    print(
        f"Counts: submitted={len(JOBS)} completed={len(report.completed)} rejected={len(report.rejected)} "
        f"(all settled by t={report.finished_at:.2f}s)"
    )
    if args.out is not None:
        fmt = "svg" if dot_available() else "dot"
        try:
            for name, subject in DIAGRAMS.items():
                print(f"wrote {render(subject, args.out / f'job_queue_{name}.{fmt}', format=fmt)}")
        except RenderError as err:
            print(f"could not draw: {err}")
    return report


def _log_path(text: str) -> Path:
    if not text.lower().endswith(spores.LOG_SUFFIXES):
        raise argparse.ArgumentTypeError(f"{text!r}: end the file name with .json, .sqlite or .jsonl")
    return Path(text)


if __name__ == "__main__":
    main()
