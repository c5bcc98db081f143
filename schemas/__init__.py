"""JSON Schemas of the course source format and the official SCORM/cmi5 XSDs, installed as package data."""

from importlib.resources import files
from pathlib import Path


def schema_dir() -> Path:
    return Path(str(files(__name__)))
