"""Which places of a net are shared through Redis, what that requires of the net, and the keys.

A *shared* place keeps its tokens in a Redis stream instead of a runner's memory.  Every worker
runs the same net; a transition that consumes a shared place is fed from the stream through a
consumer group, and commits in Redis.  So that the commit can be one atomic server-side step that
neither loses nor doubles a token, such a transition must

- have exactly one input arc, of weight 1 (a join across workers could wait forever on tokens
  another worker holds);
- produce only into shared places (an output kept in one worker's memory would be lost with it);
- return its tokens on failure (``on_error`` a place is not supported: the token stays in Redis and
  the firing is retried, with the transition's ``retry_delay``).

A shared place must be a plain place without initial tokens (every worker would add them again):
submit them once instead.  Transitions without shared inputs run as usual in each worker; those that
produce into shared places append to their streams.

A shared place consumed by an ``fsm=`` transition (mycelium) is *keyed*: its stream is split into
``partitions`` streams by the ``fsm_key`` of each token (one stream without ``fsm_key``: a single
machine), and each partition is leased to one worker at a time, which keeps the machines of its keys
(see :mod:`.partitions`).  Such a place has that transition as its only consumer.
"""

from __future__ import annotations

import zlib
from typing import Any

import attrs

from ..common.codecs import CodecRegistry
from ..common.errors import DefinitionError, Problem, RoutingError, did_you_mean
from ..hypha import NetSpec, PlaceKind
from ..hypha.compile import FlatNet, FlatTransition, compile_net
from ..hypha.transitions import OnError
from ..mycelium.machine_handler import embedded_machine
from ..mycelium.spec import EmbeddedMachine
from .connection import check_options

__all__ = ["GROUP", "Keyed", "Keys", "SharedNet"]

GROUP = "workers"
"""The consumer group every worker of a net reads shared places through."""


@attrs.frozen
class Keys:
    """The Redis keys of one net under a prefix; all share the hash tag ``{net}`` (one cluster slot)."""

    prefix: str
    net: str

    @property
    def base(self) -> str:
        """``<prefix>:{<net>}``: what every key of the net starts with."""
        return f"{self.prefix}:{{{self.net}}}"

    def place(self, qname: str) -> str:
        """The stream of the shared place ``qname``."""
        return f"{self.base}:place:{qname}"

    def dead(self, qname: str) -> str:
        """The stream where entries of shared place ``qname`` that cannot be decoded are moved."""
        return f"{self.base}:dead:{qname}"

    @property
    def workers(self) -> str:
        """Sorted set: worker name -> time of its last heartbeat (ms since the epoch)."""
        return f"{self.base}:workers"

    def worker(self, name: str) -> str:
        """Hash: what a worker says about itself (host, pid, concurrency, started)."""
        return f"{self.base}:worker:{name}"

    def partition(self, qname: str, index: int) -> str:
        """The stream of partition ``index`` of the keyed place ``qname``."""
        return f"{self.base}:place:{qname}:{index}"

    def lease(self, qname: str, index: int) -> str:
        """String ``"<worker> <epoch>"``, expiring after the holder's lease: who owns the partition."""
        return f"{self.base}:lease:{qname}:{index}"

    @property
    def epochs(self) -> str:
        """Hash: lease key -> the last epoch given out for it (each new owner gets the next)."""
        return f"{self.base}:epochs"

    def machines(self, qname: str, index: int) -> str:
        """Hash: key (codec text) -> snapshot document of the machine of that key, per partition."""
        return f"{self.base}:machines:{qname}:{index}"

    @property
    def partitions(self) -> str:
        """Hash: keyed place -> its number of partitions, written by the net's first user."""
        return f"{self.base}:partitions"


@attrs.frozen
class Keyed:
    """A keyed shared place: the ``fsm=`` transition consuming it, and its partitions."""

    place: str
    transition: str
    machine: EmbeddedMachine
    partitions: int
    """How many streams the place is split into (1 without ``fsm_key``: one machine for all)."""

    def partition_of(self, token: Any, codecs: CodecRegistry) -> tuple[int, Any, str]:
        """(partition, key, the key's codec text) of ``token``; RoutingError if ``fsm_key`` fails."""
        key_of = self.machine.key
        try:
            key = None if key_of is None else key_of(token)
            return self.partition_of_key(key, codecs)
        except Exception as exc:
            raise RoutingError(
                f"transition {self.transition!r}: fsm_key raised {type(exc).__name__}: {exc} on token "
                f"{token!r} (or its key cannot be encoded), so it cannot be routed to the worker of its "
                f"key. Fix: make fsm_key return a str, a number or a tuple for every token of {self.place!r}",
                transition=self.transition,
                place=self.place,
            ) from exc

    def partition_of_key(self, key: Any, codecs: CodecRegistry) -> tuple[int, Any, str]:
        """(partition, key, the key's codec text) of the machine of ``key``."""
        text = codecs.dumps(key)
        return zlib.crc32(text.encode()) % self.partitions, key, text


class SharedNet:
    """A net with some places shared: checked once, with the keys of its streams."""

    __slots__ = ("net", "flat", "shared", "keys", "fed", "streams", "keyed")

    def __init__(
        self,
        net: NetSpec,
        shared: list[str] | None = None,
        *,
        prefix: str = "mycorrhizal",
        partitions: int = 16,
    ) -> None:
        """``shared``: place names (any name a runner accepts); None: every plain place of the net.
        ``partitions``: streams per keyed place (the same for every worker and client)."""
        if not isinstance(net, NetSpec):
            raise DefinitionError(
                [
                    Problem(
                        "shared net", f"{net!r} is not a net", "pass a net built with @pn.net or NetBuilder"
                    )
                ],
                what="distributed net",
            )
        ok = type(partitions) is int and 1 <= partitions <= 4096
        check_options("SharedNet", [("partitions", partitions, ok, "an int from 1 to 4096", "16")])
        self.net = net
        self.flat: FlatNet = compile_net(net)
        self.shared = self._choose(shared)
        self.keys = Keys(prefix, self.flat.name)
        self.keyed = self._keyed(partitions)
        """Keyed shared places (consumed by an ``fsm=`` transition) by qualified name."""
        problems = [*self._place_problems(), *(p for t in self.flat.transitions for p in self._problems(t))]
        DefinitionError.raise_if_any(problems, what=f"distributed net {self.flat.name!r}")
        self.fed = tuple(q for q in self.shared if self.consumers(q))
        """Shared places some transition consumes: the streams workers read."""
        self.streams = {q: self._streams(q) for q in self.shared}
        """Qualified name of each shared place -> its stream keys (one, or one per partition)."""

    def __repr__(self) -> str:
        return f"<SharedNet {self.flat.name!r}: shared {list(self.shared)}>"

    def qname(self, place: str) -> str:
        """The qualified name of ``place`` (any name a runner accepts); ``KeyError`` if unknown."""
        index = self.flat.place_index(place)
        if index is None:
            known = [p.qname for p in self.flat.places]
            accepted = [*(q.removeprefix(f"{self.flat.name}.") for q in known), *known]  # as a runner's
            fix = did_you_mean(place, accepted, "name one of those places")
            raise KeyError(f"net {self.flat.name!r} has no place {place!r}; places: {known}. Fix: {fix}")
        return self.flat.places[index].qname

    @property
    def parts(self) -> list[tuple[str, int]]:
        """Every partition of the keyed places: (qualified place name, index)."""
        return [(q, i) for q, keyed in self.keyed.items() for i in range(keyed.partitions)]

    @property
    def commit_keys(self) -> list[str]:
        """Every key a commit may touch: the streams, the partitions' leases and machine hashes."""
        streams = [s for q in self.shared for s in self.streams[q]]
        return [
            *streams,
            *(self.keys.lease(*p) for p in self.parts),
            *(self.keys.machines(*p) for p in self.parts),
        ]

    def stream_of(self, qname: str, token: Any, codecs: CodecRegistry) -> str:
        """The stream ``token`` goes to in shared place ``qname`` (its key's partition, if keyed)."""
        keyed = self.keyed.get(qname)
        if keyed is None:
            return self.streams[qname][0]
        return self.streams[qname][keyed.partition_of(token, codecs)[0]]

    def _streams(self, qname: str) -> tuple[str, ...]:
        keyed = self.keyed.get(qname)
        if keyed is None:
            return (self.keys.place(qname),)
        return tuple(self.keys.partition(qname, i) for i in range(keyed.partitions))

    def _keyed(self, partitions: int) -> dict[str, Keyed]:
        names = [p.qname for p in self.flat.places]
        found = {}
        for t in self.flat.transitions:
            machine = embedded_machine(t.spec.handler)
            if machine is None or len(t.inputs) != 1 or names[t.inputs[0][0]] not in self.shared:
                continue
            q = names[t.inputs[0][0]]
            found[q] = Keyed(q, t.qname, machine, partitions if machine.key is not None else 1)
        return found

    def consumers(self, qname: str) -> list[FlatTransition]:
        """The transitions consuming place ``qname``."""
        index = self.flat.place_index(qname)
        return [t for t in self.flat.transitions if any(i == index for i, _ in t.inputs)]

    def _choose(self, shared: list[str] | None) -> tuple[str, ...]:
        if shared is None:
            return tuple(p.qname for p in self.flat.places if p.spec.kind is PlaceKind.PLAIN)
        chosen, unknown = [], []
        for name in shared:
            index = self.flat.place_index(name) if isinstance(name, str) else None
            if index is None:
                unknown.append(name)
            elif self.flat.places[index].qname not in chosen:
                chosen.append(self.flat.places[index].qname)
        if unknown:
            known = [p.qname for p in self.flat.places]
            raise DefinitionError(
                [
                    Problem(f"shared place {name!r}", "is not a place of the net", f"name one of {known}")
                    for name in unknown
                ],
                what=f"distributed net {self.flat.name!r}",
            )
        return tuple(chosen)

    def _place_problems(self) -> list[Problem]:
        found = []
        for q, keyed in self.keyed.items():
            others = [t.qname for t in self.consumers(q) if t.qname != keyed.transition]
            if others:
                found.append(
                    Problem(
                        f"shared place {q!r}",
                        f"feeds the fsm= transition {keyed.transition!r}, whose machines are kept by one "
                        f"worker per key, and also {others}",
                        "give the fsm= transition a place of its own (copy tokens into it upstream)",
                    )
                )
        for q in self.shared:
            spec = self.flat.places[self.flat.place_index(q)].spec  # type: ignore[index]
            if spec.kind is not PlaceKind.PLAIN:
                found.append(
                    Problem(
                        f"shared place {q!r}",
                        f"is an {spec.kind.value} place; its source or sink runs in one process",
                        "share the plain place next to it, or leave this one out of shared=[...]",
                    )
                )
            if spec.capacity is not None:
                found.append(
                    Problem(
                        f"shared place {q!r}",
                        f"has capacity {spec.capacity}, but a stream is not bounded by one worker",
                        "drop capacity; bound what each worker holds with prefetch= (--prefetch)",
                    )
                )
            if spec.initial:
                found.append(
                    Problem(
                        f"shared place {q!r}",
                        f"has {len(spec.initial)} initial token(s), which every worker would add again",
                        "declare it without initial tokens and submit them once (mycorrhizal submit)",
                    )
                )
        return found

    def _problems(self, t: FlatTransition) -> list[Problem]:
        names = [p.qname for p in self.flat.places]
        ins = [names[i] for i, _ in t.inputs]
        if not any(q in self.shared for q in ins):
            return []
        subject = f"transition {t.qname!r}"
        found = []
        if len(t.inputs) != 1 or t.inputs[0][1] != 1:
            arcs = ", ".join(f"{names[i]} (weight {w})" for i, w in t.inputs)
            found.append(
                Problem(
                    subject,
                    f"consumes a shared place but has the input arcs {arcs}; workers hold different "
                    "tokens, so a join could wait forever",
                    "give it one input arc of weight 1 (join in a transition before the shared place)",
                )
            )
        local = [names[i] for i, _ in t.outputs if names[i] not in self.shared]
        if local:
            found.append(
                Problem(
                    subject,
                    f"consumes a shared place but produces into {local}, kept in one worker's memory",
                    "share those places too (or produce into shared places only)",
                )
            )
        if t.spec.on_error is not OnError.RETURN:
            found.append(
                Problem(
                    subject,
                    f"consumes a shared place and sends failures to the place {t.spec.on_error!r}",
                    "drop on_error: a failed firing keeps its token in Redis and is retried",
                )
            )
        return found
