"""Tabular preprocessing: imputation with missing indicators, scaling, one-hot encoding.

Built from scikit-learn transformers, fitted on training rows only and saved with the model (skops,
not pickle). Categories never seen in training are an error by default (``strict=True``), naming the
column, the values and the rows; with ``strict=False`` they are encoded as all-zero one-hot rows and
logged.

Example:
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"age": [50.0, None, 70.0], "sex": ["f", "m", "f"]})
    >>> prep = TabularPreprocessor(numeric=["age"], categorical=["sex"]).fit(frame)
    >>> prep.transform(frame).shape
    (3, 4)
    >>> prep.feature_names_out_
    ['age', 'age__missing', 'sex=f', 'sex=m']
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from oncoplan.errors import CohortError, describe_rows

logger = logging.getLogger(__name__)

MISSING_CATEGORY = "__missing__"


class TabularPreprocessor(TransformerMixin, BaseEstimator):
    """Impute + indicate missing, standardize numeric columns; one-hot categorical ones.

    Args:
        numeric: numeric column names.
        categorical: categorical column names (missing values become their own level).
        strict: raise :class:`CohortError` on categories unseen in training (else encode as zeros).
    """

    def __init__(
        self, numeric: list[str] | None = None, categorical: list[str] | None = None, strict: bool = True
    ) -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.strict = strict

    def _columns(self) -> tuple[list[str], list[str]]:
        return list(self.numeric or []), list(self.categorical or [])

    def _prepare(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(frame, pd.DataFrame):
            raise CohortError("the preprocessor needs a DataFrame with named columns")
        numeric, categorical = self._columns()
        missing = [c for c in numeric + categorical if c not in frame.columns]
        if missing:
            raise CohortError(
                f"columns missing from the input: {', '.join(map(repr, missing))}",
                hint="the model was trained with these columns; add them (values may be empty)",
            )
        out: dict[str, object] = {}
        for col in numeric:
            values = pd.to_numeric(frame[col], errors="coerce")
            bad = values.isna() & frame[col].notna()
            if bad.any():
                raise CohortError(
                    f"numeric column {col!r} has non-numeric values in "
                    f"{describe_rows((np.flatnonzero(bad.to_numpy()) + 1).tolist())}"
                )
            out[col] = values.astype(float).to_numpy()
        for col in categorical:
            labels = [MISSING_CATEGORY if pd.isna(v) else str(v) for v in frame[col]]
            out[col] = np.array(labels, dtype=object)
        # built in one call: column-by-column insertion fragments wide (gene-expression) frames
        return pd.DataFrame(out, index=frame.index, columns=[*numeric, *categorical])

    def fit(self, frame: pd.DataFrame, y: object = None) -> TabularPreprocessor:
        """Fit imputation, scaling and encoding on the training rows ``frame``."""
        numeric, categorical = self._columns()
        data = self._prepare(frame)
        transformers = []
        if numeric:
            transformers.append(
                (
                    "numeric",
                    Pipeline(
                        [
                            (
                                "impute",
                                SimpleImputer(
                                    strategy="median", add_indicator=True, keep_empty_features=True
                                ),
                            ),
                            ("scale", StandardScaler()),
                        ]
                    ),
                    numeric,
                )
            )
        if categorical:
            transformers.append(
                (
                    "categorical",
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64),
                    categorical,
                )
            )
        self.transformer_ = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
        self.transformer_.fit(data)
        self.categories_ = (
            {
                col: [str(c) for c in cats]
                for col, cats in zip(categorical, self._encoder().categories_, strict=True)
            }
            if categorical
            else {}
        )
        self.feature_names_out_ = self._names(numeric, categorical)
        self.numeric_ranges_ = {
            col: [float(data[col].min()), float(data[col].max())]
            for col in numeric
            if data[col].notna().any()
        }
        self.n_features_in_ = len(numeric) + len(categorical)
        return self

    def _encoder(self) -> OneHotEncoder:
        return self.transformer_.named_transformers_["categorical"]

    def _names(self, numeric: list[str], categorical: list[str]) -> list[str]:
        names = list(numeric)
        if numeric:
            imputer = self.transformer_.named_transformers_["numeric"].named_steps["impute"]
            names += [f"{numeric[i]}__missing" for i in imputer.indicator_.features_]
        for col in categorical:
            names += [f"{col}={c}" for c in self.categories_[col]]
        return names

    def unseen_categories(self, frame: pd.DataFrame) -> dict[str, list[str]]:
        """Per categorical column, the values in ``frame`` never seen in training."""
        check_is_fitted(self, "transformer_")
        data = self._prepare(frame)
        return {
            col: sorted(set(data[col]) - set(known))
            for col, known in self.categories_.items()
            if set(data[col]) - set(known)
        }

    def outside_training_range(self, frame: pd.DataFrame) -> list[list[str]]:
        """Per patient, the numeric columns whose value lies outside the training range (min-max).

        A non-empty list flags a patient outside the training data: predictions for them extrapolate.
        """
        check_is_fitted(self, "transformer_")
        data = self._prepare(frame)
        flags: list[list[str]] = [[] for _ in range(len(data))]
        for col, (low, high) in self.numeric_ranges_.items():
            outside = ((data[col] < low) | (data[col] > high)).to_numpy()
            for i in np.flatnonzero(outside):
                flags[i].append(col)
        return flags

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode ``frame`` into a float64 matrix (rows = patients, columns = ``feature_names_out_``)."""
        check_is_fitted(self, "transformer_")
        data = self._prepare(frame)
        unseen = {col: sorted(set(data[col]) - set(known)) for col, known in self.categories_.items()}
        unseen = {k: v for k, v in unseen.items() if v}
        if unseen:
            parts = []
            for col, values in unseen.items():
                rows = (np.flatnonzero(data[col].isin(values).to_numpy()) + 1).tolist()
                parts.append(
                    f"column {col!r}: {values} in {describe_rows(rows)} "
                    f"(seen in training: {self.categories_[col]})"
                )
            message = "categories never seen in training: " + "; ".join(parts)
            if self.strict:
                raise CohortError(
                    message, hint="recode these values to a training category or leave them empty"
                )
            logger.warning("%s; encoded as all-zero one-hot rows", message.split(":")[0])
        return np.asarray(self.transformer_.transform(data), dtype=np.float64)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        check_is_fitted(self, "transformer_")
        return np.asarray(self.feature_names_out_, dtype=object)
