"""Where the lake lives: a local folder, or an S3-compatible bucket (AWS S3, MinIO, a local
test server), chosen by configuration and used through the pathlib API.

`OPINION_LAKE=s3://bucket/prefix` selects object storage; the endpoint and credentials come
from the environment (an Airflow connection can fill it, see `opinion.orchestration`):
`OPINION_S3_ENDPOINT_URL` (or `AWS_ENDPOINT_URL`; unset for AWS itself), `AWS_ACCESS_KEY_ID`,
`AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`. Remote paths are `universal_pathlib` paths over
an fsspec filesystem: `s3fs` when it is installed, else pyarrow's own S3 client behind
fsspec's `ArrowFSWrapper` (the project's constraints pin python-dateutil 4, which s3fs'
aiobotocore does not accept yet). Local lakes stay plain `pathlib.Path`s.

Only `opinion.lake.Lake` uses this module: it asks `is_remote` once, when it is built, and
keeps what differs between the two (atomic replace, fsync, change fingerprint) to itself.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import urlparse

REMOTE_SCHEMES = ("s3", "s3a")


def is_remote(value: object) -> bool:
    """Whether `value` (a path or a string) names object storage."""
    if isinstance(value, PurePath):
        return False
    protocol = getattr(value, "protocol", None)
    if protocol is not None:
        return protocol not in ("", "file", "local")
    return urlparse(str(value)).scheme in REMOTE_SCHEMES


def storage_options() -> dict[str, Any]:
    """fsspec options for S3 from the environment (the keys s3fs and our wrapper share)."""
    opts: dict[str, Any] = {}
    endpoint = os.environ.get("OPINION_S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        opts["endpoint_url"] = endpoint
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        opts["key"] = os.environ["AWS_ACCESS_KEY_ID"]
        opts["secret"] = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
    if region:
        opts["client_kwargs"] = {"region_name": region}
    return opts


def lake_path(value: str | os.PathLike) -> Any:
    """A path for `value`: `pathlib.Path` for local folders, a universal_pathlib path for
    `s3://bucket/prefix` (the bucket must exist)."""
    if not is_remote(value) or not isinstance(value, str | PurePath):
        return value if not isinstance(value, str) else Path(value).expanduser()
    _register_s3()
    from upath import UPath

    return UPath(str(value), **storage_options())


def _register_s3() -> None:
    """Serve `s3://` with pyarrow's S3 client when s3fs is not installed."""
    try:
        import s3fs  # noqa: F401

        return
    except ImportError:
        pass
    import fsspec

    fsspec.register_implementation("s3", _arrow_s3_class(), clobber=True)
    fsspec.register_implementation("s3a", _arrow_s3_class(), clobber=True)


_ARROW_S3: type | None = None


def _arrow_s3_class() -> type:
    global _ARROW_S3
    if _ARROW_S3 is not None:
        return _ARROW_S3
    from fsspec.implementations.arrow import ArrowFSWrapper
    from fsspec.spec import AbstractFileSystem

    class ArrowS3FileSystem(ArrowFSWrapper):
        """fsspec's wrapper around `pyarrow.fs.S3FileSystem`, taking s3fs' option names."""

        protocol = ("s3", "s3a")
        root_marker = ""
        # universal_pathlib calls these on the class, as fsspec's base class defines them
        _parent = classmethod(AbstractFileSystem._parent.__func__)  # type: ignore[attr-defined]
        _strip_protocol = classmethod(AbstractFileSystem._strip_protocol.__func__)  # type: ignore[attr-defined]

        def __init__(
            self,
            endpoint_url: str | None = None,
            key: str | None = None,
            secret: str | None = None,
            client_kwargs: dict | None = None,
            **kwargs: Any,
        ) -> None:
            from pyarrow.fs import S3FileSystem

            opts: dict[str, Any] = {}
            if endpoint_url:
                url = urlparse(endpoint_url)
                opts["endpoint_override"] = url.netloc
                opts["scheme"] = url.scheme or "https"
            region = (client_kwargs or {}).get("region_name") or "us-east-1"
            fs = S3FileSystem(
                access_key=key, secret_key=secret, region=region, allow_bucket_creation=True, **opts
            )
            super().__init__(fs, **kwargs)

    _ARROW_S3 = ArrowS3FileSystem
    return _ARROW_S3
