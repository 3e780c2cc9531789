"""How each setting of a ``logical_deduction`` puzzle reads: the direction of its order and the
wording of its clues (BBH's five settings and the generator's other wordings)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """How one setting's clues read. Every predicate starts with its verb; {other} is the second
    object, {nth} an ordinal counted from the end the template names."""
    ends: tuple[str, str]  # the first and the last end, for the narration: ("left", "right")
    earlier: tuple[str, ...]  # predicates putting the subject before {other}
    later: tuple[str, ...]
    first: str  # the predicate for the first spot
    last: str
    from_start: str  # "is the {nth} from the left"
    from_end: str
    bare_names: bool = False  # objects are names ("Ada"), not "the owl"
    sides: tuple[str, str] = ("before", "after")  # as the narration says them: "left of", "right of"

    def verbs(self) -> set[str]:
        templates = (*self.earlier, *self.later, self.first, self.last, self.from_start, self.from_end)
        return {t.split()[0] for t in templates}


_ROW = Kind(("left", "right"), ("is to the left of {other}",), ("is to the right of {other}",), "is the leftmost",
            "is the rightmost", "is the {nth} from the left", "is the {nth} from the right",
            sides=("left of", "right of"))

KINDS = {
    # BBH
    "birds": _ROW, "books": _ROW,
    "golfers": Kind(("first", "last"), ("finished above {other}",), ("finished below {other}",), "finished first",
                    "finished last", "finished {nth}", "finished {nth}-to-last", True, ("above", "below")),
    "vehicles": Kind(("oldest", "newest"), ("is older than {other}",), ("is newer than {other}",), "is the oldest",
                     "is the newest", "is the {nth}-oldest", "is the {nth}-newest"),
    "fruits": Kind(("cheapest", "most expensive"), ("are less expensive than {other}",),
                   ("are more expensive than {other}",), "are the cheapest", "are the most expensive",
                   "are the {nth}-cheapest", "are the {nth}-most expensive"),
    # the generator's "varied" wording
    "people": Kind(("front", "back"), ("stands ahead of {other}", "stands in front of {other}"),
                   ("stands behind {other}",), "stands at the front", "stands at the back", "stands {nth} in line",
                   "stands {nth} from the back", True, ("ahead of", "behind")),
    "shirts": Kind(("left", "right"), ("hangs left of {other}", "hangs somewhere left of {other}"),
                   ("hangs right of {other}", "hangs somewhere right of {other}"), "hangs at the far left",
                   "hangs at the far right", "hangs {nth} from the left end", "hangs {nth} from the right end",
                   sides=("left of", "right of")),
    "items": Kind(("lightest", "heaviest"), ("is lighter than {other}", "weighs less than {other}"),
                  ("is heavier than {other}", "weighs more than {other}"), "is the lightest", "is the heaviest",
                  "is the {nth}-lightest", "is the {nth}-heaviest"),
    "runners": Kind(("first", "last"), ("crossed the line before {other}",), ("crossed the line after {other}",),
                    "crossed the line first", "crossed the line last", "crossed the line {nth}",
                    "crossed the line {nth} from last", True),
    # the generator's "heldout" wording
    "tenants": Kind(("bottom", "top"), ("lives on a lower floor than {other}",),
                    ("lives on a higher floor than {other}",), "lives on the bottom floor", "lives on the top floor",
                    "lives on the {nth} floor from the bottom", "lives on the {nth} floor from the top", True),
    "trees": Kind(("shortest", "tallest"), ("is shorter than {other}",), ("is taller than {other}",),
                  "is the shortest", "is the tallest", "is the {nth}-shortest", "is the {nth}-tallest"),
    "acts": Kind(("first", "last"), ("performs earlier than {other}",), ("performs later than {other}",),
                 "opens the show", "closes the show", "is the {nth} act", "is the {nth}-to-last act"),
    "cars": Kind(("nearest", "farthest"), ("is parked closer to the gate than {other}",),
                 ("is parked farther from the gate than {other}",), "is parked nearest the gate",
                 "is parked farthest from the gate", "is the {nth}-closest to the gate",
                 "is the {nth}-farthest from the gate"),
}
