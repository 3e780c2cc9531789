"""A teacher that solves instead of sampling: a task solver narrates a correct rationale.

For tasks with a known algorithm (``distill.solvers.FAMILIES``) this gives a teacher
whose rationales are right by construction, so an experiment can separate "the
student cannot learn from CoTs" from "the teacher's CoTs were wrong". Variety
between the N samples of one instance comes from the solver's wording choices,
drawn from a generator seeded by (sampling seed, example id, sample index): a
rerun or a resumed run writes the same text for the same key.

``teacher.model`` names the solver, or ``auto`` to pick by each example's task; with ``auto``,
``teacher.rationale_style`` (one style, or several separated by commas) applies to the families that
have one of them, each family writing the first it has, and the others write their default (so a
mixture can choose a style per family: ``pop_each,numbered_spots``).
"""

from __future__ import annotations

import random
from typing import Iterator

from distill.solvers import FAMILIES, UnsolvableQuestion, task_family
from distill.teachers.base import Job, Sample, Teacher

from serve.core.errors import UserError
from serve.core.student_format import ANSWER_PREFIX


class ProgramTeacher(Teacher):
    def __init__(self, config, sampling):
        super().__init__(config, sampling)
        solver = config.model or "auto"
        if solver != "auto" and solver not in FAMILIES:
            raise UserError(f"teacher.model '{solver}' is not a program solver; use auto or one of "
                            f"{', '.join(FAMILIES)}")
        self.solver, self.style = solver, config.rationale_style
        self.styles = [s.strip() for s in self.style.split(",") if s.strip() and s.strip() != "default"]
        for style in self.styles:
            if solver != "auto" and style not in FAMILIES[solver].styles:
                raise UserError(self._style_error(solver, style))
            if solver == "auto" and not any(style in f.styles for f in FAMILIES.values()):
                known = sorted({name for family in FAMILIES.values() for name in family.styles})
                raise UserError(f"teacher.rationale_style '{style}' is not a style of any program solver; use "
                                f"default or one of: {', '.join(known)}")
        self.name = f"program:{solver}" + ("" if not self.styles else f":{','.join(self.styles)}")

    def _style_error(self, family: str, style: str) -> str:
        known = ", ".join(["default", *FAMILIES[family].styles])
        return f"teacher.rationale_style '{style}' is not a style of the {family} solver; use one of: {known}"

    def _solver_for(self, job: Job):
        if job.example is None:
            raise UserError("the program teacher needs the question itself; this sampler passed only a prompt")
        family = self.solver if self.solver != "auto" else task_family(job.example.task)
        if family not in FAMILIES:
            raise UserError(f"no program solver for task '{job.example.task}'; solvers exist for "
                            f"{', '.join(FAMILIES)}")
        own = next((style for style in self.styles if style in FAMILIES[family].styles), "default")
        if self.styles and own == "default" and self.solver != "auto":
            raise UserError(self._style_error(family, self.styles[0]))
        return FAMILIES[family].solver(own)  # a mixture: a family without any of the styles writes its default

    def sample(self, jobs: list[Job]) -> Iterator[tuple[Job, list[Sample]]]:
        for job in jobs:
            solve = self._solver_for(job)
            indices = job.indices or tuple(range(job.n))
            samples = []
            for index in indices:
                rng = random.Random(f"{self.sampling.seed}|{job.example_id}|{index}")
                try:
                    rationale, answer = solve(job.example, rng)
                except UnsolvableQuestion as exc:
                    samples.append(Sample(text="", finish_reason=f"unsolvable: {exc}"))
                    continue
                text = f"{rationale} {ANSWER_PREFIX} {answer}."
                samples.append(Sample(text=text, tokens=len(text.split()), finish_reason="stop"))
            self.usage.requests += 1
            yield job, samples
