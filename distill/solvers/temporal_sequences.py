"""Solve ``temporal_sequences`` (BBH's file, generated questions) and narrate the solution as a rationale.

A question reads::

    Today, Susan went to the coffee shop. Between what times could they have gone?
    We know that:
    Susan woke up at 7am.
    Linda saw Susan driving to the water park from 7am to 11am.
    ...                     (BBH: 3 to 5 sightings, generated: 1 to 16, each "X saw P ... from A to B.")
    The coffee shop was closed after 9pm.
    Between what times could Susan have gone to the coffee shop?

with four options such as "6pm to 9pm". The generator's "varied" wording words each line in
one of a few other ways ("Susan got up at 7am.", "From 7am to 11am, Linda saw Susan ...",
"The coffee shop closed at 9pm."); the solver reads them all. The visit fits between waking
up and closing time, outside every sighting. The solver turns times into hours 0-23, adds the
sightings one by one to a busy timeline kept as merged intervals in time order, and takes the
hours from wake-up to closing that no interval covers. They must form one interval naming exactly one option,
otherwise the question is unreadable (never the case in BBH).

Rationale: an opening naming the window (wake-up, closing); one sentence per sighting that
quotes it and restates the whole busy timeline after it ("Linda saw Susan from 7am to 11am;
busy so far: 7am to 11am."); the free slot restating the window ("Between 7am and 9pm, the
only free time is 6pm to 9pm."); the option quote. Merging keeps the timeline one or two
intervals long, so each step is a short edit of the previous one and the gap is plain to see.
The grader's steps are the sightings (the timeline after each) and the free slot.

The ``day_walked`` style restates the whole day after each sighting instead of the busy part alone, every piece
starting where the last ended and labelled ("6am to 7am free, 7am to 3pm busy, 3pm to 7pm free"), so the free
slot is read off the last state rather than worked out from the window and the gaps between busy stretches (half
the default student's BBH misses). Its option listing marks the option equal to the free slot ("6am to 7am is
(a), a match; 3pm to 5pm is (b), no") and the letter is copied from the mark: the default student named a wrong
letter after a right slot on a quarter of its misses. ``day_labels_first`` writes each label before its piece
("free: 6am to 7am, busy: 7am to 3pm") and lists the options as the default does.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Optional, Sequence

from distill.solvers.base import (Family, StepGrade, UnsolvableQuestion, join_list, match_choice, norm, option_line,
                                  quoted_option)
from serve.core.answers import letter
from serve.core.records import Example

_TIME = r"(\d{1,2}) ?([ap]m)"


def _time(name: str) -> str:
    return rf"(?P<{name}>\d{{1,2}}) ?(?P<{name}_half>[ap]m)"


_NAME = r"[A-Z]\w*"
# Each line's frames: BBH's first, then the generator's "varied" ones (gen:temporal_sequences?wording=varied).
_HEAD = (re.compile(rf"^Today, (?P<person>{_NAME}) (?:went to|visited|stopped by) (?:the )?(?P<place>.+?)\. "
                    r"(?:Between what times could they have gone|When could they have gone"
                    r"|At what time could that have been)\?$"),)
_KNOWN = ("We know that:", "Here is what we know:", "The facts:")
_WOKE = (re.compile(rf"^(?P<person>{_NAME}) (?:woke up|got up|was out of bed) at {_time('wake')}\.$"),)
_SIGHTING = (re.compile(rf"^(?P<seer>{_NAME}) (?:saw|spotted) (?P<person>{_NAME}) .+ from {_time('start')} to "
                        rf"{_time('end')}\.$"),
             re.compile(rf"^From {_time('start')} to {_time('end')}, (?P<seer>{_NAME}) (?:saw|spotted) "
                        rf"(?P<person>{_NAME}) [^,]+\.$"))
_CLOSED = (re.compile(rf"^The (?P<place>.+?) (?:was closed after|closed at) {_time('close')}\.$"),
           re.compile(rf"^After {_time('close')}, the (?P<place>.+?) was closed\.$"))
_QUERY = (re.compile(rf"^(?:Between what times|When|At what times) could (?P<person>{_NAME}) have "
                     r"(?:gone to|visited) (?:the )?(?P<place>.+?)\?$"),)


def _first_match(patterns: Sequence[re.Pattern], line: str) -> Optional[re.Match]:
    return next((found for pattern in patterns if (found := pattern.match(line))), None)


Interval = tuple[int, int]  # [start, end) in hours since midnight


def hour(number: str, half: str) -> int:
    """('12', 'pm') -> 12, ('7', 'am') -> 7, ('9', 'pm') -> 21."""
    value = int(number)
    if not 1 <= value <= 12:
        raise UnsolvableQuestion(f"no such hour {number}{half}")
    return value % 12 + (12 if half == "pm" else 0)


def clock(hours: int) -> str:
    """21 -> '9pm', 12 -> '12pm'."""
    return f"{(hours - 1) % 12 + 1}{'am' if hours < 12 else 'pm'}"


def span(interval: Interval) -> str:
    return f"{clock(interval[0])} to {clock(interval[1])}"


def merge(intervals: Sequence[Interval]) -> list[Interval]:
    """Busy intervals in time order, touching or overlapping ones joined: [(7,11),(11,12)] -> [(7,12)]."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


@dataclass
class Sighting:
    seer: str
    interval: Interval


@dataclass
class Day:
    person: str
    place: str
    wake: int
    close: int
    sightings: list[Sighting]

    def timelines(self) -> list[list[Interval]]:
        """The merged busy timeline after each sighting in turn."""
        return [merge([s.interval for s in self.sightings[:k]]) for k in range(1, len(self.sightings) + 1)]

    def free_slot(self) -> Interval:
        busy = {h for s in self.sightings for h in range(*s.interval)}
        free = [h for h in range(self.wake, self.close) if h not in busy]
        if not free or free[-1] - free[0] + 1 != len(free):
            raise UnsolvableQuestion(f"the free hours {free} are not one interval")
        return free[0], free[-1] + 1


def parse_day(question: str) -> Day:
    lines = [line.strip() for line in question.strip().split("\n") if line.strip()]
    if len(lines) < 6 or lines[1] not in _KNOWN:
        raise UnsolvableQuestion("not a 'Today, X went to ... We know that:' question")
    head, woke, closed, query = (_first_match(_HEAD, lines[0]), _first_match(_WOKE, lines[2]),
                                 _first_match(_CLOSED, lines[-2]), _first_match(_QUERY, lines[-1]))
    sightings = [_first_match(_SIGHTING, line) for line in lines[3:-2]]
    if not (head and woke and closed and query) or not all(sightings):
        raise UnsolvableQuestion("a line does not follow the temporal_sequences pattern")
    person, place = head["person"], head["place"]
    if {woke["person"], query["person"], *(s["person"] for s in sightings)} != {person}:
        raise UnsolvableQuestion("the lines are not all about one person")
    if norm(closed["place"]) != norm(place) or norm(query["place"]) != norm(place):
        raise UnsolvableQuestion("the lines are not all about one place")
    day = Day(person, place, hour(woke["wake"], woke["wake_half"]), hour(closed["close"], closed["close_half"]),
              [Sighting(s["seer"], (hour(s["start"], s["start_half"]), hour(s["end"], s["end_half"])))
               for s in sightings])
    if any(not day.wake <= s.interval[0] < s.interval[1] <= day.close for s in day.sightings):
        raise UnsolvableQuestion("a sighting falls outside the day")
    return day


_OPENINGS = (
    "{person} woke up at {wake} and the {place} closed at {close}.",
    "The window runs from {wake}, when {person} woke up, to {close}, when the {place} closed.",
    "{person} was up at {wake}; the {place} closed at {close}.",
    "We need a time after {wake} (wake-up) and before {close} (closing).",
    "{person} was awake from {wake}, and the {place} was open until {close}.",
)
_STEPS = (  # every step sentence reads "<seer> saw <person> ... A to B<sep> <timeline>."
    "{seer} saw {person} from {sighting}; {busy}: {timeline}.",
    "{seer} saw {person} from {sighting}, so {busy}: {timeline}.",
    "{seer} saw {person} {sighting}. {Busy}: {timeline}.",
)
_BUSY = ("busy so far", "busy now", "taken so far", "busy", "busy times")
_FREE_LINES = (
    "Between {wake} and {close}, the only free time is {free}.",
    "From {wake} to {close}, {person} is free only from {free}.",
    "The only free slot between {wake} and {close} is {free}.",
    "So between {wake} and {close}, the one free time left is {free}.",
    "Between {wake} and {close}, {person} was free only from {free}.",
)


def narrate(day: Day, rng: random.Random) -> tuple[str, Interval]:
    """(rationale without the option quote, the free slot), wording drawn from ``rng``."""
    names = dict(person=day.person, place=day.place, wake=clock(day.wake), close=clock(day.close))
    lines = [rng.choice(_OPENINGS).format(**names)]
    step, busy = rng.choice(_STEPS), rng.choice(_BUSY)  # one voice per rationale: regular steps are easier to learn
    for sighting, timeline in zip(day.sightings, day.timelines()):
        lines.append(step.format(seer=sighting.seer, person=day.person, sighting=span(sighting.interval),
                                 busy=busy, Busy=busy.capitalize(), timeline=join_list([span(i) for i in timeline])))
    free = day.free_slot()
    lines.append(rng.choice(_FREE_LINES).format(free=span(free), **names))
    return " ".join(lines), free


Piece = tuple[Interval, str]  # a stretch of the day and "free" or "busy"


def pieces(day: Day, timeline: Sequence[Interval]) -> list[Piece]:
    """The day from wake-up to closing cut at the busy timeline's edges: [((6,7),'free'), ((7,15),'busy'), ...]."""
    cuts, at = [], day.wake
    for start, end in timeline:
        if start > at:
            cuts.append(((at, start), "free"))
        cuts.append(((start, end), "busy"))
        at = end
    if at < day.close:
        cuts.append(((at, day.close), "free"))
    return cuts


def _walk(cuts: Sequence[Piece], labels_first: bool = False) -> str:
    if labels_first:
        return ", ".join(f"{label}: {span(interval)}" for interval, label in cuts)
    return ", ".join(f"{span(interval)} {label}" for interval, label in cuts)


_WALK_OPENINGS = (
    "{person} woke up at {wake} and the {place} closed at {close}, so the day is {walk}.",
    "{person} was up at {wake}; the {place} closed at {close}. The day: {walk}.",
    "From {wake} (wake-up) to {close} (closing), the day is {walk}.",
)
_WALK_STEPS = (
    "{seer} saw {person} from {sighting}; the day: {walk}.",
    "{seer} saw {person} from {sighting}, so the day is {walk}.",
    "{seer} saw {person} from {sighting}; now {walk}.",
)
_WALK_FREE = ("The only free piece is {free}.", "So the free time is {free}.", "The one piece left free is {free}.")
# labels first: the slot is copied from after the last state's one "free:", as it is written there
_WALK_FREE_LABELS_FIRST = ("Left free: {free}.", "So the time still free: {free}.", "The one piece still free: {free}.")
_MATCH_CLOSINGS = ("The match is {letter}.", "So the answer, the match, is {letter}.")


def narrate_walked(day: Day, rng: random.Random, labels_first: bool = False) -> tuple[str, Interval]:
    """(rationale without the option listing, the free slot) in the ``day_walked`` styles."""
    names = dict(person=day.person, place=day.place, wake=clock(day.wake), close=clock(day.close))
    lines = [rng.choice(_WALK_OPENINGS).format(walk=_walk(pieces(day, []), labels_first), **names)]
    step = rng.choice(_WALK_STEPS)
    for sighting, timeline in zip(day.sightings, day.timelines()):
        lines.append(step.format(seer=sighting.seer, person=day.person, sighting=span(sighting.interval),
                                 walk=_walk(pieces(day, timeline), labels_first)))
    free = day.free_slot()
    lines.append(rng.choice(_WALK_FREE_LABELS_FIRST if labels_first else _WALK_FREE).format(free=span(free)))
    return " ".join(lines), free


def _answer_index(choices: Sequence[str], free: Interval) -> int:
    if sum(norm(c) == norm(span(free)) for c in choices) != 1:
        raise UnsolvableQuestion(f"the free slot {span(free)} is not exactly one of the options")
    return match_choice(span(free), choices)


def solve(example: Example, rng: random.Random) -> tuple[str, str]:
    day = parse_day(example.question)
    rationale, free = narrate(day, rng)
    choices = example.choices or []
    index = _answer_index(choices, free)
    return f"{rationale} {option_line(choices, index, rng)}", letter(index)


def solve_day_walked(example: Example, rng: random.Random) -> tuple[str, str]:
    day = parse_day(example.question)
    rationale, free = narrate_walked(day, rng)
    choices = [c.strip().rstrip(".") for c in example.choices or []]
    index = _answer_index(choices, free)
    listing = "; ".join(f"{c} is {letter(i)}, {'a match' if i == index else 'no'}" for i, c in enumerate(choices))
    closing = rng.choice(_MATCH_CLOSINGS).format(letter=letter(index))
    return f"{rationale} The options: {listing}. {closing}", letter(index)


def solve_day_labels_first(example: Example, rng: random.Random) -> tuple[str, str]:
    """The day walked with each label before its piece ("free: 6am to 7am, busy: 7am to 3pm"), so the slot is
    copied from after the word that finds it, and the letter found the default way (``option_line``). Piloted
    after ``day_walked``, whose student read the slot no better than the default's and marked one option
    position, (c), on 208 of 250 BBH answers whatever the slot."""
    day = parse_day(example.question)
    rationale, free = narrate_walked(day, rng, labels_first=True)
    choices = example.choices or []
    index = _answer_index(choices, free)
    return f"{rationale} {option_line(choices, index, rng)}", letter(index)


# --------------------------------------------------------------------------- grading a student's rationale

_INTERVAL = re.compile(_TIME + r" to " + _TIME)
_STEP_MARK = re.compile(r"\b([A-Z][a-z]+) saw [A-Z][a-z]+ (?:from )?" + _TIME + " to " + _TIME)
_FREE_MARK = re.compile(r"\bfree\b")
_PIECE_AFTER = re.compile(_TIME + r" to " + _TIME + r" (free|busy)\b")  # "6am to 7am free"
_PIECE_BEFORE = re.compile(r"\b(free|busy): " + _TIME + r" to " + _TIME)  # "free: 6am to 7am"


def _pieces_stated(text: str) -> list[tuple[str, str, str, str, str]]:
    """Every labelled piece in the text as (n1, half1, n2, half2, label), in either order of label and span."""
    found = [(m.start(), m.groups()) for m in _PIECE_AFTER.finditer(text)]
    found += [(m.start(), (*m.groups()[1:], m.group(1))) for m in _PIECE_BEFORE.finditer(text)]
    return [groups for _, groups in sorted(found)]


def _walks_the_day(rationale: str) -> bool:
    """Whether the rationale is in a ``day_walked`` style: some piece of it is labelled free."""
    return any(label == "free" for *_, label in _pieces_stated(rationale))


def _states_timeline(text: str, day: Day, timeline: Sequence[Interval], walked: bool) -> bool:
    """Whether a step states the busy timeline after its sighting: merged, as the default style lists it, or in a
    walked day every piece from wake-up to closing with its label (whose busy pieces are that timeline)."""
    if not walked:
        return merge(_intervals(text)) == timeline
    try:
        stated = [((hour(n1, h1), hour(n2, h2)), label) for n1, h1, n2, h2, label in _pieces_stated(text)]
    except UnsolvableQuestion:
        return False
    return stated == pieces(day, timeline)


def _intervals(text: str) -> list[Interval]:
    """Every 'A to B' in the text, as hours; a malformed hour ('13pm') is skipped."""
    found = []
    for n1, h1, n2, h2 in _INTERVAL.findall(text):
        try:
            found.append((hour(n1, h1), hour(n2, h2)))
        except UnsolvableQuestion:
            continue
    return found


def _sentence_rest(text: str, start: int) -> str:
    """From ``start`` to the end of its step: the next full stop, or past it for a 'Busy: ...' sentence."""
    stop = text.find(".", start)
    if stop != -1 and text[stop + 1:].lstrip().lower().startswith(tuple(b + ":" for b in _BUSY)):
        stop = text.find(".", stop + 1)
    return text[start:] if stop == -1 else text[start:stop]


def grade(question: str, choices: Optional[Sequence[str]], rationale: str) -> StepGrade:
    """Check a rationale in this family's style against the true timeline, sighting by sighting.

    Step k is right when a sighting sentence, after the one matched for step k-1, names the k-th
    sighting's seer and interval and the busy timeline it states equals the true one after that
    sighting (intervals are merged before comparing, so an unmerged but equal listing counts);
    a missing sentence is wrong but does not shift the later ones. The last step is right when
    the last 'free' sentence after the matched sightings names the free slot as its first interval. In a walked
    day (pieces labelled free or busy, label first or last) a step must also state every piece of the day."""
    day = parse_day(question)
    truth = span(day.free_slot())
    marks = list(_STEP_MARK.finditer(rationale))
    walked = _walks_the_day(rationale)
    right, next_mark, after = 0, 0, 0
    for sighting, timeline in zip(day.sightings, day.timelines()):
        for j in range(next_mark, len(marks)):
            seer, *hours = marks[j].groups()
            try:
                interval = (hour(*hours[:2]), hour(*hours[2:]))
            except UnsolvableQuestion:
                continue
            if interval == sighting.interval:
                rest = _sentence_rest(rationale, marks[j].end())
                right += seer == sighting.seer and _states_timeline(rest, day, timeline, walked)
                next_mark, after = j + 1, marks[j].end() + len(rest)
                break
    free_claims = [_intervals(_sentence_rest(rationale, m.end())) for m in _FREE_MARK.finditer(rationale, after)]
    right += bool(free_claims and free_claims[-1] and span(free_claims[-1][0]) == truth)
    own = " ".join(s for s in re.split(r"(?<=[.;])\s+", rationale) if quoted_option(s) is None)  # not the listing
    claims = _intervals(own)
    final_item = norm(span(claims[-1])) if claims else None
    claimed = quoted_option(rationale)
    if claimed is None and final_item is not None and choices:
        claimed = next((letter(i) for i, c in enumerate(choices) if norm(c) == final_item), None)
    return StepGrade(len(day.sightings) + 1, right, final_item, final_item == norm(truth), claimed)


FAMILY = Family("temporal_sequences", solve, grade, styles={"day_walked": solve_day_walked,
                                                                  "day_labels_first": solve_day_labels_first})
