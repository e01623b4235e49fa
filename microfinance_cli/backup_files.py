"""The files of a backup (`microfinance backup`): one gzip'd BSON file per collection, a
manifest, and SHA256SUMS.

A collection's file holds its documents exactly as the server sent them (concatenated
BSON, the layout of mongodump's ``.bson``), so every BSON type (Decimal128, dates, Int64,
binary) comes back bit for bit; nothing is decoded on the way out. ``manifest.json``
names every database and collection with its options, its indexes (canonical extended
JSON), its document count and the size and SHA-256 of its file, plus how the reads were
made consistent. ``SHA256SUMS`` covers the manifest and every file, in the format
``sha256sum -c`` reads. The manifest is written last: a directory without one is an
interrupted backup. The checksums catch a damaged, truncated or edited file; they are
no signature (whoever can edit the files can recompute them).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import struct
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from bson import json_util
from bson.json_util import CANONICAL_JSON_OPTIONS
from bson.raw_bson import RawBSONDocument

FORMAT = "microfinance-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
_CHUNK = 1 << 20
_GZIP_LEVEL = 6  # gzip.open's default of 9 costs about twice the CPU for a few percent
_INT32 = struct.Struct("<i")


class BackupInvalid(Exception):
    """The backup directory is incomplete, damaged or of an unknown format."""


@dataclass(slots=True)
class CollectionEntry:
    name: str
    file: str  # relative to the backup directory
    documents: int
    bytes: int
    sha256: str
    # listCollections' options and listIndexes' specs, as canonical extended JSON.
    options: dict[str, Any] = field(default_factory=dict)
    indexes: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class DatabaseEntry:
    service: str
    name: str
    collections: list[CollectionEntry] = field(default_factory=list)


@dataclass(slots=True)
class Manifest:
    created_at: str
    app_version: str
    mongo_db: str  # the source's MF_MONGO_DB prefix
    server: str
    # "snapshot", "transaction" or "offline", and what that guarantees, in words.
    consistency: str
    consistency_note: str
    read_at: str | None = None  # the cluster time the reads were pinned to, when known
    databases: list[DatabaseEntry] = field(default_factory=list)
    seconds: float = 0.0
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    @property
    def documents(self) -> int:
        return sum(c.documents for d in self.databases for c in d.collections)

    @property
    def bytes(self) -> int:
        return sum(c.bytes for d in self.databases for c in d.collections)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=False) + "\n"

    @staticmethod
    def from_json(text: str) -> Manifest:
        raw = json.loads(text)
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise BackupInvalid(f"{MANIFEST} is not a {FORMAT} manifest")
        if raw.get("format_version") != FORMAT_VERSION:
            raise BackupInvalid(
                f"{MANIFEST} has format version {raw.get('format_version')!r}; this "
                f"version of microfinance reads version {FORMAT_VERSION}"
            )
        try:
            dbs = [
                DatabaseEntry(d["service"], d["name"],
                              [CollectionEntry(**c) for c in d["collections"]])
                for d in raw.pop("databases")
            ]
            return Manifest(**raw, databases=dbs)
        except (KeyError, TypeError) as exc:
            raise BackupInvalid(f"{MANIFEST} is malformed: {exc}") from None


def to_canonical(value: Any) -> Any:
    """A BSON value (options, an index spec) as canonical extended JSON, for the manifest."""
    return json.loads(json_util.dumps(value, json_options=CANONICAL_JSON_OPTIONS))


def from_canonical(value: Any) -> Any:
    return json_util.loads(json.dumps(value))


def collection_file(db: str, collection: str) -> str:
    """A file name per collection; quoted, since a collection name may hold any character."""
    return f"{quote(db, safe='')}/{quote(collection, safe='')}.bson.gz"


class _Hashing:
    """A binary file that hashes and counts what is written through it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


class CollectionWriter:
    """Writes one collection's raw BSON documents to its gzip file, hashing as it goes."""

    def __init__(self, root: Path, relative: str) -> None:
        self.relative = relative
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("wb")
        self._hashing = _Hashing(self._file)
        self._gzip = gzip.GzipFile(
            filename="", mode="wb", fileobj=self._hashing,
            compresslevel=_GZIP_LEVEL, mtime=0,
        )
        self.documents = 0

    def write(self, document: RawBSONDocument) -> None:
        self._gzip.write(document.raw)
        self.documents += 1

    def close(self) -> tuple[int, str]:
        """Flushes to disk; returns the file's size and SHA-256."""
        self._gzip.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        return self._hashing.size, self._hashing.digest.hexdigest()


def write_manifest(root: Path, manifest: Manifest) -> None:
    """The manifest, then SHA256SUMS, each written whole and renamed into place."""
    text = manifest.to_json()
    _write_atomic(root / MANIFEST, text)
    lines = [f"{hashlib.sha256(text.encode()).hexdigest()}  {MANIFEST}"]
    lines += [
        f"{c.sha256}  {c.file}" for d in manifest.databases for c in d.collections
    ]
    _write_atomic(root / SUMS, "\n".join(lines) + "\n")


def _write_atomic(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)


# ---- reading and verifying ------------------------------------------------------------------


def _inside(root: Path, relative: str) -> Path:
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise BackupInvalid(f"{MANIFEST} names a file outside the backup: {relative}")
    return path


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sums(root: Path) -> dict[str, str]:
    path = root / SUMS
    if not path.is_file():
        raise BackupInvalid(f"{SUMS} is missing")
    sums: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise BackupInvalid(f"{SUMS} is malformed: {line[:80]!r}")
        sums[name] = digest
    return sums


def load_manifest(root: Path) -> Manifest:
    """The manifest, once its own checksum in SHA256SUMS matches."""
    path = root / MANIFEST
    if not path.is_file():
        raise BackupInvalid(
            f"{root} has no {MANIFEST}: not a backup, or one that did not finish"
        )
    expected = _sums(root).get(MANIFEST)
    if expected is None:
        raise BackupInvalid(f"{SUMS} does not list {MANIFEST}")
    if _sha256_of(path) != expected:
        raise BackupInvalid(f"{MANIFEST}: checksum mismatch (damaged or edited)")
    return Manifest.from_json(path.read_text(encoding="utf-8"))


def verify(root: Path, on_file: Any = None) -> Manifest:
    """Checks the manifest and every file it names: size, SHA-256 (against the manifest
    and SHA256SUMS alike), and that the file decompresses into exactly the documents the
    manifest counts. Raises ``BackupInvalid`` naming the first file that fails."""
    manifest = load_manifest(root)
    sums = _sums(root)
    for db in manifest.databases:
        for coll in db.collections:
            _verify_file(root, coll, sums)
            if on_file is not None:
                on_file(coll)
    return manifest


def _verify_file(root: Path, coll: CollectionEntry, sums: dict[str, str]) -> None:
    path = _inside(root, coll.file)
    if not path.is_file():
        raise BackupInvalid(f"{coll.file}: missing")
    size = path.stat().st_size
    if size != coll.bytes:
        raise BackupInvalid(
            f"{coll.file}: {size} bytes, the manifest says {coll.bytes} (truncated or altered)"
        )
    digest = _sha256_of(path)
    if digest != coll.sha256 or sums.get(coll.file) != coll.sha256:
        raise BackupInvalid(f"{coll.file}: checksum mismatch (damaged or edited)")
    try:
        count = sum(1 for _ in _documents(path))
    except (OSError, EOFError, ValueError) as exc:
        raise BackupInvalid(f"{coll.file}: unreadable ({exc})") from None
    if count != coll.documents:
        raise BackupInvalid(
            f"{coll.file}: holds {count} documents, the manifest says {coll.documents}"
        )


def _documents(path: Path) -> Iterator[bytes]:
    """Each BSON document of a gzip'd file, as bytes; ValueError on a broken frame."""
    with gzip.open(path, "rb") as f:
        while True:
            head = f.read(4)
            if not head:
                return
            if len(head) < 4:
                raise ValueError("a document is cut short")
            (length,) = _INT32.unpack(head)
            if length < 5:
                raise ValueError(f"a document claims {length} bytes")
            body = f.read(length - 4)
            if len(body) != length - 4 or body[-1:] != b"\x00":
                raise ValueError("a document is cut short")
            yield head + body


def read_documents(root: Path, coll: CollectionEntry) -> Iterator[RawBSONDocument]:
    for data in _documents(_inside(root, coll.file)):
        yield RawBSONDocument(data)
