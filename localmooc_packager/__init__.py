"""localmooc-packager: author, validate, package and run Thai MOOC courses (DLA Local MOOC)."""

from .errors import InvalidInputError, LocalMoocError, Location, Problem, Report, Severity, UsageError

__version__ = "0.1.0.dev0"

__all__ = [
    "InvalidInputError",
    "LocalMoocError",
    "Location",
    "Problem",
    "Report",
    "Severity",
    "UsageError",
    "__version__",
]
