"""Explicit transition tables shared by every state machine in the core."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from fitdata_core.errors import IllegalTransition

__all__ = [
    "S",
    "TransitionTable",
]

S = TypeVar("S", bound=StrEnum)


class TransitionTable(Generic[S]):
    """The moves a state machine allows: ``allowed[current]`` is the set of legal targets.

    A state with no entry (or an empty set) is terminal.
    """

    def __init__(self, machine: str, allowed: Mapping[S, frozenset[S]]) -> None:
        self.machine = machine
        self.allowed: Mapping[S, frozenset[S]] = dict(allowed)

    def can(self, current: S, target: S) -> bool:
        return target in self.allowed.get(current, frozenset())

    def check(self, current: S, target: S) -> None:
        """Raise :class:`IllegalTransition` unless ``current -> target`` is in the table."""
        if not self.can(current, target):
            raise IllegalTransition(self.machine, current.value, target.value)

    def is_terminal(self, state: S) -> bool:
        return not self.allowed.get(state)
