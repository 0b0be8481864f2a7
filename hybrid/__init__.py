"""Data loading, the id mapping, the blender and the hybrid model that the server and scripts share."""

from hybrid.blend import COMPONENTS, BlendWeights
from hybrid.config import HybridConfig
from hybrid.data import DataError, Dataset, RatingScale, load_bundled, load_ml100k, load_movielens_csv
from hybrid.model import Filters, HybridRecommender, Recommendations, UnknownMovieError

__all__ = [
    "COMPONENTS",
    "BlendWeights",
    "DataError",
    "Dataset",
    "Filters",
    "HybridConfig",
    "HybridRecommender",
    "RatingScale",
    "Recommendations",
    "UnknownMovieError",
    "load_bundled",
    "load_ml100k",
    "load_movielens_csv",
]
