"""Design matrices for the Cox model: a list of columns or a patsy formula.

Columns are coded as R's ``model.matrix`` would with treatment contrasts:
numbers and booleans as they are, categories (pandas ``category``) as one
indicator per level except the first, named ``column[T.level]``.  A formula
(``"age + C(sex)"``) is handed to patsy and its intercept dropped, as
``coxph`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from idjourney.survival._data import _labels
from idjourney.survival.errors import SurvivalDataError


@dataclass
class Design:
    """How to turn a DataFrame into the covariate matrix (reusable on new data)."""

    columns: list[str]
    names: list[str] = field(default_factory=list)
    levels: dict[str, list[Any]] = field(default_factory=dict)
    formula: str | None = None
    design_info: Any = None

    @classmethod
    def from_columns(cls, df: pd.DataFrame, columns: Sequence[str]) -> Design:
        """Plan the coding of ``columns`` of ``df``."""
        design = cls(columns=list(columns))
        for column in design.columns:
            if column not in df.columns:
                raise SurvivalDataError(f"covariate column {column!r} is not in the data")
            series = df[column]
            if isinstance(series.dtype, pd.CategoricalDtype):
                levels = list(series.cat.categories)
                design.levels[column] = levels
                design.names.extend(f"{column}[T.{level}]" for level in levels[1:])
            elif pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
                design.names.append(column)
            elif pd.api.types.is_datetime64_any_dtype(series):
                raise SurvivalDataError(
                    f"covariate column {column!r} holds dates; use a number derived from it "
                    "(e.g. entry_year) or leave it out with covariates=[...]"
                )
            else:
                raise SurvivalDataError(
                    f"covariate column {column!r} has dtype {series.dtype} (text); convert it "
                    "to a pandas category (df[col].astype('category')) to get indicator "
                    "columns, or leave it out with covariates=[...] / formula="
                )
        return design

    @classmethod
    def from_formula(cls, df: pd.DataFrame, formula: str) -> tuple[Design, np.ndarray]:
        """Plan and build a design from a patsy formula (intercept dropped)."""
        import patsy

        rhs = formula.split("~", 1)[1] if "~" in formula else formula
        try:
            matrix = patsy.dmatrix(rhs, df, NA_action="raise", return_type="dataframe")
        except patsy.PatsyError as exc:
            raise SurvivalDataError(f"formula {formula!r} could not be built: {exc}") from exc
        design_info = matrix.design_info
        matrix = matrix.drop(columns=[c for c in matrix.columns if c == "Intercept"])
        design = cls(
            columns=[],
            names=list(matrix.columns),
            formula=rhs,
            design_info=design_info,
        )
        return design, matrix.to_numpy(dtype=np.float64)

    def terms(self) -> dict[str, list[int]]:
        """Columns of the matrix belonging to each model term (R's ``assign``)."""
        if self.formula is not None:
            slices = self.design_info.term_name_slices
            offset = 1 if "Intercept" in slices else 0
            return {
                name: list(range(piece.start - offset, piece.stop - offset))
                for name, piece in slices.items()
                if name != "Intercept"
            }
        out: dict[str, list[int]] = {}
        position = 0
        for column in self.columns:
            width = len(self.levels[column]) - 1 if column in self.levels else 1
            out[column] = list(range(position, position + width))
            position += width
        return out

    def build(self, df: pd.DataFrame) -> np.ndarray:
        """The covariate matrix of ``df`` (rows x ``len(names)``)."""
        if self.formula is not None:
            import patsy

            try:
                (matrix,) = patsy.build_design_matrices(
                    [self.design_info], df, NA_action="raise", return_type="dataframe"
                )
            except patsy.PatsyError as exc:
                raise SurvivalDataError(f"could not build {self.formula!r}: {exc}") from exc
            matrix = matrix.drop(columns=[c for c in matrix.columns if c == "Intercept"])
            return matrix.to_numpy(dtype=np.float64)
        blocks = []
        for column in self.columns:
            if column not in df.columns:
                raise SurvivalDataError(f"covariate column {column!r} is not in the data")
            series = df[column]
            if column in self.levels:
                levels = self.levels[column]
                values = series.astype(object).to_numpy()
                missing = pd.isna(values)
                unknown = ~missing & ~np.isin(values, np.array(levels, dtype=object))
                if unknown.any():
                    raise SurvivalDataError(
                        f"covariate {column!r} has levels not seen when fitting at "
                        f"{_labels(unknown, df.index)}; known levels: {levels}"
                    )
                block = np.column_stack(
                    [(values == level).astype(np.float64) for level in levels[1:]]
                    or [np.zeros(len(df))]
                )[:, : len(levels) - 1]
                block[missing] = np.nan
                blocks.append(block)
            else:
                blocks.append(series.to_numpy(dtype=np.float64, na_value=np.nan)[:, None])
        if not blocks:
            return np.zeros((len(df), 0))
        matrix = np.hstack(blocks)
        bad = np.isnan(matrix)
        if bad.any():
            column_index = int(np.flatnonzero(bad.any(axis=0))[0])
            raise SurvivalDataError(
                f"covariate {self.names[column_index]!r} is missing (NaN) at "
                f"{_labels(bad[:, column_index], df.index)}; drop or impute those rows"
            )
        return matrix


def check_identifiable(
    centered: np.ndarray,
    names: Sequence[str],
    weights: np.ndarray | None,
    original: np.ndarray | None = None,
) -> None:
    """Raise if a covariate is constant or a linear combination of others.

    ``centered`` holds the covariates minus their (weighted) means; ``original``
    (the uncentered values) is only used to print a constant's value.  Works
    on the p x p correlation matrix, one pass over the data.
    """
    p = centered.shape[1]
    if p == 0:
        return
    if weights is None:
        sums = np.einsum("ij,ij->j", centered, centered)
        gram = centered.T @ centered
    else:
        weighted = centered * weights[:, None]
        sums = np.einsum("ij,ij->j", weighted, centered)
        gram = weighted.T @ centered
    low, high = centered.min(axis=0), centered.max(axis=0)
    constant = np.flatnonzero((low == high) | (sums <= 0))
    if constant.size:
        name = names[int(constant[0])]
        value = "" if original is None else f" ({original[0, constant[0]]:g})"
        raise SurvivalDataError(
            f"covariate {name!r} takes a single value{value} in every row used; "
            "it cannot be estimated (its effect is absorbed by the baseline hazard): drop it"
        )
    scale = np.sqrt(np.diag(gram))
    gram = gram / np.outer(scale, scale)
    kept: list[int] = []
    for j in range(p):
        if kept:
            sub = gram[np.ix_(kept, kept)]
            coef = np.linalg.solve(sub, gram[kept, j])
            residual = gram[j, j] - gram[kept, j] @ coef
        else:
            coef = np.zeros(0)
            residual = gram[j, j]
        if residual < 1e-10:
            involved = [names[kept[i]] for i in np.flatnonzero(np.abs(coef) > 1e-6)]
            raise SurvivalDataError(
                f"covariate {names[j]!r} is collinear with {', '.join(map(repr, involved))} "
                "(a linear combination of them, e.g. indicators that add up to another "
                "column); drop one of them"
            )
        kept.append(j)
