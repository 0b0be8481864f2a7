"""Synthetic MovieLens-like data sets of any size, for scale tests and benchmarks.

The generator writes ``ratings.csv``, ``movies.csv`` and ``tags.csv`` in the
format of the current MovieLens releases, so every loader and trainer reads
them like the real thing. The shape follows ml-latest-small and ml-20m:

- **Users** are numbered 1 to ``n_users``. Each rates at least
  ``MIN_RATINGS_PER_USER`` movies, and the number of ratings per user
  follows a shifted Pareto (Lomax) law with tail index 1.7, which gives a
  median near 70 and a mean near 160, as in ml-latest-small.
- **Movies** have sparse ids, titles ending in a year, and one to six of the
  MovieLens genres, drawn with their ml-latest-small frequencies. Movie
  popularity is Zipf-like: the movie of popularity rank ``k`` is picked
  with weight ``(k + offset) ** -1.3``.
- **Choices** follow taste: each user has a genre preference (a Dirichlet
  draw), and most ratings go to a popular movie of a preferred genre.
- **Ratings** come from a small latent-factor model: global mean, user and
  movie biases, genre affinity, eight hidden factors and noise. They are
  rounded to whole stars for 40% of users and to half stars for the rest,
  because about 70% of MovieLens ratings are whole stars.
- **Timestamps** fall in one active period per user between 1996 and
  2018, never before the movie's release year.

Everything is drawn from one seed, so the same arguments give the same
files byte for byte. Users are generated and written in blocks of about
``BLOCK_RATINGS`` ratings, which bounds the memory whatever the total.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

# Changes whenever the same spec would write different files, so that cached
# data sets can be told apart.
GENERATOR_VERSION = 1

# Genres of the MovieLens CSV releases with their number of movies in
# ml-latest-small, used as relative frequencies.
GENRE_COUNTS = {
    "Drama": 4361, "Comedy": 3756, "Thriller": 1894, "Action": 1828, "Romance": 1596,
    "Adventure": 1263, "Crime": 1199, "Sci-Fi": 980, "Horror": 978, "Fantasy": 779,
    "Children": 664, "Animation": 611, "Mystery": 573, "Documentary": 440, "War": 382,
    "Musical": 334, "Western": 167, "IMAX": 158, "Film-Noir": 87,
}
GENRES = tuple(GENRE_COUNTS)

# Share of movies with 0, 1, ..., 6 genres (ml-latest-small, rounded).
_GENRE_COUNT_SHARES = np.array([0.004, 0.293, 0.33, 0.24, 0.101, 0.028, 0.004])

# MovieLens keeps only users with at least 20 ratings.
MIN_RATINGS_PER_USER = 20

# Ratings per user in ml-latest-small and ml-20m average 144 to 165; the
# default number of users gives a mean of 150.
DEFAULT_RATINGS_PER_USER = 150

# ml-20m has 26,744 movies for 20 million ratings. The default catalogue
# grows with the square root of the ratings from that point, which gives
# about 1,900 movies at 100 thousand ratings, near ml-100k's 1,682.
_REFERENCE_RATINGS = 20_000_000
_REFERENCE_MOVIES = 27_000

# Smaller data sets get at least this many movies by default, so that the
# heaviest users are not held at the per-user cap.
_MIN_DEFAULT_MOVIES = 1_500

# Tag rows per rating: 3.7% in ml-latest-small, 2.3% in ml-20m.
DEFAULT_TAGS_PER_RATING = 0.025

# Ratings generated and written per block of users.
BLOCK_RATINGS = 2_000_000

# No user rates more than this share of the catalogue (28% at most in
# ml-latest-small), which keeps the sampling without replacement fast.
_MAX_CATALOGUE_SHARE = 0.4

# Rounds of popularity-weighted draws for a user's repeated movies before
# the rest are drawn uniformly.
_WEIGHTED_ROUNDS = 30

_RATINGS_LOW, _RATINGS_HIGH = 0.5, 5.0
_FIRST_TIMESTAMP = 820_454_400  # 1996-01-01 UTC
_LAST_TIMESTAMP = 1_537_833_600  # 2018-09-25 UTC

_TITLE_ADJECTIVES = (
    "Silent", "Crimson", "Last", "Broken", "Golden", "Hidden", "Wild", "Dark", "Lost", "Secret",
    "Little", "Endless", "Burning", "Frozen", "Electric", "Midnight", "Savage", "Quiet", "Distant", "Final",
)
_TITLE_NOUNS = (
    "River", "Kingdom", "Road", "Summer", "Garden", "Empire", "Harbor", "Witness", "Machine", "Island",
    "Promise", "Horizon", "Station", "Dream", "Mirror", "Frontier", "Heart", "Shadow", "Voyage", "City",
)
# Tag words per genre, plus words any movie may get.
_GENRE_TAGS = {
    "Drama": ("moving", "character study"), "Comedy": ("funny", "quirky"), "Thriller": ("twist ending", "tense"),
    "Action": ("explosions", "fight scenes"), "Romance": ("love story", "romantic"), "Adventure": ("quest", "epic"),
    "Crime": ("heist", "mafia"), "Sci-Fi": ("space", "time travel"), "Horror": ("creepy", "gore"),
    "Fantasy": ("magic", "dragons"), "Children": ("family", "kids"), "Animation": ("pixar", "hand drawn"),
    "Mystery": ("whodunit", "detective"), "Documentary": ("true story", "interviews"), "War": ("ww2", "battle"),
    "Musical": ("songs", "dance"), "Western": ("cowboys", "desert"), "IMAX": ("visuals", "3d"),
    "Film-Noir": ("femme fatale", "noir"),
}
_COMMON_TAGS = ("classic", "overrated", "atmospheric", "great soundtrack", "based on a book", "visually appealing")


@dataclass(frozen=True)
class SyntheticSpec:
    """The size and seed of a synthetic data set; the files depend on nothing else.

    Use `SyntheticSpec.for_ratings` to fill in the defaults.
    """

    n_ratings: int
    n_users: int
    n_movies: int
    n_tags: int
    seed: int

    @classmethod
    def for_ratings(cls, n_ratings, *, seed=0, n_users=None, n_movies=None, tags_per_rating=DEFAULT_TAGS_PER_RATING):
        """Return a checked spec with default users, movies and tags for ``n_ratings``.

        Raises
        ------
        ValueError
            If a count is not a positive integer, or the ratings cannot be
            spread over the users: each user needs at least
            ``MIN_RATINGS_PER_USER`` ratings and at most 40% of the catalogue.
        """
        n_ratings = _positive_int("n_ratings", n_ratings)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if isinstance(tags_per_rating, bool) or not isinstance(tags_per_rating, (int, float)) or not 0 <= tags_per_rating <= 1:
            raise ValueError(f"tags_per_rating must be a number from 0 to 1, got {tags_per_rating!r}")

        if n_users is None:
            n_users = max(1, round(n_ratings / DEFAULT_RATINGS_PER_USER))
        if n_movies is None:
            n_movies = max(_MIN_DEFAULT_MOVIES, round(_REFERENCE_MOVIES * math.sqrt(n_ratings / _REFERENCE_RATINGS)))
        n_users = _positive_int("n_users", n_users)
        n_movies = _positive_int("n_movies", n_movies)

        per_user_cap = _per_user_cap(n_movies)
        if per_user_cap < MIN_RATINGS_PER_USER:
            raise ValueError(
                f"{n_movies} movies are too few: each user rates at least {MIN_RATINGS_PER_USER} movies and at "
                f"most {_MAX_CATALOGUE_SHARE:.0%} of the catalogue, so use at least "
                f"{math.ceil(MIN_RATINGS_PER_USER / _MAX_CATALOGUE_SHARE)} movies"
            )
        if n_users * MIN_RATINGS_PER_USER > n_ratings:
            raise ValueError(
                f"{n_ratings} ratings are too few for {n_users} users: each user gets at least "
                f"{MIN_RATINGS_PER_USER}, so use at most {n_ratings // MIN_RATINGS_PER_USER} users"
            )
        if n_users * per_user_cap < n_ratings:
            raise ValueError(
                f"{n_ratings} ratings are too many for {n_users} users and {n_movies} movies: a user rates at "
                f"most {per_user_cap} movies ({_MAX_CATALOGUE_SHARE:.0%} of the catalogue), so use more users or movies"
            )
        return cls(int(n_ratings), int(n_users), int(n_movies), round(tags_per_rating * n_ratings), int(seed))


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _per_user_cap(n_movies):
    return int(n_movies * _MAX_CATALOGUE_SHARE)


def generate_movielens(spec: SyntheticSpec, out_dir, *, show_progress=False):
    """Write a synthetic data set as ``ratings.csv``, ``movies.csv`` and ``tags.csv`` in ``out_dir``.

    A ``synthetic.json`` beside them records the spec and
    ``GENERATOR_VERSION``. Existing files of
    those names are replaced. Returns the paths of the three CSV files.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    root = np.random.SeedSequence(spec.seed)
    catalogue_seed, users_seed, blocks_seed = root.spawn(3)

    catalogue = _make_catalogue(spec.n_movies, np.random.default_rng(catalogue_seed))
    users = _make_users(spec, catalogue, np.random.default_rng(users_seed))
    paths = {name: out_dir / f"{name}.csv" for name in ("ratings", "movies", "tags")}
    _write_movies(catalogue, paths["movies"])

    # Each block of users gets its own generator, so a block's output does
    # not depend on how much randomness earlier blocks used.
    blocks = _user_blocks(users["counts"])
    tag_quota = _split_total(spec.n_tags, np.array([users["counts"][start:stop].sum() for start, stop in blocks]))
    block_seeds = blocks_seed.spawn(len(blocks))
    progress = tqdm(total=spec.n_ratings, desc="generating ratings", unit="rating", unit_scale=True, disable=not show_progress)
    with open(paths["ratings"], "w", encoding="utf-8", newline="") as ratings_file, \
            open(paths["tags"], "w", encoding="utf-8", newline="") as tags_file:
        ratings_file.write("userId,movieId,rating,timestamp\n")
        tags_file.write("userId,movieId,tag,timestamp\n")
        for (start, stop), quota, block_seed in zip(blocks, tag_quota, block_seeds):
            rng = np.random.default_rng(block_seed)
            ratings = _make_block_ratings(start, stop, users, catalogue, rng)
            _write_ratings(ratings, catalogue, ratings_file)
            _write_tags(_make_block_tags(ratings, quota, catalogue, rng), catalogue, tags_file)
            progress.update(len(ratings["user"]))
    progress.close()

    record = {**asdict(spec), "generator_version": GENERATOR_VERSION}
    (out_dir / "synthetic.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    logger.info(
        "wrote %d ratings by %d users of %d movies and %d tags to %s",
        spec.n_ratings, spec.n_users, spec.n_movies, spec.n_tags, out_dir,
    )
    return paths["ratings"], paths["movies"], paths["tags"]


# Catalogue ---------------------------------------------------------------------------


def _make_catalogue(n_movies, rng):
    """Draw movie ids, titles, years, genres, popularity weights and hidden traits."""
    # Sparse, increasing ids like MovieLens, where ids of removed movies leave gaps.
    gaps = 1 + (rng.random(n_movies) < 0.3) * rng.integers(1, 20, size=n_movies)
    movie_ids = np.cumsum(gaps)

    years = 2018 - np.minimum(rng.exponential(18.0, size=n_movies).astype(np.int64), 116)

    # Genres without replacement, weighted by frequency, by the Gumbel top-k trick.
    n_genres = rng.choice(len(_GENRE_COUNT_SHARES), size=n_movies, p=_GENRE_COUNT_SHARES / _GENRE_COUNT_SHARES.sum())
    frequency = np.array(list(GENRE_COUNTS.values()), dtype=np.float64)
    keys = np.log(frequency / frequency.sum()) + rng.gumbel(size=(n_movies, len(GENRES)))
    ranked = np.argsort(-keys, axis=1)
    genre_matrix = np.zeros((n_movies, len(GENRES)), dtype=bool)
    for position in range(len(_GENRE_COUNT_SHARES) - 1):
        chosen = n_genres > position
        genre_matrix[np.flatnonzero(chosen), ranked[chosen, position]] = True

    # Zipf-like popularity over a random order of the movies. The offset
    # flattens the head so that the top movie gets about 0.5% of ratings.
    ranks = rng.permutation(n_movies)
    popularity = (ranks + 0.004 * n_movies + 10.0) ** -1.3
    popularity /= popularity.sum()

    # Popular movies are rated a little higher on average, as in MovieLens.
    popularity_z = (np.log(popularity) - np.log(popularity).mean()) / max(np.log(popularity).std(), 1e-9)
    quality = 0.3 * rng.standard_normal(n_movies) + 0.15 * popularity_z

    return {
        "movie_ids": movie_ids.astype(np.int64),
        "years": years,
        "titles": _make_titles(years, rng),
        "genres": genre_matrix,
        "popularity": popularity,
        "quality": quality.astype(np.float64),
        "factors": rng.normal(0.0, 0.35, size=(n_movies, 8)),
    }


def _make_titles(years, rng):
    adjectives = np.array(_TITLE_ADJECTIVES, dtype=object)[rng.integers(len(_TITLE_ADJECTIVES), size=years.size)]
    nouns = np.array(_TITLE_NOUNS, dtype=object)[rng.integers(len(_TITLE_NOUNS), size=years.size)]
    titles = adjectives + " " + nouns

    # MovieLens moves a leading article to the end ("Matrix, The"). The comma
    # makes the CSV writer quote those titles, as in the real files.
    article = rng.random(years.size) < 0.15
    titles[article] = titles[article] + ", The"
    sequel = rng.random(years.size) < 0.08
    titles[sequel] = titles[sequel] + " " + rng.integers(2, 5, size=int(sequel.sum())).astype(str).astype(object)
    return titles + " (" + years.astype(str).astype(object) + ")"


def _write_movies(catalogue, path):
    genre_names = np.array(GENRES, dtype=object)
    genres = ["|".join(genre_names[row]) or "(no genres listed)" for row in catalogue["genres"]]
    frame = pd.DataFrame({"movieId": catalogue["movie_ids"], "title": catalogue["titles"], "genres": genres})
    frame.to_csv(path, index=False, lineterminator="\n")


# Users ---------------------------------------------------------------------------------


def _make_users(spec, catalogue, rng):
    """Draw each user's number of ratings, taste, biases and rating habits."""
    counts = _rating_counts(spec, rng)

    # Tastes concentrate on a few genres. The Dirichlet's mean is the
    # catalogue's genre mix, so no genre is left unrated overall.
    genre_mix = catalogue["genres"].sum(axis=0) + 1.0
    genre_mix = genre_mix / genre_mix.sum()
    preference = rng.dirichlet(genre_mix * 3.0, size=spec.n_users)

    first_time = rng.integers(_FIRST_TIMESTAMP, _LAST_TIMESTAMP - 86_400, size=spec.n_users)
    # Most users rate everything within weeks, and a fifth keep coming back for years.
    span = np.minimum(rng.exponential(60 * 86_400.0, size=spec.n_users) * rng.choice([1, 20], size=spec.n_users, p=[0.8, 0.2]),
                      _LAST_TIMESTAMP - first_time)

    return {
        "counts": counts,
        "preference": preference,
        "bias": rng.normal(0.0, 0.4, size=spec.n_users),
        "factors": rng.normal(0.0, 0.35, size=(spec.n_users, 8)),
        "half_stars": rng.random(spec.n_users) < 0.6,
        "first_time": first_time,
        "span": span.astype(np.int64),
    }


def _rating_counts(spec, rng):
    """Return each user's number of ratings, summing exactly to ``spec.n_ratings``."""
    minimum = MIN_RATINGS_PER_USER
    cap = _per_user_cap(spec.n_movies)
    # Lomax draws shaped like ml-latest-small (median about 70 ratings);
    # the excess over the minimum is then scaled to hit the total.
    excess = 100.0 * rng.pareto(1.7, size=spec.n_users)
    target = spec.n_ratings - minimum * spec.n_users

    low, high = 0.0, 1.0
    while _capped_total(excess * high, cap - minimum) < target:
        high *= 2.0
    for _ in range(100):
        middle = (low + high) / 2.0
        if _capped_total(excess * middle, cap - minimum) < target:
            low = middle
        else:
            high = middle
    counts = minimum + np.minimum(np.floor(excess * high), cap - minimum).astype(np.int64)

    # Rounding leaves the total a little off, so single ratings are taken from
    # or given to random users within the bounds.
    surplus = int(counts.sum()) - spec.n_ratings
    while surplus > 0:
        above = np.flatnonzero(counts > minimum)
        take = rng.choice(above, size=min(surplus, above.size), replace=False)
        counts[take] -= 1
        surplus -= take.size
    while surplus < 0:
        below = np.flatnonzero(counts < cap)
        give = rng.choice(below, size=min(-surplus, below.size), replace=False)
        counts[give] += 1
        surplus += give.size
    return counts


def _capped_total(excess, cap):
    return np.minimum(np.floor(excess), cap).sum()


def _user_blocks(counts):
    """Split users into consecutive ``(start, stop)`` ranges of about ``BLOCK_RATINGS`` ratings."""
    ends = np.cumsum(counts)
    cuts = np.searchsorted(ends, np.arange(BLOCK_RATINGS, ends[-1], BLOCK_RATINGS), side="left") + 1
    bounds = np.unique(np.concatenate([[0], cuts, [counts.size]]))
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def _split_total(total, weights):
    """Split ``total`` into integer parts proportional to ``weights``."""
    shares = np.floor(total * weights / weights.sum()).astype(np.int64)
    shares[: total - shares.sum()] += 1
    return shares


# Ratings -------------------------------------------------------------------------------


def _make_block_ratings(start, stop, users, catalogue, rng):
    """Draw the ratings of users ``start`` to ``stop - 1``, sorted by user and movie."""
    counts = users["counts"][start:stop]
    slot_users = np.repeat(np.arange(start, stop), counts)
    movies = _choose_movies(slot_users, counts, start, users, catalogue, rng)
    order = np.lexsort((movies, slot_users))
    slot_users, movies = slot_users[order], movies[order]

    return {
        "user": slot_users,
        "movie": movies,
        "rating": _rate(slot_users, movies, users, catalogue, rng),
        "timestamp": _timestamps(slot_users, movies, users, catalogue, rng),
    }


def _choose_movies(slot_users, counts, start, users, catalogue, rng):
    """Pick distinct movies for each user: mostly popular ones of the user's genres."""
    n_movies = catalogue["popularity"].size
    genre_samplers = _genre_samplers(catalogue)
    overall_cdf = np.cumsum(catalogue["popularity"])
    overall_cdf /= overall_cdf[-1]

    movies = np.empty(slot_users.size, dtype=np.int64)
    pending = np.arange(slot_users.size)
    for attempt in range(200):
        # Heavy users have taken most popular movies after many rounds,
        # so the last rounds draw uniformly to finish quickly.
        movies[pending] = _draw_movies(slot_users[pending], users, genre_samplers, overall_cdf, n_movies, attempt, rng)

        # A slot is pending when its movie repeats an earlier slot of the same user.
        keys = slot_users * n_movies + movies
        order = np.argsort(keys, kind="stable")
        repeated = np.zeros(keys.size, dtype=bool)
        repeated[order[1:]] = keys[order[1:]] == keys[order[:-1]]
        pending = np.flatnonzero(repeated)
        if pending.size == 0:
            return movies
    raise RuntimeError(f"could not draw distinct movies for users {start} to {start + counts.size - 1}")


def _genre_samplers(catalogue):
    samplers = []
    for genre in range(len(GENRES)):
        members = np.flatnonzero(catalogue["genres"][:, genre])
        if members.size == 0:
            samplers.append(None)
            continue
        cdf = np.cumsum(catalogue["popularity"][members])
        samplers.append((members, cdf / cdf[-1]))
    return samplers


def _draw_movies(slot_users, users, genre_samplers, overall_cdf, n_movies, attempt, rng):
    if attempt >= _WEIGHTED_ROUNDS:
        return rng.integers(n_movies, size=slot_users.size)

    # 70% of choices follow the user's genre taste, the rest popularity alone.
    movies = np.minimum(np.searchsorted(overall_cdf, rng.random(slot_users.size)), n_movies - 1)
    by_taste = np.flatnonzero(rng.random(slot_users.size) < 0.7)
    preference_cdf = np.cumsum(users["preference"][slot_users[by_taste]], axis=1)
    genres = (preference_cdf < rng.random(by_taste.size)[:, None]).sum(axis=1)
    genres = np.minimum(genres, len(GENRES) - 1)
    for genre, sampler in enumerate(genre_samplers):
        if sampler is None:
            continue
        slots = by_taste[genres == genre]
        members, cdf = sampler
        picks = np.minimum(np.searchsorted(cdf, rng.random(slots.size)), members.size - 1)
        movies[slots] = members[picks]
    return movies


def _rate(slot_users, movies, users, catalogue, rng):
    """Return star ratings from the hidden model, rounded to each user's habit."""
    # Affinity: the user's taste for the movie's genres, relative to the
    # catalogue's mix, so that it averages near zero.
    genres = catalogue["genres"][movies]
    n_genres = np.maximum(genres.sum(axis=1), 1)
    taste = (users["preference"][slot_users] * genres).sum(axis=1) / n_genres
    affinity = 2.0 * (taste - 1.0 / len(GENRES))

    hidden = np.einsum("ij,ij->i", users["factors"][slot_users], catalogue["factors"][movies])
    score = (
        3.3
        + users["bias"][slot_users]
        + catalogue["quality"][movies]
        + affinity
        + 1.5 * hidden
        + rng.normal(0.0, 0.7, size=slot_users.size)
    )

    half = users["half_stars"][slot_users]
    ratings = np.where(half, np.round(score * 2.0) / 2.0, np.round(score))
    low = np.where(half, _RATINGS_LOW, 1.0)
    return np.clip(ratings, low, _RATINGS_HIGH)


def _timestamps(slot_users, movies, users, catalogue, rng):
    """Return times within each user's active period, never before the movie's year."""
    offsets = (rng.random(slot_users.size) ** 2 * users["span"][slot_users]).astype(np.int64)
    times = users["first_time"][slot_users] + offsets
    release = (catalogue["years"][movies] - 1970).astype("datetime64[Y]").astype("datetime64[s]").astype(np.int64)
    return np.clip(np.maximum(times, release), _FIRST_TIMESTAMP, _LAST_TIMESTAMP)


def _write_ratings(ratings, catalogue, handle):
    # Ratings are written as MovieLens writes them, with one decimal ("4.0").
    frame = pd.DataFrame(
        {
            "userId": ratings["user"] + 1,
            "movieId": catalogue["movie_ids"][ratings["movie"]],
            "rating": np.char.mod("%.1f", ratings["rating"]),
            "timestamp": ratings["timestamp"],
        }
    )
    frame.to_csv(handle, header=False, index=False, lineterminator="\n")


# Tags ----------------------------------------------------------------------------------


def _make_block_tags(ratings, quota, catalogue, rng):
    """Draw ``quota`` tags on rated movies, mostly words of the movie's genres."""
    if quota == 0:
        return None
    slots = np.sort(rng.choice(ratings["user"].size, size=min(quota, ratings["user"].size), replace=False))
    movies = ratings["movie"][slots]

    # A tag names one of the movie's genres' words, or a common word for
    # movies without genres and for a fifth of the tags.
    genre_keys = catalogue["genres"][movies] * rng.random((slots.size, len(GENRES)))
    genre = genre_keys.argmax(axis=1)
    has_genre = genre_keys.max(axis=1) > 0
    genre_words = np.array([_GENRE_TAGS[name] for name in GENRES], dtype=object)
    words = genre_words[genre, rng.integers(2, size=slots.size)]
    common = ~has_genre | (rng.random(slots.size) < 0.2)
    words[common] = np.array(_COMMON_TAGS, dtype=object)[rng.integers(len(_COMMON_TAGS), size=int(common.sum()))]

    return {
        "user": ratings["user"][slots],
        "movie": movies,
        "tag": words,
        "timestamp": ratings["timestamp"][slots] + rng.integers(1, 600, size=slots.size),
    }


def _write_tags(tags, catalogue, handle):
    if tags is None:
        return
    frame = pd.DataFrame(
        {
            "userId": tags["user"] + 1,
            "movieId": catalogue["movie_ids"][tags["movie"]],
            "tag": tags["tag"],
            "timestamp": tags["timestamp"],
        }
    )
    frame.to_csv(handle, header=False, index=False, lineterminator="\n")
