"""The movie catalogue: titles, genres and years by movie index, with title search."""

import unicodedata

import numpy as np

from hybrid.ids import IdIndex

NO_YEAR = -1


def fold_text(text):
    """Return ``text`` lower-cased with accents removed, for accent-blind search ("amelie" finds "Amélie")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(character for character in decomposed if not unicodedata.combining(character))


class Catalogue:
    """Movie metadata aligned with the item columns of every model.

    Parameters
    ----------
    movie_ids : IdIndex
        External id of each movie index.
    titles : list of str
        Titles exactly as in the data.
    genres : list of tuple of str
        Genres of each movie; the empty tuple when it has none.
    years : ndarray of int32
        Release year of each movie, ``NO_YEAR`` when unknown.
    """

    def __init__(self, movie_ids, titles, genres, years):
        if not isinstance(movie_ids, IdIndex):
            movie_ids = IdIndex(movie_ids)
        n_movies = len(movie_ids)
        if not len(titles) == len(genres) == len(years) == n_movies:
            raise ValueError(
                f"catalogue columns differ in length: {n_movies} ids, {len(titles)} titles, "
                f"{len(genres)} genres, {len(years)} years"
            )

        self.movie_ids = movie_ids
        self.titles = list(titles)
        self.genres = [tuple(movie_genres) for movie_genres in genres]
        self.years = np.asarray(years, dtype=np.int32)
        # Python values for ``describe``, which runs for every returned movie
        # of every request: a list look-up costs less than converting a
        # NumPy scalar each time.
        self._id_values = self.movie_ids.ids.tolist()
        self._year_values = [None if year == NO_YEAR else year for year in self.years.tolist()]
        self._folded_titles = None
        self._genre_names = None
        self._genre_matrix = None

    def __len__(self):
        return len(self.movie_ids)

    def describe(self, index):
        """Return the public description of the movie at ``index``."""
        return {
            "movie_id": self._id_values[index],
            "title": self.titles[index],
            "genres": list(self.genres[index]),
            "year": self._year_values[index],
        }

    def search(self, query, limit, popularity):
        """Return indices of up to ``limit`` movies whose title contains ``query``.

        Matching ignores case and accents. Titles that start with the query
        come first, then the rest; within each group the more popular movie
        (higher ``popularity`` score) comes first.
        """
        if self._folded_titles is None:
            self._folded_titles = [fold_text(title) for title in self.titles]
        needle = fold_text(query.strip())
        if not needle:
            return np.zeros(0, dtype=np.int64)

        matches = np.array(
            [index for index, title in enumerate(self._folded_titles) if needle in title],
            dtype=np.int64,
        )
        if matches.size == 0:
            return matches
        starts = np.array([self._folded_titles[index].startswith(needle) for index in matches])
        order = np.lexsort((matches, -popularity[matches], ~starts))
        return matches[order][:limit]

    @property
    def genre_names(self):
        """All genre names in the catalogue, sorted."""
        if self._genre_names is None:
            self._genre_names = sorted({genre for movie_genres in self.genres for genre in movie_genres})
        return self._genre_names

    def genre_mask(self, genres):
        """Return a boolean mask of the movies that have at least one of ``genres``."""
        if self._genre_matrix is None:
            column = {name: position for position, name in enumerate(self.genre_names)}
            matrix = np.zeros((len(self), len(column)), dtype=bool)
            for index, movie_genres in enumerate(self.genres):
                matrix[index, [column[name] for name in movie_genres]] = True
            self._genre_matrix = matrix
        known = [self.genre_names.index(name) for name in genres if name in self.genre_names]
        return self._genre_matrix[:, known].any(axis=1)

    def add(self, movie_id, title, genres, year):
        """Append one movie and return its index."""
        self.movie_ids = self.movie_ids.with_ids([movie_id])
        self.titles.append(title)
        self.genres.append(tuple(genres))
        self.years = np.append(self.years, np.int32(NO_YEAR if year is None else year))
        self._id_values.append(self.movie_ids.id_of(len(self.movie_ids) - 1))
        self._year_values.append(None if year is None else int(year))
        self._folded_titles = None
        self._genre_names = None
        self._genre_matrix = None
        return len(self) - 1
