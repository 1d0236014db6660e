"""All errors and warnings that planner raises on purpose.

Every error derives from :class:`PlannerError` and, where one fits, from the matching
built-in exception, so ``except ValueError`` keeps working for callers that do not know
planner. Messages state the rule, the value received, and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "PlannerError",
    "SpecError",
    "DataValidationError",
    "FormulaError",
    "CampaignError",
    "CampaignExistsError",
    "CampaignNotFoundError",
    "SimulationError",
    "NotBuiltYetError",
    "OptionalDependencyError",
    "GPFitError",
    "Interrupted",
    "PlannerWarning",
    "DataQualityWarning",
    "DesignSpaceWarning",
]


class PlannerError(Exception):
    """Base class of every error planner raises on purpose."""


class SpecError(PlannerError, ValueError):
    """A specification (``campaign.yaml``, a search-space file, a spec object) is invalid."""


class DataValidationError(PlannerError, ValueError):
    """A data file or table breaks a rule (missing column, non-numeric target, ...)."""


class FormulaError(PlannerError, ValueError):
    """One chemical formula string could not be parsed (carries the reason; callers add the row)."""


class CampaignError(PlannerError, RuntimeError):
    """A campaign operation cannot proceed in the campaign's current state."""


class CampaignExistsError(CampaignError, FileExistsError):
    """``init`` was asked to create a campaign where one already exists."""


class CampaignNotFoundError(CampaignError, FileNotFoundError):
    """No ``campaign.yaml`` was found where a campaign was expected."""


class SimulationError(PlannerError, RuntimeError):
    """The simulated lab could not be set up (not: a single design that failed)."""


class SimulationFailed(Exception):
    """One design could not be simulated; the lab turns this into a failure record (not raised to users)."""


class NotBuiltYetError(PlannerError, NotImplementedError):
    """A reserved command or feature that is not built yet."""


class OptionalDependencyError(PlannerError, ImportError):
    """A feature needs a package that is not installed; the message names the install command."""


class GPFitError(PlannerError, RuntimeError):
    """Every attempt to fit the active-learning Gaussian process failed numerically.

    Internal to :mod:`planner.active`: the engine catches it and falls back to a random-forest
    ensemble, saying so in the suggestion's metadata.
    """


class Interrupted(BaseException):
    """The user pressed Ctrl-C (SIGINT) during a `planner` command.

    The command line raises it from its SIGINT handler instead of :class:`KeyboardInterrupt`,
    which the CLI framework turns into a silent exit 130. Like ``KeyboardInterrupt`` it is not
    an :class:`Exception`, so only ``except BaseException`` / ``finally`` blocks (which close
    running trials and temporary files) see it on the way out.
    """


class PlannerWarning(UserWarning):
    """Base class of planner's warnings."""


class DataQualityWarning(PlannerWarning):
    """Rows or values were flagged, dropped, merged or imputed (lenient mode)."""


class DesignSpaceWarning(PlannerWarning):
    """Observed inputs fall outside the declared design space (kept, but flagged)."""
