"""The offline validation pipeline: sources -> profiles -> checks -> gates -> report.

``accuguard.validate(...)`` is callable: the module forwards calls to
:func:`accuguard.validate.pipeline.validate`, so both spellings work::

    import accuguard
    report = accuguard.validate("ref.parquet", "cur.parquet", target="label", prediction="pred")

    from accuguard.validate import validate
"""

from __future__ import annotations

import sys
import types
from typing import Any


def validate(*args: Any, **kwargs: Any) -> Any:
    """Run the validation; see :func:`accuguard.validate.pipeline.validate`."""
    from accuguard.validate.pipeline import validate as _validate

    return _validate(*args, **kwargs)


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return validate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
