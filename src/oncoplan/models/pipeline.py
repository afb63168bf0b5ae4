"""A scikit-learn Pipeline that also forwards survival predictions (no patching of sklearn's class).

Example:
    >>> pipe = make_survival_pipeline(numeric=["age"], categorical=["sex"], max_epochs=5)
    >>> [name for name, _ in pipe.steps]
    ['preprocess', 'model']
"""

from __future__ import annotations

from sklearn.pipeline import Pipeline

from oncoplan.models.survival import DeepSurvival
from oncoplan.preprocess.tabular import TabularPreprocessor


class SurvivalPipeline(Pipeline):
    """``Pipeline`` whose last step is a survival estimator; adds the survival prediction methods."""

    def _transform_until_last(self, X):
        for _, _, step in self._iter(with_final=False):
            X = step.transform(X)
        return X

    def predict_survival_function(self, X, return_array: bool = False):
        """Forward to the final estimator after the transforms."""
        return self.steps[-1][1].predict_survival_function(
            self._transform_until_last(X), return_array=return_array
        )

    def predict_cumulative_hazard_function(self, X, return_array: bool = False):
        """Forward to the final estimator after the transforms."""
        return self.steps[-1][1].predict_cumulative_hazard_function(
            self._transform_until_last(X), return_array=return_array
        )

    @property
    def unique_times_(self):
        return self.steps[-1][1].unique_times_


def make_survival_pipeline(
    numeric: list[str], categorical: list[str], estimator=None, strict: bool = True, **model_params
) -> SurvivalPipeline:
    """Preprocessing (imputation, scaling, one-hot) + a survival estimator (``DeepSurvival`` by default)."""
    model = estimator if estimator is not None else DeepSurvival(**model_params)
    return SurvivalPipeline(
        [
            ("preprocess", TabularPreprocessor(numeric=numeric, categorical=categorical, strict=strict)),
            ("model", model),
        ]
    )
