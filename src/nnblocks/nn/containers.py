"""ModuleList and ModuleDict: modules held in a list or a dict, registered so that the model sees them.

A plain Python list of layers is invisible to ``parameters()``, ``state_dict()``, ``train()``/``eval()`` and the
optimizer: the classic silent bug (the layers never train). Holding them in a ``ModuleList`` or ``ModuleDict``
registers each one as a sub-module, under its index ('0', '1', ...) or its key, exactly as PyTorch does, so
``state_dict`` keys match PyTorch's (``layers.0.weight``, ``heads.age.bias``).

Neither has a ``forward``: they only hold modules; the model's own ``forward`` decides how to call them.
(``Sequential``, in ``layers.py``, is the container that also calls its modules in order.)
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

from nnblocks.errors import InvalidArgumentError, InvalidValueError
from nnblocks.nn.module import Module


def _checked(owner: str, module: Any) -> Module:
    if not isinstance(module, Module):
        raise InvalidArgumentError(f"{owner}: can only hold nn.Module objects, got a {type(module).__name__} "
                                   f"({module!r:.60}); wrap a function in a Module subclass, or keep plain values "
                                   "as ordinary attributes")
    return module


def _no_forward(container: Module) -> None:
    name = type(container).__name__
    raise NotImplementedError(f"{name} has no forward(): it only holds modules. Call them in your model's forward, "
                              f"e.g. `for layer in self.layers: x = layer(x)`, or use nn.Sequential to chain them")


class ModuleList(Module):
    """A list of modules, each registered under its index: ``self.layers = nn.ModuleList([nn.Linear(4, 4)] * 2)``.

    Indexing, slicing (a slice is a new ModuleList sharing the modules), ``len``, iteration, ``append``, ``extend``,
    ``insert``, ``pop``, ``del``, ``+`` and ``+=`` behave as for a list and as PyTorch's ModuleList. After a
    deletion or insertion the remaining modules are renumbered, so the keys are always '0' .. 'n-1'.
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        _no_forward(self)

    def _index(self, index: Any) -> int:
        """``index`` as a position in 0 .. len-1 (negative indices count from the end), else IndexError."""
        if isinstance(index, bool) or not hasattr(index, "__index__"):
            raise InvalidArgumentError(f"ModuleList indices must be integers or slices, not {type(index).__name__}")
        n, i = len(self), index.__index__()
        if not -n <= i < n:
            raise IndexError(f"ModuleList index {i} is out of range for a list of {n} modules")
        return i % n

    def _renumber(self, modules: list[Module]) -> None:
        self._modules.clear()
        for i, module in enumerate(modules):
            self._modules[str(i)] = module

    def __getitem__(self, index: Any) -> Any:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return type(self)(modules[index])
        return modules[self._index(index)]

    def __setitem__(self, index: Any, module: Module) -> None:
        self._modules[str(self._index(index))] = _checked("ModuleList", module)

    def __delitem__(self, index: Any) -> None:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[self._index(index)]
        self._renumber(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __iadd__(self, modules: Iterable[Module]) -> "ModuleList":
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> "ModuleList":
        return ModuleList([*self, *other])

    def append(self, module: Module) -> "ModuleList":
        """Add ``module`` at the end (registered as ``str(len(self))``); returns self."""
        self._modules[str(len(self))] = _checked("ModuleList.append", module)
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        """Append every module of ``modules``; returns self."""
        if not hasattr(modules, "__iter__"):
            raise InvalidArgumentError(f"ModuleList.extend takes an iterable of modules, got a "
                                       f"{type(modules).__name__}: use append() for one module")
        for module in list(modules):
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index`` (list semantics: beyond the end appends)."""
        modules = list(self._modules.values())
        modules.insert(index, _checked("ModuleList.insert", module))
        self._renumber(modules)

    def pop(self, index: int = -1) -> Module:
        """Remove and return the module at ``index`` (the last one by default)."""
        module = self[index]
        del self[index]
        return module


class ModuleDict(Module):
    """A dict of modules, each registered under its key: ``nn.ModuleDict({"relu": nn.ReLU(), "tanh": nn.Tanh()})``.

    Keys are strings without '.' (the separator of state_dict names); insertion order is kept. ``d[key]``,
    ``d[key] = m``, ``del d[key]``, ``key in d``, ``len``, iteration over the keys, ``keys()``, ``values()``,
    ``items()``, ``update()``, ``pop()`` and ``clear()`` behave as for a dict and as PyTorch's ModuleDict.
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        _no_forward(self)

    def __getitem__(self, key: str) -> Module:
        if key not in self._modules:
            raise KeyError(f"ModuleDict has no module {key!r}; its keys are {list(self._modules)}")
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(key, str):
            raise InvalidArgumentError(f"ModuleDict keys must be strings (they become state_dict names), got "
                                       f"{type(key).__name__} {key!r}")
        if "." in key or key == "":
            raise InvalidValueError(f"ModuleDict key {key!r}: a module name cannot be empty or contain '.', the "
                                    "separator of state_dict names; use '_' instead")
        self._modules[key] = _checked("ModuleDict", module)

    def __delitem__(self, key: str) -> None:
        self[key]  # the KeyError above, naming the keys
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace modules from a mapping or from (key, module) pairs, in their order."""
        pairs = modules.items() if isinstance(modules, (Mapping, ModuleDict)) else modules
        for pair in pairs:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise InvalidArgumentError(f"ModuleDict.update takes a mapping or (key, module) pairs, got an "
                                           f"element {pair!r:.60}")
            self[pair[0]] = pair[1]

    def pop(self, key: str) -> Module:
        """Remove the module under ``key`` and return it."""
        module = self[key]
        del self._modules[key]
        return module

    def clear(self) -> None:
        self._modules.clear()
