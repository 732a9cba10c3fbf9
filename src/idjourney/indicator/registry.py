"""Definition names (command-line spelling) → classes, with closest-name suggestions."""

from __future__ import annotations

import difflib
from typing import Any

from idjourney.indicator.base import Definition, IndicatorError
from idjourney.indicator.definitions import (
    CohortUnidentifiedAt,
    MedianTimeToIdentification,
    PeriodIdentificationRate,
    RMSTUnidentified,
    StockIndex,
)
from idjourney.indicator.inflow import NewVictims

__all__ = ["DEFINITIONS", "get_definition", "make_definition"]

#: every definition, in the order they are listed and plotted
DEFINITIONS: dict[str, type[Definition]] = {
    cls.name: cls
    for cls in (
        StockIndex,
        CohortUnidentifiedAt,
        MedianTimeToIdentification,
        RMSTUnidentified,
        PeriodIdentificationRate,
        NewVictims,
    )
}


def get_definition(name: str) -> type[Definition]:
    """The class for a command-line name (class names are accepted too).

    Raises
    ------
    IndicatorError
        Unknown name; the message suggests the closest (``difflib``).
    """
    if name in DEFINITIONS:
        return DEFINITIONS[name]
    for cls in DEFINITIONS.values():
        if name == cls.__name__:
            return cls
    candidates = list(DEFINITIONS) + [cls.__name__ for cls in DEFINITIONS.values()]
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.3)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise IndicatorError(
        f"unknown indicator definition {name!r}.{hint} Available: {', '.join(DEFINITIONS)} "
        "(idjourney indicator --list)"
    )


def make_definition(name: str, **parameters: Any) -> Definition:
    """An instance of ``name`` with the parameters it takes (others are ignored if ``None``).

    Raises
    ------
    IndicatorError
        Unknown name, or a parameter the definition does not take.
    """
    cls = get_definition(name)
    given = {k: v for k, v in parameters.items() if v is not None}
    extra = sorted(set(given) - set(cls.parameters) - set(cls.options))
    if extra:
        raise IndicatorError(
            f"{cls.name} does not take {', '.join(extra)}; it takes "
            f"{', '.join(cls.parameters) or 'no parameters'}"
        )
    if "delay_adjust" in given:  # designs may give options as numbers (0/1) or booleans
        given["delay_adjust"] = bool(given["delay_adjust"])
    return cls(**given)
