"""oncoplan: personalized cancer treatment planning with deep survival and treatment-effect models.

Example:
    >>> from oncoplan.data import load_cohort
    >>> cohort = load_cohort("survset:colon")  # doctest: +SKIP
    >>> cohort.n_patients  # doctest: +SKIP
    929
"""

__version__ = "0.1.0"
