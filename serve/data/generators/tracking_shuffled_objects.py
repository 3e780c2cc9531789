"""Generated ``tracking_shuffled_objects`` questions: people, what each holds, pairwise swaps, one query.

A draw picks N people, N items (one each), a sequence of swaps between two people and the person
asked about; the answer is replayed from the swaps the draw itself made. As in BBH, no swap repeats
the one just before it and every person takes part in some swap (whenever the swaps can cover
everyone). The default swap count is N, as in BBH (``swaps=0`` means "as many as people").

Wordings:
- ``bbh``: the five BBH frames word for word (balls, a white elephant gift exchange, books, soccer
  positions, square-dance partners) with the fixed names Alice, Bob, ... Items come from BBH-like
  pools widened with a few more of the same kind. Options follow the starting assignment, as in
  BBH; the correct letter is drawn uniformly and the query is whoever holds that item at the end.
- ``varied`` and ``heldout``: wide pools of first names and items (colour or material plus noun,
  titles, roles, jobs, partners, rooms), several setup, swap, ordinal and query frames, the query
  put last or first, and options in random order. ``heldout`` shares no name, item, holding verb,
  swap verb, event or frame with ``varied`` or ``bbh``: it measures the skill, not the template.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable

from serve.data.generators.base import NUMBER_WORDS, Drawn, Generator, multiple_choice

MAX_OBJECTS = 12
COVER_TRIES = 100  # redraws of the swaps until everyone takes part; nine people need about three


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _phrases(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split("|"))


def a_or_an(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def listing(words: list[str], oxford: bool) -> str:
    if len(words) < 2:
        return "".join(words)
    return ", ".join(words[:-1]) + ("," if oxford and len(words) > 2 else "") + f" and {words[-1]}"


def draw_swaps(rng: random.Random, people: int, swaps: int) -> list[tuple[int, int]]:
    """Ordered pairs of distinct people; no pair right after itself; everyone in some swap if possible."""
    pairs = [(a, b) for a in range(people) for b in range(people) if a != b]
    drawn: list[tuple[int, int]] = []
    for _ in range(COVER_TRIES):
        drawn = []
        for _ in range(swaps):
            pair = rng.choice(pairs)
            while people > 2 and drawn and set(pair) == set(drawn[-1]):
                pair = rng.choice(pairs)
            drawn.append(pair)
        if 2 * swaps < people or len({p for pair in drawn for p in pair}) == people:
            break
    return drawn


def replay(start: list[str], swaps: list[tuple[int, int]]) -> list[str]:
    state = list(start)
    for a, b in swaps:
        state[a], state[b] = state[b], state[a]
    return state


# --------------------------------------------------------------------------- the BBH frames

BBH_PEOPLE = _words("Alice Bob Claire Dave Eve Fred Gertrude Harry Isla Joan Kurt Lena")


@dataclass(frozen=True)
class BbhFrame:
    setting: str  # follows the list of people
    start: str  # introduces the colon-separated assignment
    hold: str  # "Alice {hold} {item}"
    trading: str  # opens the second paragraph
    swap: str  # "Alice and Bob {swap}"
    end: str  # the open query, "{q}" the person asked about
    items: tuple[str, ...]


_COLORS = _words("black blue brown green orange pink purple red white yellow gray gold silver teal maroon")
BBH_FRAMES = {
    "balls": BbhFrame("are playing a game", "At the start of the game, they are each holding a ball", "has a",
                      "As the game progresses, pairs of players trade balls.", "swap balls",
                      "At the end of the game, {q} has the", tuple(f"{c} ball" for c in _COLORS)),
    "presents": BbhFrame("are holding a white elephant gift exchange",
                         "At the start of the event, they are each holding a present of a different color", "has a",
                         "As the event progresses, pairs of people swap gifts.", "swap their gifts",
                         "At the end of the event, {q} has the",
                         tuple(f"{c} {'ball' if c in ('black', 'orange', 'pink') else 'present'}" for c in _COLORS)),
    "books": BbhFrame("are friends and avid readers who occasionally trade books",
                      "At the start of the semester, they each buy one new book", "gets",
                      "As the semester proceeds, they start trading around the new books.", "swap books",
                      "At the end of the semester, {q} has",
                      _phrases("Ulysses | Frankenstein | Lolita | Catch-22 | Moby Dick | The Odyssey | The Pearl | "
                               "The Great Gatsby | Hound of the Baskervilles | The Fellowship of the Ring | Dracula | "
                               "Beloved | Jane Eyre | The Iliad | Don Quixote")),
    "positions": BbhFrame("are on the same team in a soccer match",
                          "At the start of the match, they are each assigned to a position", "is playing",
                          "As the game progresses, pairs of players occasionally swap positions.", "trade positions",
                          "At the end of the match, {q} is playing",
                          _phrases("goalkeeper | left winger | right winger | striker | center midfielder | "
                                   "left midfielder | right midfielder | fullback | benchwarmer | cheerleader | "
                                   "sweeper | center back | left back | right back | attacking midfielder")),
    "partners": BbhFrame("are dancers at a square dance", "At the start of a song, they each have a partner",
                         "is dancing with", "Throughout the song, the dancers often trade partners.",
                         "switch partners", "At the end of the dance, {q} is dancing with",
                         _words("Helga Izzi Jamie Karl Lola Melissa Ophelia Patrick Rodrigo Sam Nina Oskar Petra "
                                "Quinn Rolf")),
}


def bbh_question(frame: BbhFrame, people: list[str], items: list[str], swaps: list[tuple[int, int]],
                 query: int) -> str:
    """The BBH text (without its options) of one puzzle in one frame."""
    assignment = listing([f"{p} {frame.hold} {item}" for p, item in zip(people, items)], oxford=True)
    marks = ["First"] + ["Then"] * (len(swaps) - 2) + ["Finally"] * (len(swaps) > 1)
    trades = " ".join(f"{mark}, {people[a]} and {people[b]} {frame.swap}." for mark, (a, b) in zip(marks, swaps))
    return (f"{listing(people, oxford=True)} {frame.setting}. {frame.start}: {assignment}.\n"
            f"{frame.trading} {trades} {frame.end.format(q=people[query])}")


def _draw_bbh(rng: random.Random, n: int, k: int) -> Drawn:
    if n > len(BBH_PEOPLE):
        raise ValueError(f"wording 'bbh' has names for at most {len(BBH_PEOPLE)} people")
    name = rng.choice(sorted(BBH_FRAMES))
    frame = BBH_FRAMES[name]
    people, items, swaps = list(BBH_PEOPLE[:n]), rng.sample(frame.items, n), draw_swaps(rng, n, k)
    correct = rng.randrange(n)  # options follow the assignment, so the letter is the item's owner at the start
    query = replay(items, swaps).index(items[correct])
    return multiple_choice(bbh_question(frame, people, items, swaps, query), items, correct,
                           frame=name, objects=n, swaps=k, wording="bbh")


# --------------------------------------------------------------------------- varied and heldout

ItemDraw = Callable[[random.Random, int, "Pools"], "tuple[list[str], str, str]"]  # items, kind, plural


@dataclass(frozen=True)
class Theme:
    items: ItemDraw
    det: str  # how an item is introduced: "a" (a/an), "the", or "" for names, titles and numbers
    holds: tuple[str, ...]  # "Alice {hold} a red hat"
    ends: str  # open query: "{q} has the"
    ask: str  # direct question: "which {kind} does {q} have"
    events: tuple[str, ...]

    def introduce(self, item: str) -> str:
        return {"a": a_or_an(item), "the": f"the {item}", "": item}[self.det]


@dataclass(frozen=True)
class Pools:
    names: tuple[str, ...]
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]
    titles: tuple[str, ...]
    roles: tuple[str, ...]
    themes: tuple[Theme, ...]
    setups: tuple[str, ...]  # {people} {count} {event} {a_event} {assignments} {assignment_sentences}
    transitions: tuple[str, ...]  # {plural}
    swap_clauses: tuple[str, ...]  # {a} {b} {plural}
    ordinals: tuple[tuple[str, str, str], ...]  # first, middle and last swap; "{n}" numbers them
    endings: tuple[str, ...]  # the query last: {ends} {ask} {Ask} {event}
    openers: tuple[str, ...]  # the query before the swaps: {ask} {Ask}
    separator: str  # between the assignments of one sentence
    oxford: bool


def _things(rng: random.Random, n: int, pools: Pools) -> tuple[list[str], str, str]:
    """n distinct 'adjective noun' items: all of one noun, or of mixed nouns."""
    if rng.random() < 0.5:
        noun = rng.choice(pools.nouns)
        return [f"{adj} {noun}" for adj in rng.sample(pools.adjectives, n)], noun, f"{noun}s"
    combos = rng.sample(range(len(pools.adjectives) * len(pools.nouns)), n)
    nouns = len(pools.nouns)
    return [f"{pools.adjectives[c // nouns]} {pools.nouns[c % nouns]}" for c in combos], "item", "items"


def _titles(kind: str) -> ItemDraw:
    return lambda rng, n, pools: (rng.sample(pools.titles, n), kind, f"{kind}s")


def _roles(kind: str, plural: str) -> ItemDraw:
    return lambda rng, n, pools: (rng.sample(pools.roles, n), kind, plural)


def _fixed(pool: tuple[str, ...], kind: str, plural: str) -> ItemDraw:
    return lambda rng, n, pools: (rng.sample(pool, n), kind, plural)


def _partners(plural: str) -> ItemDraw:
    return lambda rng, n, pools: ([], "partner", plural)  # drawn with the people, from the same names


def _rooms(rng: random.Random, n: int, pools: Pools) -> tuple[list[str], str, str]:
    return [f"room {k}" for k in rng.sample(range(100, 900), n)], "room", "rooms"


VARIED = Pools(
    names=_words(
        "Aaron Abigail Adam Adrian Aidan Albert Alexander Alfred Alicia Allison Alvin Amanda Amelia Amir Andre "
        "Andrea Andrew Angela Anita Anthony Arthur Ashley Audrey Austin Barbara Beatrice Benjamin Bernard Bianca "
        "Blake Brandon Brenda Brian Brittany Bruce Bryan Caleb Calvin Cameron Carl Carlos Carmen Caroline Carter "
        "Cassandra Catherine Cecilia Cedric Chad Charles Charlotte Chloe Christopher Cindy Clara Clarence Colin "
        "Connor Craig Cynthia Daniel Daphne Darius Darren Deborah Denise Dennis Derek Diana Diego Dominic Donald "
        "Dorothy Douglas Dylan Edgar Edith Edward Eileen Elaine Eleanor Elena Elijah Elliot Emily Eric Erica Ernest "
        "Esther Ethan Eugene Evelyn Felix Fiona Francis Frank Gabriel Gavin Genevieve Geoffrey George Gerald Gina "
        "Gloria Gordon Gregory Hannah Harvey Heather Hector Henry Howard Hugo Ian Isaac Isabel Ivan Jacob "
        "Jacqueline Jake James Janet Jared Jasmine Jason Jeffrey Jennifer Jeremy Jessica Joanna Joel John Jonathan "
        "Jordan Joseph Joshua Joyce Judith Julia Julian Justin Karen Katherine Keith Kelly Kenneth Kevin Kyle Laura "
        "Lauren Lawrence Leah Leonard Leslie Lillian Linda Lionel Lorenzo Louis Lucas Lucy Luis Luke Lydia Madeline "
        "Malcolm Marcus Margaret Maria Marilyn Marissa Martha Martin Marvin Matthew Maurice Megan Michael Miguel "
        "Miles Miranda Mitchell Monica Morgan Nancy Naomi Natalie Nathan Neil Nicholas Nicole Noah Nora Norman Omar "
        "Oscar Owen Pamela Paul Pauline Philip Phoebe Priscilla Quentin Rachel Ralph Ramona Randall Raymond "
        "Regina Richard Robert Roberto Roger Roland Ronald Rosalind Russell Ryan Samantha Samuel Sandra Sarah Scott "
        "Sean Sebastian Serena Sharon Sheila Simon Sofia Sophie Spencer Stanley Stella Stephanie Steven Stuart "
        "Susan Sylvia Tamara Teresa Theodore Thomas Timothy Tobias Tristan Tyler Ursula Valerie Vanessa Vernon "
        "Veronica Victor Vincent Vivian Walter Warren Wendy Wesley William Xavier Yolanda Yvonne Zachary Zoe Bethany "
        "Bradley Carla Cecil Clifford Colleen Damian Dana Dexter Dolores Eduardo Elise Elton Emmett Fernando "
        "Frederick Gail Garrett Gwen Harriet Helen Herbert Irma Jerome Joanne Kathleen Kendra Lamar Leon Lloyd "
        "Lorraine Mabel Marco Melvin Mildred Nadine Nelson Nigel Olivia Patricia Preston Rita Rodney Rupert Sidney "
        "Tanya Terrence Travis Trevor Wallace Wilma Winston Yvette"),
    adjectives=_words("red blue green yellow orange purple pink brown black white gray gold silver teal navy maroon "
                      "beige turquoise lavender crimson magenta indigo coral scarlet"),
    nouns=_words("hat mug kite umbrella backpack lamp notebook balloon bicycle pillow sweater jacket frisbee glove "
                 "towel blanket bucket helmet skateboard teacup pen ribbon marble"),
    titles=_phrases("Little Women | Great Expectations | Brave New World | The Hobbit | Treasure Island | "
                    "Robinson Crusoe | Wuthering Heights | Heart of Darkness | The Jungle Book | The Time Machine | "
                    "Dune | Beowulf | Candide | Invisible Man | Native Son | Lord Jim | Kidnapped | Ivanhoe | "
                    "Black Beauty | Animal Farm | The Stranger | Siddhartha | Things Fall Apart | The Secret Garden | "
                    "The Call of the Wild | Middlemarch"),
    roles=_words("narrator villain king queen jester wizard knight dragon ghost pirate detective princess butler "
                 "witch giant shepherd mermaid sheriff magician fairy prince troll innkeeper captain"),
    themes=(
        Theme(_things, "a", _phrases("has | holds | is holding | owns | starts with | brought"), "{q} has the",
              "which {kind} does {q} have",
              _phrases("party | picnic | game night | camping trip | sleepover | street fair | birthday party")),
        Theme(_titles("book"), "", _phrases("has | is reading | starts with"), "{q} has", "which book does {q} have",
              _phrases("book club | reading group | library meetup")),
        Theme(_roles("role", "roles"), "the", _phrases("is playing | plays"), "{q} is playing the",
              "which role is {q} playing",
              _phrases("rehearsal | drama class | school play")),
        Theme(_fixed(_words("guitar piano violin cello flute trumpet saxophone clarinet harp banjo ukulele trombone "
                            "oboe tuba accordion mandolin harmonica xylophone"), "instrument", "instruments"),
              "the", _phrases("is playing | plays"), "{q} is playing the", "which instrument is {q} playing",
              _phrases("jam session | band practice | music camp")),
        Theme(_partners("partners"), "", _phrases("is dancing with | is partnered with"), "{q} is dancing with",
              "who is {q} dancing with", _phrases("ballroom class | salsa night | barn dance | dance lesson")),
    ),
    setups=_phrases("{people} are at {a_event}. At the start, {assignments}. | "
                    "{people} meet for {a_event}. To begin with, {assignments}. | "
                    "At the {event}, {assignments}. | "
                    "{A_event} is about to start. {assignment_sentences} | "
                    "{assignments}. Everyone is at the same {event}."),
    transitions=_phrases(" | Then the swapping starts. | During the {event}, pairs of them swap {plural}. | "
                         "They swap {plural} a few times."),
    swap_clauses=_phrases("{a} and {b} swap {plural} | {a} and {b} trade {plural} | {a} and {b} switch {plural} | "
                          "{a} swaps {plural} with {b} | {a} and {b} swap their {plural} | "
                          "{a} trades {plural} with {b}"),
    ordinals=(("First, ", "Then, ", "Finally, "), ("First, ", "Next, ", "Last, "),
              ("To start, ", "After that, ", "At last, "), ("", "", "")),
    endings=_phrases("At the end of the {event}, {ends} | After the last swap, {ends} | {Ask} at the end? | "
                     "Once all the swaps are done, {ask}?"),
    openers=_phrases("Question: {ask} after the swaps below? | {Ask} once the following swaps are done?"),
    separator=", ",
    oxford=False,
)

HELDOUT = Pools(
    names=_words(
        "Abdul Ada Agnes Ahmed Aisha Alana Aldo Alma Ambrose Anders Angus Anya Arlo Astrid Aurelio Axel Barnaby "
        "Basil Bea Benedict Bertram Birgit Boris Bridget Bruno Camille Casimir Celeste Chiara Clement Cordelia "
        "Cosmo Dagmar Dalia Desmond Dmitri Dorian Edmund Elspeth Emeric Enzo Esme Ezra Fabian Farah Felicity Fergus "
        "Flora Florian Gideon Gilbert Giselle Gunnar Gustav Hamish Hanne Hilda Horace Idris Ignatius Ilse Ingrid "
        "Ines Isadora Jasper Joaquin Jonah Josefina Jude Kasimir Keziah Klaus Lars Leopold Linnea Lorcan Lucian "
        "Ludmila Lysander Magnus Malik Marisol Matilda Maxim Mei Milo Mirela Moira Nadia Nikolai Niamh Nils Odette "
        "Odile Olaf Orla Osric Otto Paloma Perpetua Piers Quincy Rafael Rania Reinhold Rohan Rosamund Rufus Sabine "
        "Saoirse Sergei Signe Silas Solveig Soren Tabitha Tarquin Thea Thaddeus Ulrich Una Valentin Vera Viggo "
        "Wilhelmina Winifred Wolfgang Yara Yusuf Zara Zeno Zelda Anselm Bettina Cyrus Dunstan Eamon Fenella Greer "
        "Horatio Imogen Jovan Kirsten Leander Mungo Nerys Oona Percival Quinlan Radomir Seraphina Tancredi Ulla "
        "Wanda Xenia Yannick Zoltan Aurora Bartholomew Cassius Delphine Evander Fiorella Godfrey Hedda Ivo Jorinde "
        "Kalinda Lothar Marisa Nikita Octavia Pascal Ragnar Sunniva Tobin Ulf Vesna Waldo Ximena Yves Zinnia"),
    adjectives=_words("wooden brass copper leather glass ceramic velvet woolen silk bamboo iron tin clay wicker "
                      "pewter suede linen canvas porcelain striped checkered spotted plaid polished rusty carved"),
    nouns=_words("key kettle wallet candle vase clock compass basket bell flask spoon bowl comb whistle thimble "
                 "teapot ladle satchel goblet bracelet"),
    titles=_words("Casablanca Vertigo Metropolis Rashomon Jaws Psycho Alien Amadeus Fargo Rocky Titanic Goodfellas "
                  "Chinatown Ghostbusters Gladiator Inception Tootsie Spartacus Notorious Nosferatu"),
    roles=_words("chef baker cashier waiter dishwasher host bartender porter janitor gardener driver courier clerk "
                 "usher florist doorman valet accountant"),
    themes=(
        Theme(_things, "a", _phrases("is carrying | keeps | was handed"), "{q} is carrying the",
              "what is {q} carrying", _phrases("scavenger hunt | flea market | village fair | workshop")),
        Theme(_titles("film"), "", _phrases("rented | is watching"), "{q} is watching", "which film is {q} watching",
              _phrases("film club | movie marathon")),
        Theme(_roles("job", "jobs"), "a", _phrases("is working as | works as"),
              "{q} is working as the", "what job does {q} do", _phrases("banquet | wedding reception | gala")),
        Theme(_partners("teammates"), "", _phrases("is paired with | is teamed with"), "{q} is paired with",
              "who is {q} paired with", _phrases("chess tournament | lab session | quiz night")),
        Theme(_rooms, "", _phrases("is staying in | is booked into"), "{q} is staying in",
              "which room is {q} staying in",
              _phrases("conference | retreat | tournament weekend")),
    ),
    setups=_phrases("There are {count} people at the {event}: {people}. Initially, {assignments}. | "
                    "During {a_event}, {assignments}. | "
                    "{assignment_sentences} This happens at {a_event}. | "
                    "Picture {a_event} with {people}. When it opens, {assignments}."),
    transitions=_phrases(" | A series of exchanges follows. | Pairs of them exchange {plural} several times. | "
                         "Here is what happens next."),
    swap_clauses=_phrases("{a} and {b} exchange {plural} | {a} exchanges {plural} with {b} | "
                          "{a} and {b} hand each other their {plural} | {a} and {b} give each other their {plural}"),
    ordinals=(("To begin, ", "Afterwards, ", "Lastly, "), ("Step {n}: ", "Step {n}: ", "Step {n}: "),
              ("Early on, ", "Later, ", "Eventually, ")),
    endings=_phrases("By the close of the {event}, {ends} | When every exchange is over, {ask}? | "
                     "{Ask} after all of that?"),
    openers=_phrases("Keep track: {ask} after the exchanges listed below?"),
    separator="; ",
    oxford=True,
)

WORDINGS = {"varied": VARIED, "heldout": HELDOUT}


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _draw_worded(rng: random.Random, n: int, k: int, pools: Pools, wording: str) -> Drawn:
    theme = rng.choice(pools.themes)
    items, kind, plural = theme.items(rng, n, pools)
    names = rng.sample(pools.names, 2 * n if not items else n)
    people, items = names[:n], items or names[n:]
    swaps = draw_swaps(rng, n, k)
    query = rng.randrange(n)
    answer = replay(items, swaps)[query]
    event = rng.choice(theme.events)
    hold = rng.choice(theme.holds)
    held = [f"{p} {hold} {theme.introduce(item)}" for p, item in zip(people, items)]
    fields = dict(people=listing(people, pools.oxford), count=NUMBER_WORDS[n], event=event,
                  a_event=a_or_an(event), A_event=_capital(a_or_an(event)),
                  assignments=pools.separator.join(held[:-1]) + f"{pools.separator.rstrip()} and {held[-1]}",
                  assignment_sentences=" ".join(f"{line}." for line in held), plural=plural)
    setup = rng.choice(pools.setups).format(**fields)
    transition = rng.choice(pools.transitions).format(**fields)
    first, middle, last = rng.choice(pools.ordinals)
    marks = [first] + [middle] * (k - 2) + [last] * (k > 1)
    clause = rng.choice(pools.swap_clauses)
    trades = " ".join(_capital(mark.format(n=i) + clause.format(a=people[a], b=people[b], plural=plural)) + "."
                      for i, (mark, (a, b)) in enumerate(zip(marks, swaps), start=1))
    ask = theme.ask.format(kind=kind, q=people[query])
    query_fields = dict(ask=ask, Ask=_capital(ask), ends=theme.ends.format(q=people[query]), event=event)
    if rng.random() < 0.25:
        parts = [rng.choice(pools.openers).format(**query_fields), setup, transition, trades]
    else:
        parts = [setup, transition, trades, rng.choice(pools.endings).format(**query_fields)]
    question = rng.choice((" ", "\n")).join(part for part in parts if part)
    options = rng.sample(items, n)
    return multiple_choice(question, options, options.index(answer), objects=n, swaps=k, wording=wording)


def draw(rng: random.Random, params: dict[str, Any]) -> Drawn:
    n = int(params["objects"])
    k = int(params["swaps"]) or n
    if not 2 <= n <= MAX_OBJECTS or k < 1:
        raise ValueError(f"tracking_shuffled_objects needs 2 to {MAX_OBJECTS} objects and at least one swap")
    wording = params["wording"]
    if wording == "bbh":
        return _draw_bbh(rng, n, k)
    return _draw_worded(rng, n, k, WORDINGS[wording], wording)


GENERATOR = Generator(
    family="tracking_shuffled_objects",
    draw=draw,
    parameters={"objects": 3, "swaps": 0, "wording": "bbh"},
    sizes={"three_objects": {"objects": 3}, "five_objects": {"objects": 5}, "seven_objects": {"objects": 7},
           "nine_objects": {"objects": 9}},
    default_size="three_objects",
    wordings=("bbh", "varied", "heldout"),
    describe="people trade items in pairs; which item does one of them hold at the end (swaps=0: one per person)",
)
