"""Start Ralph's LRS (run by the Ralph venv's python, not ours): ``python ralph_launch.py HOST PORT``.

One change to Ralph 5.1.0, and only for its file-system backend: that backend writes the LRS file with
Ralph's default operation "create", which refuses to touch an existing file, so every POST after the first
fails with 500 "Statements bulk indexation failed". Appending is what an LRS file needs; validation,
duplicate detection and the HTTP API are Ralph's own, unchanged.
"""

import sys

import uvicorn
from ralph.backends.data.base import BaseOperationType
from ralph.backends.lrs.fs import FSLRSBackend

FSLRSBackend.default_operation_type = BaseOperationType.APPEND

if __name__ == "__main__":
    uvicorn.run("ralph.api:app", host=sys.argv[1], port=int(sys.argv[2]), log_level="info")
