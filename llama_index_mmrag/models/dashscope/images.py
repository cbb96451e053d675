"""Images for DashScope's API: local files, ``file://`` URLs, bytes and image blocks as inline base64 data URLs;
remote URLs passed through."""

from __future__ import annotations

import base64
import mimetypes
from io import IOBase
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import filetype
from llama_index.core.base.llms.generic_utils import image_node_to_image_block
from llama_index.core.base.llms.types import ImageBlock
from llama_index.core.schema import ImageNode, ImageType


_REMOTE_IMAGE_SCHEMES = frozenset({"http", "https", "oss"})


def _data_url(raw: bytes, declared_mime: str | None, source: str) -> str:
    """A ``data:<mime>;base64,...`` URL for image bytes.

    Args:
        raw: Image bytes.
        declared_mime: Mimetype the caller declared, used when the bytes are not recognised.
        source: Where the bytes came from, for error messages.

    Returns:
        The data URL.

    Raises:
        ValueError: The bytes are empty or not a recognisable image.
    """
    if not raw:
        raise ValueError(f"Image {source} is empty: pass a PNG, JPEG, WebP or BMP image.")
    kind = filetype.guess(raw)
    mime = kind.mime if kind is not None and kind.mime.startswith("image/") else declared_mime
    if not mime and source:
        mime = mimetypes.guess_type(source)[0]
    if not mime or not mime.startswith("image/"):
        raise ValueError(
            f"Cannot tell the image type of {source}: pass a PNG, JPEG, WebP or BMP image, "
            "or set image_mimetype on the ImageBlock."
        )
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


def _file_url_to_path(url: str) -> Path:
    parsed = urlparse(url)
    if parsed.netloc not in ("", "localhost"):
        raise ValueError(f"Cannot read {url}: only local file:// URLs are supported.")
    return Path(url2pathname(unquote(parsed.path)))


def _read_image_file(path: Path) -> bytes:
    try:
        return path.expanduser().read_bytes()
    except OSError as exc:
        raise ValueError(f"Cannot read image file {path}: {exc.strerror or exc}. Check the path.") from exc


def _image_string_to_dashscope(value: str, declared_mime: str | None = None) -> str:
    """A URL the API accepts for an image given as a URL or a local path string."""
    scheme = urlparse(value).scheme.lower()
    if scheme in _REMOTE_IMAGE_SCHEMES or scheme == "data":
        return value
    path = _file_url_to_path(value) if scheme == "file" else Path(value)
    return _data_url(_read_image_file(path), declared_mime, str(path))


def image_block_to_dashscope(block: ImageBlock) -> str:
    """The ``image`` value DashScope gets for an ``ImageBlock``.

    Inline bytes and local paths become base64 data URLs; http(s)/oss/data URLs pass through;
    ``file://`` URLs are read and inlined.

    Args:
        block: The image block.

    Returns:
        A URL string for the ``image`` content item.
    """
    if block.image is not None:
        raw = block.resolve_image(as_base64=False).read()
        return _data_url(raw, block.image_mimetype, "the inline image bytes")
    if block.path is not None:
        return _data_url(_read_image_file(Path(block.path)), block.image_mimetype, str(block.path))
    if block.url is not None:
        return _image_string_to_dashscope(str(block.url), block.image_mimetype)
    raise ValueError("ImageBlock has no image, path or url: give it one of them.")


def image_input_to_dashscope(image: ImageType | ImageBlock | Path) -> str:
    """The ``image`` value DashScope gets for a LlamaIndex image input (path, URL, bytes buffer).

    Args:
        image: A path or URL string, a ``Path``, a binary buffer, or an ``ImageBlock``.

    Returns:
        A URL string for the ``image`` content item.
    """
    if isinstance(image, ImageBlock):
        return image_block_to_dashscope(image)
    if isinstance(image, IOBase):
        image.seek(0)
        return _data_url(image.read(), None, "the image buffer")
    if isinstance(image, (str, Path)):
        return _image_string_to_dashscope(str(image))
    raise TypeError(f"Unsupported image input {type(image).__name__}: pass a path, URL, bytes buffer or ImageBlock.")


def image_document_to_block(item: Any) -> ImageBlock:
    """An ``ImageBlock`` for an ``ImageBlock``, ``ImageNode`` or ``ImageDocument``.

    Args:
        item: The image document.

    Returns:
        The equivalent block.
    """
    if isinstance(item, ImageBlock):
        return item
    if isinstance(item, ImageNode):
        return image_node_to_image_block(item)
    resource = getattr(item, "image_resource", None)
    if resource is not None:
        return ImageBlock(
            image=resource.data, path=resource.path, url=resource.url, image_mimetype=resource.mimetype
        )
    raise TypeError(
        f"Unsupported image document {type(item).__name__}: pass ImageBlock, ImageNode or ImageDocument."
    )
