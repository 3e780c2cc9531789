"""New ``temporal_sequences`` questions in BBH's form.

A person's day runs from waking up to the closing time of the place they went to. It is cut
into back-to-back slots, in time order; every slot but one is a sighting ("Noor saw Tomas
repairing a bicycle in the garage from 9am to 11am."), and the one left is the only time the
visit fits: the answer, by construction. The four options are that slot and three sighting
slots, as BBH lists them; with fewer than three sightings the missing wrong options are
other stretches of the day that cover a sighting. The right option's letter is uniform.

- ``sightings``: how many, a count ("4") or an inclusive range ("3-5"). Sizes: ``default``
  (3-5, BBH's spread), ``short`` (2), ``long`` (6-8); any count from 1 to 16 fits the day
  (5am to 10pm, one hour at least per slot).
- ``wording``: ``"bbh"`` writes BBH's sentences exactly; ``"varied"`` draws each line's frame
  from a few others ("Ada got up at 6am.", "From 2pm to 4pm, Ravi spotted Ada ...").
The names, places and activities are this module's own pools, wider than BBH's.
"""

from __future__ import annotations

import random
from typing import Any, Union

from serve.data.generators.base import Drawn, Generator, multiple_choice, parse_range

EARLIEST_WAKE, LATEST_CLOSE = 5, 22  # 5am, 10pm: BBH's days lie within these
OPTIONS = 4

PEOPLE = (
    "Ada", "Aiko", "Alma", "Amara", "Anika", "Arjun", "Astrid", "Bao", "Beatriz", "Bilal", "Bruno", "Camila", "Chidi",
    "Clara", "Dalia", "Dmitri", "Eamon", "Elif", "Emeka", "Esther", "Farah", "Felix", "Freya", "Gideon", "Greta",
    "Hamid", "Hana", "Hugo", "Idris", "Ilse", "Imani", "Ines", "Ivan", "Jamal", "Jonah", "Juno", "Kai", "Kaveh",
    "Keiko", "Kenji", "Lars", "Leila", "Lena", "Luca", "Lucia", "Mads", "Malik", "Marta", "Mateo", "Maya", "Milan",
    "Mira", "Nadia", "Niamh", "Nikos", "Noor", "Oscar", "Olu", "Paloma", "Pavel", "Priya", "Quinn", "Rafael", "Ravi",
    "Rosa", "Rowan", "Sanjay", "Selin", "Soren", "Tamar", "Tariq", "Teodor", "Tomas", "Uma", "Valeria", "Vikram",
    "Wanjiru", "Xavier", "Yara", "Yusuf", "Zainab", "Zofia", "Marcus", "Gwen", "Omar", "Petra", "Diego", "Helga",
)
PLACES = (
    "aquarium", "bowling alley", "botanical garden", "climbing gym", "farmers market", "ice rink", "pottery studio",
    "planetarium", "post office", "hardware store", "laundromat", "skate park", "concert hall", "barber shop",
    "flower shop", "science center", "city hall", "record store", "toy store", "zoo", "pharmacy", "car wash",
    "music school", "tailor", "pet store", "bank", "sculpture garden", "chess club", "karaoke bar", "tea house",
    "antique shop", "observatory", "golf course", "nail salon", "ferry terminal", "comic shop", "print shop",
    "vintage market", "rowing club", "history museum", "jazz club", "garden center", "ballet school", "noodle bar",
)
ACTIVITIES = (
    "jogging along the river", "repairing a bicycle in the garage", "feeding ducks at the pond",
    "buying stamps at the kiosk", "painting a fence in the yard", "queueing at the ticket office",
    "playing chess in the square", "washing the car in the driveway", "picking apples at the orchard",
    "sketching on a park bench", "shopping for shoes downtown", "studying in the reading room",
    "playing basketball at the rec center", "mowing the lawn", "walking a dog on the beach",
    "carrying groceries up the hill", "waiting for a bus on Main Street", "fishing off the pier",
    "practicing the violin in the music room", "riding a scooter across the bridge", "swimming laps at the lido",
    "eating noodles at a food truck", "hanging laundry on the balcony", "cycling through the forest",
    "buying bread at the corner shop", "playing volleyball on the sand", "rehearsing lines at the theater club",
    "filling up the tank at the fuel station", "taking a pottery class", "reading the paper at a cafe",
    "planting tulips in the allotment", "hiking up the ridge", "sorting books at the charity shop",
    "photographing birds by the lake", "loading boxes into a van", "skating at the roller rink",
    "queueing at the passport office", "singing in the church choir", "kayaking on the canal",
    "watching a football match at the pub", "visiting a friend at the hospital", "juggling in the plaza",
    "teaching a yoga class in the park", "buying a lamp at the flea market", "writing postcards at the harbor",
    "climbing the old lighthouse", "repainting the kitchen", "testing a drone in the field",
    "having a haircut on Elm Street", "checking out books at the mobile library", "picnicking under the oak trees",
)

_BBH_FRAMES = {
    "head": ("Today, {person} went to the {place}. Between what times could they have gone?",),
    "known": ("We know that:",),
    "woke": ("{person} woke up at {time}.",),
    "sighting": ("{seer} saw {person} {activity} from {start} to {end}.",),
    "closed": ("The {place} was closed after {time}.",),
    "query": ("Between what times could {person} have gone to the {place}?",),
}
_VARIED_FRAMES = {
    "head": (*_BBH_FRAMES["head"], "Today, {person} visited the {place}. When could they have gone?",
             "Today, {person} stopped by the {place}. At what time could that have been?"),
    "known": (*_BBH_FRAMES["known"], "Here is what we know:", "The facts:"),
    "woke": (*_BBH_FRAMES["woke"], "{person} got up at {time}.", "{person} was out of bed at {time}."),
    "sighting": (*_BBH_FRAMES["sighting"], "{seer} spotted {person} {activity} from {start} to {end}.",
                 "From {start} to {end}, {seer} saw {person} {activity}."),
    "closed": (*_BBH_FRAMES["closed"], "The {place} closed at {time}.", "After {time}, the {place} was closed."),
    "query": (*_BBH_FRAMES["query"], "When could {person} have gone to the {place}?",
              "At what times could {person} have visited the {place}?"),
}
FRAMES = {"bbh": _BBH_FRAMES, "varied": _VARIED_FRAMES}

# An activity naming the destination ("taking a pottery class" on a trip to the pottery studio) would
# place the visit inside a sighting: each place draws only activities sharing no word with it.
ACTIVITIES_AWAY_FROM = {place: tuple(a for a in ACTIVITIES if not set(place.split()) & set(a.split()))
                        for place in PLACES}

Slot = tuple[int, int]  # [start, end) in hours since midnight


def clock(hours: int) -> str:
    """21 -> '9pm', 12 -> '12pm', 7 -> '7am'."""
    return f"{(hours - 1) % 12 + 1}{'am' if hours < 12 else 'pm'}"


def span(slot: Slot) -> str:
    return f"{clock(slot[0])} to {clock(slot[1])}"


def sighting_range(value: Union[int, str]) -> tuple[int, int]:
    """4 or '4' -> (4, 4); '3-5' -> (3, 5), within what one day can hold."""
    return parse_range(value, 1, LATEST_CLOSE - EARLIEST_WAKE - 1)


def day_bounds(rng: random.Random, slots: int) -> tuple[int, int]:
    """(wake, close): waking early is the most likely, as in BBH; the day holds ``slots`` hours at least."""
    latest_wake = min(EARLIEST_WAKE + 9, LATEST_CLOSE - slots)
    wake = EARLIEST_WAKE + int(rng.triangular(0, latest_wake - EARLIEST_WAKE + 1, 0))
    earliest_close = max(wake + slots, 13)
    return wake, LATEST_CLOSE - int(rng.triangular(0, LATEST_CLOSE - earliest_close + 1, 0))


def wrong_stretch(rng: random.Random, wake: int, close: int, busy: list[Slot], taken: set[Slot]) -> Slot:
    """A stretch of the day covering a sighting's hour and not yet an option: wrong whatever the free slot."""
    while True:
        hour = rng.randrange(*rng.choice(busy))
        stretch = (rng.randint(wake, hour), rng.randint(hour + 1, close))
        if stretch not in taken:
            return stretch


def draw(rng: random.Random, params: dict[str, Any]) -> Drawn:
    frames = FRAMES.get(params["wording"])
    if frames is None:
        raise ValueError(f"temporal_sequences has no wording {params['wording']!r}; use one of: {', '.join(FRAMES)}")
    count = rng.randint(*sighting_range(params["sightings"]))
    # Four hours at least, so a day with one or two sightings still has enough wrong stretches for the options.
    wake, close = day_bounds(rng, max(count + 1, OPTIONS))
    cuts = sorted(rng.sample(range(wake + 1, close), count))
    slots = list(zip([wake, *cuts], [*cuts, close]))
    free = slots.pop(rng.randrange(len(slots)))

    person, place = rng.choice(PEOPLE), rng.choice(PLACES)
    seers = rng.sample([name for name in PEOPLE if name != person], count)
    activities = rng.sample(ACTIVITIES_AWAY_FROM[place], count)

    def frame(kind: str) -> str:  # drawn anew for each line
        return rng.choice(frames[kind])

    lines = [frame("head").format(person=person, place=place), frame("known"),
             frame("woke").format(person=person, time=clock(wake))]
    lines += [frame("sighting").format(seer=seer, person=person, activity=activity, start=clock(start), end=clock(end))
              for seer, activity, (start, end) in zip(seers, activities, slots)]
    lines += [frame("closed").format(place=place, time=clock(close)), frame("query").format(person=person, place=place)]

    wrong = rng.sample(slots, min(OPTIONS - 1, count))
    while len(wrong) < OPTIONS - 1:
        wrong.append(wrong_stretch(rng, wake, close, slots, {free, *wrong}))
    correct = rng.randrange(OPTIONS)
    options = [span(slot) for slot in wrong]
    options.insert(correct, span(free))
    return multiple_choice("\n".join(lines), options, correct, wake=wake, close=close, free=free, sightings=count)


GENERATOR = Generator(
    family="temporal_sequences",
    draw=draw,
    parameters={"sightings": "3-5", "wording": "bbh"},
    sizes={"default": {"sightings": "3-5"}, "short": {"sightings": "2"}, "long": {"sightings": "6-8"}},
    default_size="default",
    wordings=tuple(FRAMES),
    describe="A day of back-to-back sightings; which option is the one free slot before closing? (4 options)",
)
