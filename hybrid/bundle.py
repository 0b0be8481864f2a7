"""Versioned model bundles on disk: arrays as ``.npy``, everything else as JSON.

Layout of a model directory::

    model_dir/
        CURRENT                 name of the published version
        config.json             configuration that ``train`` uses (optional)
        versions/
            20261204T201500.123456Z-3f9a/
                manifest.json   format, version, metadata and the list of arrays
                <name>.npy      one file per array
                <name>.json     one file per JSON document (catalogue, vocabularies)

Nothing is pickled, so loading a bundle runs no code from it: arrays are read
with ``allow_pickle=False`` and can be memory-mapped, which lets the worker
processes of a server share one copy in the page cache. A version is written
under a temporary name and renamed into place, then ``CURRENT`` is replaced
atomically, so a crash at any point leaves the previous version published.
"""

import json
import logging
import os
import secrets
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

FORMAT = "true-recommend-bundle"
FORMAT_VERSION = 1
CURRENT_FILE = "CURRENT"
CONFIG_FILE_NAME = "config.json"
VERSIONS_DIR = "versions"
MANIFEST_FILE = "manifest.json"


class BundleError(RuntimeError):
    """Raised when a model directory or version cannot be read."""


def _fsync_directory(path):
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_json(path, document):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())


def new_version_name(now=None):
    """Return a fresh version name that sorts by creation time, e.g. ``20261204T201500.123456Z-3f9a``.

    The microseconds keep versions written within one second in order,
    which retention and rollback rely on.
    """
    now = now or datetime.now(timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%S.%f')}Z-{secrets.token_hex(2)}"


def write_version(model_dir, arrays, documents, manifest, *, publish=True):
    """Write a new version and, unless ``publish`` is False, make it current.

    Parameters
    ----------
    model_dir : path
    arrays : dict of str to ndarray
        Saved as ``<name>.npy``; names are file names without extension.
    documents : dict of str to JSON-serializable
        Saved as ``<name>.json``.
    manifest : dict
        Metadata stored in ``manifest.json`` beside the format fields.

    Returns
    -------
    str
        The new version's name.
    """
    versions = Path(model_dir) / VERSIONS_DIR
    versions.mkdir(parents=True, exist_ok=True)
    version = new_version_name()
    staging = versions / f".staging-{version}"
    staging.mkdir()

    try:
        listing = {}
        for name, array in arrays.items():
            array = np.ascontiguousarray(array)
            with open(staging / f"{name}.npy", "wb") as handle:
                np.save(handle, array, allow_pickle=False)
                handle.flush()
                os.fsync(handle.fileno())
            listing[name] = {"dtype": array.dtype.str, "shape": list(array.shape)}
        for name, document in documents.items():
            _write_json(staging / f"{name}.json", document)

        full_manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "version": version,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            **manifest,
            "arrays": listing,
            "documents": sorted(documents),
        }
        _write_json(staging / MANIFEST_FILE, full_manifest)
        _fsync_directory(staging)
        staging.rename(versions / version)
        _fsync_directory(versions)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise

    logger.info("wrote model version %s to %s", version, versions / version)
    if publish:
        publish_version(model_dir, version)
    return version


def publish_version(model_dir, version):
    """Make ``version`` the current one by replacing the ``CURRENT`` file atomically."""
    model_dir = Path(model_dir)
    if not (model_dir / VERSIONS_DIR / version / MANIFEST_FILE).is_file():
        raise BundleError(f"cannot publish {version}: no such version in {model_dir / VERSIONS_DIR}")

    temporary = model_dir / f".{CURRENT_FILE}.{secrets.token_hex(4)}"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(version + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, model_dir / CURRENT_FILE)
    _fsync_directory(model_dir)
    logger.info("published model version %s", version)


def current_version(model_dir):
    """Return the name of the published version, or None when nothing is published."""
    try:
        version = (Path(model_dir) / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return version or None


def list_versions(model_dir):
    """Return the names of all complete versions, oldest first."""
    versions = Path(model_dir) / VERSIONS_DIR
    if not versions.is_dir():
        return []
    return sorted(
        entry.name
        for entry in versions.iterdir()
        if not entry.name.startswith(".") and (entry / MANIFEST_FILE).is_file()
    )


def resolve_version_dir(path):
    """Return the directory of the version to load from a model directory or a version directory."""
    path = Path(path)
    if (path / MANIFEST_FILE).is_file():
        return path

    version = current_version(path)
    if version is None:
        raise BundleError(f"no published model in {path}: {CURRENT_FILE} is missing; run `true-recommend train --model-dir {path}`")
    version_dir = path / VERSIONS_DIR / version
    if not (version_dir / MANIFEST_FILE).is_file():
        raise BundleError(f"{path / CURRENT_FILE} names version {version}, but {version_dir} contains no manifest")
    return version_dir


def read_version(path, *, mmap_mode="r"):
    """Read a version's manifest, arrays and JSON documents.

    Parameters
    ----------
    path : path
        A model directory (its current version is read) or a version directory.
    mmap_mode : {"r", "c", None}
        How arrays are opened: read-only or copy-on-write memory maps, or read
        into memory.

    Returns
    -------
    manifest : dict
    arrays : dict of str to ndarray
    documents : dict of str to object
    """
    version_dir = resolve_version_dir(path)
    try:
        manifest = json.loads((version_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise BundleError(f"cannot read {version_dir / MANIFEST_FILE}: {error}") from None
    if manifest.get("format") != FORMAT or manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"{version_dir} is not a {FORMAT} bundle of format version {FORMAT_VERSION} "
            f"(found format {manifest.get('format')!r}, version {manifest.get('format_version')!r})"
        )

    arrays = {}
    for name, expected in manifest["arrays"].items():
        try:
            array = np.load(version_dir / f"{name}.npy", mmap_mode=mmap_mode, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise BundleError(f"cannot read array {name} of {version_dir}: {error}") from None
        if array.dtype.str != expected["dtype"] or list(array.shape) != expected["shape"]:
            raise BundleError(
                f"array {name} of {version_dir} has dtype {array.dtype.str} and shape {list(array.shape)}, "
                f"but the manifest lists {expected['dtype']} and {expected['shape']}"
            )
        arrays[name] = array

    documents = {}
    for name in manifest.get("documents", []):
        try:
            documents[name] = json.loads((version_dir / f"{name}.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise BundleError(f"cannot read {name}.json of {version_dir}: {error}") from None
    return manifest, arrays, documents


def previous_version(model_dir):
    """Return the newest complete version older than the published one, or None."""
    current = current_version(model_dir)
    older = [version for version in list_versions(model_dir) if current is None or version < current]
    return older[-1] if older else None


def rollback(model_dir, to=None):
    """Publish ``to``, or the version before the published one, and return ``(previous, published)``.

    Nothing is deleted, so a rollback can be undone by publishing the newer
    version again.
    """
    current = current_version(model_dir)
    target = to if to is not None else previous_version(model_dir)
    if target is None:
        raise BundleError(
            f"no version to roll back to in {Path(model_dir) / VERSIONS_DIR}: "
            f"{current or 'nothing'} is published and no older version is kept"
        )
    if target not in list_versions(model_dir):
        available = ", ".join(list_versions(model_dir)) or "none"
        raise BundleError(f"no version {target} in {Path(model_dir) / VERSIONS_DIR}; the versions there are: {available}")
    publish_version(model_dir, target)
    logger.info("rolled back from %s to %s", current, target)
    return current, target


def prune_versions(model_dir, keep):
    """Delete all but the ``keep`` newest versions, never the published one; return the names deleted.

    A version is first renamed to a hidden name, so it leaves ``list_versions``
    at once even when deleting its files fails half way. A server that still
    maps a deleted version's arrays keeps reading them, because the files
    live on until they are unmapped.
    """
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ValueError(f"keep must be a positive integer, got {keep!r}")
    versions_dir = Path(model_dir) / VERSIONS_DIR
    current = current_version(model_dir)
    doomed = [version for version in list_versions(model_dir)[:-keep] if version != current]

    for version in doomed:
        hidden = versions_dir / f".deleting-{version}"
        (versions_dir / version).rename(hidden)
        shutil.rmtree(hidden, ignore_errors=True)
        logger.info("deleted old model version %s", version)
    return doomed


def remove_stale_staging(model_dir, older_than=3600.0):
    """Delete the leftovers of interrupted writes: hidden directories older than ``older_than`` seconds.

    A process killed while writing a version leaves its ``.staging-*``
    directory behind; such a directory was never visible as a version.
    """
    versions_dir = Path(model_dir) / VERSIONS_DIR
    if not versions_dir.is_dir():
        return []
    limit = time.time() - older_than
    removed = []
    for entry in versions_dir.iterdir():
        if entry.name.startswith((".staging-", ".deleting-")) and entry.stat().st_mtime < limit:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
            logger.info("removed %s, left by an interrupted write", entry)
    return removed
