"""The Prometheus metrics of every engine, registered on the registry the user passes in.

Names follow Prometheus conventions: ``<namespace>_<engine>_<what>_<unit>``; counters end in
``_total``.  Label values are the engine's own names (the net's name, a transition's name without
the net's name in front, a state's or node's name).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["Families", "LATENCY_BUCKETS", "names_taken"]

LATENCY_BUCKETS = (
    0.000_01,
    0.000_05,
    0.000_1,
    0.000_5,
    0.001,
    0.005,
    0.01,
    0.05,
    0.1,
    0.5,
    1.0,
    5.0,
    10.0,
    60.0,
    float("inf"),
)
"""Histogram buckets in seconds: 10 µs (a plain handler) to a minute (a slow one)."""


def names_taken(namespace: str, error: ValueError) -> ValueError:
    """What ``Metrics(registry)`` raises when prometheus_client refused one of its names (``error``):
    the names, and what to do."""
    if "Duplicated timeseries" not in str(error):
        return error
    return ValueError(
        f"Metrics(registry, namespace={namespace!r}): the registry has metrics of these names already "
        f"({error}). Fix: one Metrics per registry (use the one made on it), or pass another "
        "namespace= or registry"
    )


class Families:
    """Every counter and histogram, created once per registry.  A name the registry has already
    refuses them all (:func:`names_taken`): those registered before it are unregistered."""

    def __init__(self, registry: CollectorRegistry, namespace: str) -> None:
        self.registry = registry
        self.made: list[Counter | Histogram] = []
        """Every family, in the order they were registered."""
        self.children: dict[tuple[Any, ...], Any] = {}  # (id(family), *labels) -> child: see the observer
        try:
            self._register(namespace)
        except ValueError as error:
            self.unregister()
            raise names_taken(namespace, error) from error

    def unregister(self) -> None:
        """Take every family out of the registry."""
        for family in self.made:
            self.registry.unregister(family)
        self.made.clear()

    def _counter(self, namespace: str, name: str, doc: str, labels: list[str]) -> Counter:
        self.made.append(family := Counter(name, doc, labels, namespace=namespace, registry=self.registry))
        return family

    def _histogram(self, namespace: str, name: str, doc: str, labels: list[str]) -> Histogram:
        family = Histogram(
            name, doc, labels, namespace=namespace, registry=self.registry, buckets=LATENCY_BUCKETS
        )
        self.made.append(family)
        return family

    def _register(self, namespace: str) -> None:
        counter, histogram = partial(self._counter, namespace), partial(self._histogram, namespace)
        # nets
        self.firings = counter(
            "net_firings_total",
            "Firings of a transition by outcome (committed, failed, cancelled).",
            ["net", "transition", "outcome"],
        )
        self.firing_seconds = histogram(
            "net_firing_seconds",
            "Wall time from a firing taking its tokens to its outcome, seconds.",
            ["net", "transition"],
        )
        self.consumed = counter(
            "net_tokens_consumed_total", "Tokens taken by committed firings.", ["net", "place"]
        )
        self.produced = counter(
            "net_tokens_produced_total", "Tokens produced by committed firings.", ["net", "place"]
        )
        self.net_errors = counter(
            "net_errors_total",
            "Failures outside firings: a guard, a sink (delivery) or a source that raised.",
            ["net", "element", "kind"],
        )
        # trees
        self.ticks = counter("tree_ticks_total", "Ticks of a tree by the root's status.", ["tree", "status"])
        self.tick_seconds = histogram("tree_tick_seconds", "Wall time of one tick, seconds.", ["tree"])
        self.node_status = counter(
            "tree_node_status_total", "Status changes of a node, by new status.", ["tree", "node", "status"]
        )
        self.node_events = counter(
            "tree_node_events_total",
            "Halts, leaf failures, timeouts and cleanup failures of a node.",
            ["tree", "node", "kind"],
        )
        # machines
        self.transitions = counter(
            "machine_transitions_total",
            "Transitions taken by a machine (one each; routes to the error state included).",
            ["machine", "source", "target"],
        )
        self.messages = counter(
            "machine_messages_total", "Messages handled, by the handling state.", ["machine", "state"]
        )
        self.machine_events = counter(
            "machine_events_total", "Timeouts, retries, handler failures.", ["machine", "state", "kind"]
        )
        self.state_seconds = histogram(
            "machine_state_seconds",
            "Time spent in a state, on the machine's timebase, seconds (observed when it is left).",
            ["machine", "state"],
        )

    @property
    def of_nets(self) -> tuple[Counter | Histogram, ...]:
        """The families labelled by a net, then one of its places or transitions."""
        return (self.firings, self.firing_seconds, self.consumed, self.produced, self.net_errors)

    @property
    def of_inner(self) -> tuple[Counter | Histogram, ...]:
        """The families labelled first by a tree or a machine (a net's bt=/fsm= transition's too)."""
        return (
            self.ticks,
            self.tick_seconds,
            self.node_status,
            self.node_events,
            self.transitions,
            self.messages,
            self.machine_events,
            self.state_seconds,
        )
