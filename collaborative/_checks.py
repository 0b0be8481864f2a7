"""Input and output checks shared by the collaborative models."""

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted


class ModelFitError(RuntimeError):
    """Raised when training produced factors that cannot be used (NaN or infinity)."""


def require_fitted(estimator, attribute):
    """Raise scikit-learn's ``NotFittedError`` unless ``estimator`` has ``attribute``.

    ``check_is_fitted`` builds the estimator's tags on every call, 3 to 5 us
    with scikit-learn 1.9, and the request path checks several times per
    request. A present attribute gives the same answer without that cost.
    """
    if not hasattr(estimator, attribute):
        check_is_fitted(estimator, attribute)


def check_user_items(user_items, name="user_items"):
    """Return ``user_items`` as a CSR matrix of float32 values.

    The matrix is users x items; each stored entry is one rating. Raises
    ``TypeError`` for a dense or non-matrix argument and ``ValueError`` for
    an empty matrix or a non-finite value.
    """
    if not sp.issparse(user_items):
        raise TypeError(
            f"{name} must be a scipy.sparse matrix (users x items), "
            f"got {type(user_items).__name__}"
        )

    matrix = sp.csr_matrix(user_items, dtype=np.float32)
    if matrix.shape[0] == 0 or matrix.shape[1] == 0 or matrix.nnz == 0:
        raise ValueError(f"{name} must hold at least one rating, got shape {matrix.shape} with {matrix.nnz} entries")
    if not np.isfinite(matrix.data).all():
        bad = int((~np.isfinite(matrix.data)).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite values; remove or fix those ratings")

    matrix.sort_indices()
    return matrix


def check_fold_in_input(item_indices, ratings, n_items):
    """Return ``(item_indices, ratings)`` as int64 and float32 arrays after checking them.

    Raises ``ValueError`` when the lengths differ, an index is outside
    ``[0, n_items)``, an index repeats or a rating is not finite.
    """
    items = np.asarray(item_indices, dtype=np.int64).ravel()
    values = np.asarray(ratings, dtype=np.float32).ravel()

    if items.shape != values.shape:
        raise ValueError(
            f"item_indices and ratings must have the same length, got {items.size} and {values.size}"
        )
    if items.size and (items.min() < 0 or items.max() >= n_items):
        raise ValueError(f"item_indices must lie in [0, {n_items}), got values from {items.min()} to {items.max()}")
    # Strictly increasing indices (a CSR row) are distinct without the sort
    # that np.unique needs.
    if not (items[1:] > items[:-1]).all() and np.unique(items).size != items.size:
        raise ValueError("item_indices must not repeat an item")
    if not np.isfinite(values).all():
        raise ValueError("ratings must be finite numbers")

    return items, values


def check_finite_factors(model_name, **arrays):
    """Raise ``ModelFitError`` if any of the named arrays holds NaN or infinity."""
    for array_name, array in arrays.items():
        if not np.isfinite(array).all():
            raise ModelFitError(
                f"{model_name} produced non-finite values in {array_name}; "
                "lower the learning rate or raise the regularization"
            )
