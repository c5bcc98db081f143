"""Validate xAPI statements with Ralph's own pydantic models (run by the Ralph venv's python).

Reads JSON statements, one per line, on stdin; prints one JSON line per statement with the errors of Ralph's
generic xAPI 1.0.3 model (``BaseXapiStatement``: IRIs, UUIDs, score ranges, language tags, timestamps), and
the names and errors of any Ralph profile model whose selector matches (its LMS or virtual-classroom
profiles). The generic model is stricter than Ralph's LRS endpoint, which checks only the bare minimum of a
statement (its ``LaxStatement``).
"""

import json
import sys

from pydantic import ValidationError
from ralph.exceptions import UnknownEventException
from ralph.models.selector import ModelSelector
from ralph.models.xapi.base.statements import BaseXapiStatement


def errors(model, event):
    try:
        model(**event)
    except ValidationError as exc:
        return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    return []


selector = ModelSelector(module="ralph.models.xapi")
for line in sys.stdin:
    event = json.loads(line)
    try:
        profiles = list(selector.get_models(event))
    except UnknownEventException:
        profiles = []
    report = {
        "id": event.get("id"),
        "errors": errors(BaseXapiStatement, event),
        "profiles": {m.__name__: errors(m, event) for m in profiles},
    }
    print(json.dumps(report, ensure_ascii=False), flush=True)
