"""Cohorts, sources, validation, splits and simulators.

Example:
    >>> from oncoplan.data import load_cohort
    >>> cohort = load_cohort("survset:colon")  # doctest: +SKIP
"""

from oncoplan.data.cohort import Cohort
from oncoplan.data.sources import list_datasets, load_cohort
from oncoplan.data.spec import CohortSpec

__all__ = ["Cohort", "CohortSpec", "load_cohort", "list_datasets"]
