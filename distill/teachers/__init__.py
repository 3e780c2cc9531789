"""Teacher backends: ``TEACHERS`` maps a backend name to its ``"module:Class"``, imported on use."""

from __future__ import annotations

import importlib

from serve.core.errors import UserError

TEACHERS: dict[str, str] = {
    "openai": "distill.teachers.openai_api:OpenAITeacher",
    "hf": "distill.teachers.hf:HFTeacher",
    "program": "distill.teachers.program:ProgramTeacher",
}


def load_teacher(config, sampling):
    """Instantiate the backend named by ``config.backend`` with the teacher and sampling sections."""
    if config.backend not in TEACHERS:
        raise UserError(f"unknown teacher.backend '{config.backend}'; valid: {', '.join(TEACHERS)}")
    module_name, _, class_name = TEACHERS[config.backend].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in ("distill", "serve"):
            raise
        raise UserError(f"teacher backend '{config.backend}' needs '{exc.name}'; "
                        "install it with: pip install -e '.[distill]'") from None
    return getattr(module, class_name)(config, sampling)
