"""The model configuration: hyperparameters of each component and the blend weights.

A configuration is plain JSON so that ``true-recommend tune`` can write one
and ``true-recommend train`` can read it back. Every model bundle records the
configuration it was trained with.
"""

import inspect
import json
from dataclasses import dataclass, field
from pathlib import Path

from collaborative.als import ImplicitALS
from collaborative.ease import EASE
from collaborative.popularity import Popularity
from collaborative.rp3beta import RP3Beta
from collaborative.sgd_mf import ExplicitMF
from content.tfidf import ContentModel
from hybrid.blend import BlendWeights

# Keys of each section are checked against the constructor of the model that
# receives them, so a typo fails loudly instead of being ignored.
_SECTIONS = {
    "als": ImplicitALS,
    "ease": EASE,
    "rp3beta": RP3Beta,
    "mf": ExplicitMF,
    "content": ContentModel,
    "popularity": Popularity,
}
_RESERVED = {"random_state", "show_progress", "rating_range"}


# The ALS and EASE settings and the warm blend weights come from ``true-recommend
# tune`` on the bundled ml-latest-small, rounded. ALS was cut from 111 to 64
# factors because a request then costs less and the validation NDCG did not
# drop. The RP3beta settings and the cold weights come from a later ``tune
# --components rp3beta`` on the same data, rounded. Its warm weights were not
# taken because they gained only 0.0007 validation NDCG. README.md gives the
# figures of benchmarks/defaults.py, which compares these defaults with the
# ones they replaced on both ml-100k and ml-latest-small.


def _default_als():
    return {"factors": 64, "regularization": 18.5, "alpha": 0.42, "iterations": 22}


def _default_ease():
    return {"regularization": 660.0, "rating_exponent": 0.54}


def _default_rp3beta():
    return {"alpha": 0.65, "beta": 0.16, "neighbours": 45}


def _default_mf():
    # The preset that predicted held-out ml-100k ratings best in ExplicitMF's
    # tuning (RMSE 0.904 over the u1..u5 folds, against 0.938 at the classic settings).
    return dict(ExplicitMF.RECOMMENDED_PARAMS)


@dataclass
class HybridConfig:
    """Everything that decides what a trained model recommends.

    Parameters
    ----------
    als, ease, rp3beta, mf, content, popularity : dict
        Constructor arguments of ``ImplicitALS``, ``EASE``, ``RP3Beta``,
        ``ExplicitMF``, ``ContentModel`` and ``Popularity``; missing keys take the class
        defaults. ``random_state``, ``show_progress`` and ``rating_range`` are
        set by training.
    blend : BlendWeights
        Component weights by number of ratings.
    similar_content_weight : float
        Share of content similarity, against ALS item-factor similarity, in
        "similar movies" (1.0 means content only).
    random_state : int or None
        Seed of every component, for reproducible training.
    """

    als: dict = field(default_factory=_default_als)
    ease: dict = field(default_factory=_default_ease)
    rp3beta: dict = field(default_factory=_default_rp3beta)
    mf: dict = field(default_factory=_default_mf)
    content: dict = field(default_factory=dict)
    popularity: dict = field(default_factory=dict)
    blend: BlendWeights = field(default_factory=BlendWeights)
    similar_content_weight: float = 0.5
    random_state: int | None = 42

    def __post_init__(self):
        if isinstance(self.blend, dict):
            self.blend = BlendWeights(**self.blend)
        for section, estimator in _SECTIONS.items():
            params = getattr(self, section)
            if not isinstance(params, dict):
                raise ValueError(f"{section} must be an object of hyperparameters, got {params!r}")
            accepted = set(inspect.signature(estimator).parameters) - _RESERVED
            unknown = sorted(set(params) - accepted)
            if unknown:
                raise ValueError(
                    f"unknown {section} hyperparameters {unknown}; {estimator.__name__} accepts {sorted(accepted)}"
                )
        if not 0.0 <= self.similar_content_weight <= 1.0:
            raise ValueError(f"similar_content_weight must be in [0, 1], got {self.similar_content_weight!r}")

    @classmethod
    def from_dict(cls, values):
        """Build a configuration from a dict such as the JSON of a config file."""
        known = {"als", "ease", "rp3beta", "mf", "content", "popularity", "blend", "similar_content_weight", "random_state"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown configuration keys {unknown}; expected some of {sorted(known)}")
        values = dict(values)
        if "blend" in values:
            blend = values["blend"]
            if not isinstance(blend, dict):
                raise ValueError(f"blend must be an object, got {blend!r}")
            try:
                values["blend"] = BlendWeights(**blend)
            except TypeError as error:
                raise ValueError(f"invalid blend section: {error}") from None
        return cls(**values)

    def to_dict(self):
        return {
            "als": dict(self.als),
            "ease": dict(self.ease),
            "rp3beta": dict(self.rp3beta),
            "mf": dict(self.mf),
            "content": dict(self.content),
            "popularity": dict(self.popularity),
            "blend": self.blend.to_dict(),
            "similar_content_weight": self.similar_content_weight,
            "random_state": self.random_state,
        }

    @classmethod
    def load(cls, path):
        """Read a configuration from a JSON file."""
        path = Path(path)
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FileNotFoundError(f"configuration file not found: {path}") from None
        except json.JSONDecodeError as error:
            raise ValueError(f"configuration file {path} is not valid JSON: {error}") from None
        if not isinstance(values, dict):
            raise ValueError(f"configuration file {path} must hold a JSON object")
        try:
            return cls.from_dict(values)
        except ValueError as error:
            raise ValueError(f"configuration file {path}: {error}") from None

    def save(self, path):
        """Write the configuration as JSON, replacing the file atomically."""
        path = Path(path)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        temporary.replace(path)
