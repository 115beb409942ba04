"""Prometheus metrics of nets, trees and state machines, built as observers (``mycorrhizal[metrics]``).

::

    from prometheus_client import CollectorRegistry
    from mycorrhizal.metrics import Metrics

    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.observe(runner)        # a hypha/mycelium runner, a rhizomorph runner, a StateMachine

Everything is registered on the registry you pass (nothing on prometheus_client's global one):
counters and latency histograms moved by the runtime's events, and gauges read when the registry
is collected (tokens per place, a machine's queued messages).  See docs/observing.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

try:
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.registry import Collector
except ModuleNotFoundError as missing:  # the optional extra
    if missing.name is None or missing.name.split(".")[0] != "prometheus_client":
        raise
    raise ModuleNotFoundError(
        "mycorrhizal.metrics needs prometheus_client: pip install 'mycorrhizal[metrics]'",
        name="prometheus_client",
    ) from missing

from ..hypha import Runner as NetRunner
from ..mycelium.machine_pool import POOL, MachinePool
from ..septum import StateMachine
from .families import LATENCY_BUCKETS, Families, names_taken
from .observer import MetricsObserver
from .pruning import prune

__all__ = ["LATENCY_BUCKETS", "Metrics", "MetricsObserver"]


class _Gauges(Collector):
    """Read at collection time: tokens in each place of each observed net, queued messages of each
    observed machine and of the machines living in an observed net's ``fsm=`` transitions."""

    def __init__(self, metrics: Metrics, namespace: str) -> None:
        self._metrics = metrics
        self._namespace = namespace

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        ns = self._namespace
        return (
            GaugeMetricFamily(f"{ns}_net_place_tokens", "Tokens now in a place.", labels=["net", "place"]),
            GaugeMetricFamily(
                f"{ns}_machine_queue_size", "Messages queued for a machine.", labels=["machine"]
            ),
        )

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The gauges with their values now: runtimes of one name (two nets built from one spec)
        add up under their labels, as their counters do (one sample per label set: a scrape keeps
        only one of duplicates)."""
        tokens: dict[tuple[str, str], int] = {}
        queued: dict[str, int] = {}
        for observer in self._metrics.observers:  # (one per runtime: observe() refuses a second)
            runtime = observer.runtime
            if isinstance(runtime, NetRunner):
                net = runtime.net.name
                for place, count in runtime.marking().counts().items():
                    short = place[len(net) + 1 :] if place.startswith(net + ".") else place
                    tokens[(net, short)] = tokens.get((net, short), 0) + count
                _net_machines(runtime, queued)
            elif isinstance(runtime, StateMachine):
                name = runtime.spec.shown
                queued[name] = queued.get(name, 0) + runtime.queue_size
        token_family, queue_family = self._families()
        for labels, count in tokens.items():
            token_family.add_metric(list(labels), count)
        for name, size in queued.items():
            queue_family.add_metric([name], size)
        yield token_family
        yield queue_family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The families (without samples), so registering checks their names once."""
        yield from self._families()


def _net_machines(runner: NetRunner, queued: dict[str, int]) -> None:
    """Add the messages queued for the living machines of each ``fsm=`` transition of ``runner``
    (one made a machine) under the transition's name, as its machines' counters are: every key's
    machine together, an evicted one no longer."""
    net = runner.net.name
    for transition in runner.fired():
        pool: MachinePool | None = runner.memory(transition).get(POOL)
        if pool is not None:
            name = transition[len(net) + 1 :] if transition.startswith(net + ".") else transition
            # a snapshot: a scrape runs in prometheus_client's thread while the event loop may
            # create or evict a machine (tuple() copies the dict without giving up the GIL)
            size = sum(fsm.queue_size for fsm in tuple(pool.living.values()))
            queued[name] = queued.get(name, 0) + size


class Metrics:
    """The metrics of every runtime observed through it, registered on ``registry``.

    One ``Metrics`` per registry (creating a second one on the same registry is refused by
    prometheus_client: the names are taken).  ``namespace`` starts every metric name.
    """

    def __init__(self, registry: CollectorRegistry, *, namespace: str = "mycorrhizal") -> None:
        self.registry = registry
        """Where the metrics are registered."""
        self.families = Families(registry, namespace)
        """The counters and histograms."""
        self.observers: list[MetricsObserver] = []
        """One per observed runtime, in the order they were attached (one its runtime detached
        because it raised leaves: the runtime may be observed again)."""
        self._gauges = _Gauges(self, namespace)
        try:
            registry.register(self._gauges)
        except ValueError as error:  # a gauge's name taken: the families go too
            self.families.unregister()
            raise names_taken(namespace, error) from error

    def observe(self, runtime: Any) -> MetricsObserver:
        """Count the events of ``runtime`` from now on; returns its observer (see :meth:`detach`).
        A runtime already observed through this ``Metrics`` is refused (``ValueError``)."""
        add = getattr(runtime, "add_observer", None)
        if add is None or not callable(add):
            raise TypeError(
                f"Metrics.observe() takes a runtime that emits events (a hypha or mycelium runner, a "
                f"rhizomorph runner or a septum StateMachine), got {runtime!r}. "
                "Fix: pass the runner, not the spec"
            )
        if any(observer.runtime is runtime for observer in self.observers):
            raise ValueError(
                f"Metrics.observe(): this Metrics already observes {runtime!r} (a second observer "
                "would count each of its events twice). Fix: metrics.detach() it first to observe it anew"
            )
        observer = MetricsObserver(self.families, runtime, self._net_changed, self._forget)
        add(observer)
        self.observers.append(observer)
        return observer

    def _net_changed(self, net: str, gone: frozenset[str]) -> None:
        """An observed net lost the places and transitions ``gone``: let go of their series."""
        prune(self.families, [observer.runtime for observer in self.observers], net, gone)

    def detach(self, observer: MetricsObserver) -> None:
        """Stop counting the events of ``observer``'s runtime (its counts stay; its gauges go)."""
        if not any(mine is observer for mine in self.observers):
            raise ValueError(
                f"Metrics.detach(): this Metrics does not observe {observer.runtime!r} (detached "
                "already?). Fix: detach what its observe() returned, once"
            )
        observer.runtime.remove_observer(observer)
        self._forget(observer)  # (its on_detached did already, if the runtime calls it)

    def _forget(self, observer: MetricsObserver) -> None:
        """Let go of ``observer``, which its runtime no longer calls (detached, or it raised)."""
        for i, mine in enumerate(self.observers):
            if mine is observer:
                del self.observers[i]
                return
