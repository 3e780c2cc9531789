"""Which arithmetic steps a student gets wrong: each step it wrote, checked against the step the program
teacher would take from the student's own previous state, grouped by the kind of operation.

    python scripts/arithmetic_step_errors.py runs/pilot/arith-default/eval-export runs/pilot/arith-op-first/eval-export

Reads ``predictions.jsonl`` of ``scotd eval`` runs on multistep arithmetic (BBH or generated). The states
are read from either rationale style: the " = "-joined chain (``default``) or the states after "Start:"
and after each "; " (``op_first``). A step is right when the student's next state equals the teacher's
rewrite of the state before it, so an early slip does not count against the steps after it. Prints a
markdown table (right / steps, %, per arm; for all steps a 95% bootstrap interval over answers) and writes
it with ``--out``. Where the outputs work each operation out before its state (``signs_apart``,
``places_apart``: "-21 * 8 = -(21 * 8) = -168; ..."), a second table checks each piece of that working
against the piece before it, by what the piece asks.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Optional, Sequence

from distill.eval_folder import eval_rows
from distill.step_report import column_name, print_step_table, rate_rows, step_report_args
from distill.solvers.base import UnsolvableQuestion
from distill.solvers.expression_steps import drop_lone_parentheses
from distill.solvers.multistep_arithmetic_two import is_number, next_operation, read_expression, rewrite, splits_product, trace

# A student's state can hold parentheses around a lone number (the teacher drops them in the step that
# leaves one); the teacher's next state from it is the same expression without them.
LONE_PARENTHESES = "( ) around a lone number dropped"
_OP_FIRST_STATE = re.compile(r"(?:Start: |; )([-+*()\d\s]+?)\.(?:\s|$)")


def states_written(output: str) -> list[list[str]]:
    pieces = _OP_FIRST_STATE.findall(output) if "Start: " in output else output.split(" = ")
    states = []
    for piece in pieces:
        try:
            states.append(read_expression(piece))
        except UnsolvableQuestion:
            break  # the chain ends where the student stopped writing expressions
    return states


def operation_kind(tokens: list[str]) -> str:
    """The kind of the operation the teacher applies next (the one ``rewrite`` picks)."""
    at, _ = next_operation(tokens)
    a, sign, b = tokens[at - 1:at + 2]
    if splits_product(a, sign, b):
        return "* split into partial products"
    size = "one-digit operands" if max(abs(int(a)), abs(int(b))) < 10 else "a larger operand"
    signs = "a negative operand" if int(a) < 0 or int(b) < 0 else "no negative operand"
    return f"{sign} with {size}, {signs}"


def read_outputs(eval_dir: Path) -> list[str]:
    """The student's outputs of a ``scotd eval`` run, in its order."""
    return [row["output"] for row in eval_rows(eval_dir)]


def step_counts(outputs: Sequence[str]) -> tuple[Counter, Counter, list[tuple[int, int]]]:
    """Steps right and steps by kind, and (right, steps) of each answer."""
    right, total, answers = Counter(), Counter(), []
    for output in outputs:
        states = states_written(output)
        answer_right = answer_steps = 0
        for before, after in zip(states, states[1:]):
            if len(before) == 1:
                break
            cleaned = drop_lone_parentheses(before, is_number)
            kind = operation_kind(before) if cleaned == before else LONE_PARENTHESES
            ok = (rewrite(before) if cleaned == before else cleaned) == after
            total[kind] += 1
            right[kind] += ok
            answer_right, answer_steps = answer_right + ok, answer_steps + 1
        answers.append((answer_right, answer_steps))
    return right, total, answers


_WORKING = re.compile(r"(?:^|\. )([^;.]*?); ")  # an operation's working, before the state it leaves
_ONE_OPERATION = re.compile(r"(\d+) ([-+*]) (\d+)")


def negated_group(piece: str) -> Optional[str]:
    """What is inside "-(...)", the signs_apart way of negating a group; None for any other piece."""
    return piece[2:-1] if piece.startswith("-(") and piece.endswith(")") else None


def working_kind(piece: str) -> str:
    """What a working piece asks of the next one: one operation of two non-negative numbers (a minus
    sign before its brackets aside), several terms of a place split, or a rewrite of signs."""
    inner = negated_group(piece) or piece
    if match := _ONE_OPERATION.fullmatch(inner):
        size = "one-digit numbers" if max(int(match[1]), int(match[3])) < 10 else "a larger number"
        return f"{match[2]} of {size}"
    if re.fullmatch(r"\d+(?: [-+*] \d+){2,}", inner):
        return "several terms (a place split)"
    return "signs rewritten"


def working_counts(outputs: Sequence[str]) -> tuple[Counter, Counter]:
    """Inside each operation's working ("-21 * 8 = -(21 * 8) = -168; ..."), whether each piece equals the
    one before it, by the kind of the one before: where in a worked operation the arithmetic slips."""
    right, total = Counter(), Counter()
    for output in outputs:
        for working in _WORKING.findall(output):
            pieces = working.split(" = ")
            for before, after in zip(pieces, pieces[1:]):
                values = [_value(piece) for piece in (before, after)]
                if None in values:
                    continue
                kind = working_kind(before)
                total[kind] += 1
                right[kind] += values[0] == values[1]
    return right, total


def _value(piece: str) -> Optional[int]:
    """The piece's value, a negated group's included."""
    if (group := negated_group(piece)) is not None:
        inner = _value(group)
        return None if inner is None else -inner
    try:
        tokens = read_expression(piece)
        return int((trace(tokens)[-1] if len(tokens) > 1 else tokens)[0])
    except UnsolvableQuestion:
        return None


def main() -> int:
    args = step_report_args(__doc__)
    outputs = {path: read_outputs(path) for path in args.evals}
    steps = [step_counts(texts) for texts in outputs.values()]
    columns = [column_name(path, len(texts)) for path, texts in outputs.items()]
    tables = [print_step_table("operation", rate_rows(steps), columns, None)]
    working = [working_counts(texts) for texts in outputs.values()]
    if any(total for _, total in working):
        print()
        tables.append(print_step_table("working piece, the next piece equal to it", rate_rows(working), columns, None))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n\n".join(tables) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
