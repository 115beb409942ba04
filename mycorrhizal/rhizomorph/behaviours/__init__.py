"""How each kind of node ticks and halts: the functions a compiled tree is made of at run time.

:mod:`.host` says what these functions may use of the runner; :mod:`.leaves`,
:mod:`.composites` and :mod:`.decorators` build one ``tick`` and one ``halt`` function per node;
:mod:`~mycorrhizal.rhizomorph.program` puts them together for a whole tree.
"""

from .host import HaltFn, Host, TickFn

__all__ = ["HaltFn", "Host", "TickFn"]
