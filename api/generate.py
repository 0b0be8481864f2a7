"""The ``true-recommend generate`` command: synthetic MovieLens-like data for scale tests."""

import click


@click.command()
@click.option("--ratings", "n_ratings", required=True, type=click.IntRange(min=1), help="Number of ratings to write.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Directory for ratings.csv, movies.csv and tags.csv.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Seed of every random draw.")
@click.option("--users", "n_users", type=click.IntRange(min=1), help="Number of users (default: one per 150 ratings).")
@click.option("--movies", "n_movies", type=click.IntRange(min=1), help="Number of movies (default: 27,000 at 20 million ratings, growing with the square root of the ratings).")
@click.option("--tags-per-rating", default=0.025, show_default=True, type=click.FloatRange(0.0, 1.0), help="Tag rows per rating.")
@click.option("--progress/--no-progress", default=True, show_default=True, help="Show a progress bar.")
def generate(n_ratings, out_dir, seed, n_users, n_movies, tags_per_rating, progress):
    """Write a synthetic MovieLens-like data set in the MovieLens CSV format.

    The same options give the same files byte for byte.
    """
    from hybrid.synthetic import SyntheticSpec, generate_movielens

    try:
        spec = SyntheticSpec.for_ratings(
            n_ratings, seed=seed, n_users=n_users, n_movies=n_movies, tags_per_rating=tags_per_rating
        )
        generate_movielens(spec, out_dir, show_progress=progress)
    except (ValueError, OSError) as error:
        raise click.ClickException(str(error)) from None

    click.echo(
        f"wrote {spec.n_ratings} ratings by {spec.n_users} users of {spec.n_movies} movies "
        f"and {spec.n_tags} tags to {out_dir}"
    )
