"""Write an ONNX model (the protobuf bytes ONNX Runtime loads) without the ``onnx`` package.

ONNX files are protocol buffers (``onnx.proto``, proto2). A model of a fixed graph needs only a few of its
messages (model, graph, node, attribute, tensor, value info), so they are encoded here by hand: field numbers
from ``onnx.proto``, repeated scalars unpacked, tensors as little-endian ``raw_data``. This lets the packaged
MiniLM run on ONNX Runtime (installed for OCR) with no export step, no ``onnx``/``onnxscript`` and no torch.

Example:
    >>> import numpy as np
    >>> graph = Graph()
    >>> graph.node("Add", ["x", "one"], ["y"])
    >>> graph.initializer("one", np.ones(2, dtype=np.float32))
    >>> graph.input("x", FLOAT, [2]); graph.output("y", FLOAT, [2])
    >>> model = graph.model(opsets={"": 17})
    >>> import onnxruntime
    >>> onnxruntime.InferenceSession(model).run(None, {"x": np.zeros(2, np.float32)})[0].tolist()
    [1.0, 1.0]
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

__all__ = ["FLOAT", "INT32", "INT64", "Graph"]

FLOAT = 1
"""``TensorProto.FLOAT``."""
INT32 = 6
"""``TensorProto.INT32``."""
INT64 = 7
"""``TensorProto.INT64``."""

_NUMPY_TYPES = {"float32": FLOAT, "int32": INT32, "int64": INT64}
_IR_VERSION = 8  # the IR of opset 17, which ONNX Runtime 1.14 and later load


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64 as two's complement (ten bytes)
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(field: int, wire: int) -> bytes:
    return _varint(field << 3 | wire)


def _int(field: int, value: int) -> bytes:
    return _key(field, 0) + _varint(value)


def _bytes(field: int, value: bytes | str) -> bytes:
    data = value.encode("utf-8") if isinstance(value, str) else value
    return _key(field, 2) + _varint(len(data)) + data


def _float(field: int, value: float) -> bytes:
    return _key(field, 5) + struct.pack("<f", value)


def _attribute(name: str, value: int | float | str | Sequence[int]) -> bytes:
    """An ``AttributeProto`` (int, float, string or ints; the types a fixed graph needs)."""
    body = _bytes(1, name)
    if isinstance(value, bool) or isinstance(value, int):
        return body + _int(3, int(value)) + _int(20, 2)
    if isinstance(value, float):
        return body + _float(2, value) + _int(20, 1)
    if isinstance(value, str):
        return body + _bytes(4, value) + _int(20, 3)
    return body + b"".join(_int(8, int(v)) for v in value) + _int(20, 7)


def _tensor(name: str, array: Any) -> bytes:
    """A ``TensorProto`` holding ``array`` (float32, int32 or int64) as raw little-endian bytes."""
    import numpy as np

    kind = _NUMPY_TYPES.get(str(array.dtype))
    if kind is None:
        raise TypeError(f"tensor {name!r}: dtype {array.dtype} is not supported (float32, int32, int64)")
    data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return b"".join(_int(1, d) for d in array.shape) + _int(2, kind) + _bytes(8, name) + _bytes(9, data)


def _value_info(name: str, elem_type: int, shape: Sequence[int | str]) -> bytes:
    """A ``ValueInfoProto``: a tensor's name, element type and shape (a string names a dynamic axis)."""
    dims = b"".join(_bytes(1, _bytes(2, d) if isinstance(d, str) else _int(1, d)) for d in shape)
    tensor_type = _int(1, elem_type) + _bytes(2, dims)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


class Graph:
    """An ONNX graph built node by node, serialised by :meth:`model`.

    Example:
        >>> graph = Graph()
        >>> graph.node("Relu", ["x"], ["y"])
        >>> graph.input("x", FLOAT, ["n"]); graph.output("y", FLOAT, ["n"])
        >>> len(graph.model(opsets={"": 17})) > 0
        True
    """

    def __init__(self, name: str = "graph") -> None:
        self.name = name
        self._nodes: list[bytes] = []
        self._initializers: list[bytes] = []
        self._inputs: list[bytes] = []
        self._outputs: list[bytes] = []

    def node(
        self, op_type: str, inputs: Sequence[str], outputs: Sequence[str], domain: str = "", **attributes: Any
    ) -> None:
        """Add a node.

        Args:
            op_type: The operator (``MatMul``, ``LayerNormalization``, ...).
            inputs: Names of its inputs (``""`` for an omitted optional input).
            outputs: Names of its outputs.
            domain: The operator set's domain (``""`` for ONNX's, ``com.microsoft`` for ONNX Runtime's).
            **attributes: Its attributes (int, float, string or a list of ints).
        """
        body = b"".join(_bytes(1, i) for i in inputs) + b"".join(_bytes(2, o) for o in outputs)
        body += _bytes(3, f"{op_type}_{len(self._nodes)}") + _bytes(4, op_type)
        body += b"".join(_bytes(5, _attribute(k, v)) for k, v in attributes.items())
        if domain:
            body += _bytes(7, domain)
        self._nodes.append(body)

    def initializer(self, name: str, array: Any) -> None:
        """Add a constant tensor (a weight).

        Args:
            name: Its name, as nodes refer to it.
            array: A numpy array (float32, int32 or int64).
        """
        self._initializers.append(_tensor(name, array))

    def input(self, name: str, elem_type: int, shape: Sequence[int | str]) -> None:
        """Declare a graph input.

        Args:
            name: Its name.
            elem_type: :data:`FLOAT`, :data:`INT32` or :data:`INT64`.
            shape: Its dimensions; a string names a dynamic one.
        """
        self._inputs.append(_value_info(name, elem_type, shape))

    def output(self, name: str, elem_type: int, shape: Sequence[int | str]) -> None:
        """Declare a graph output (arguments as :meth:`input`)."""
        self._outputs.append(_value_info(name, elem_type, shape))

    def model(self, opsets: dict[str, int], producer: str = "llama-index-mmrag") -> bytes:
        """The ``ModelProto`` bytes, loadable by ``onnxruntime.InferenceSession``.

        Args:
            opsets: Operator set versions by domain (``{"": 17, "com.microsoft": 1}``).
            producer: The producer name recorded in the model.
        """
        graph = b"".join(_bytes(1, n) for n in self._nodes) + _bytes(2, self.name)
        graph += b"".join(_bytes(5, t) for t in self._initializers)
        graph += b"".join(_bytes(11, i) for i in self._inputs) + b"".join(_bytes(12, o) for o in self._outputs)
        imports = b"".join(_bytes(8, _bytes(1, domain) + _int(2, version)) for domain, version in opsets.items())
        return _int(1, _IR_VERSION) + _bytes(2, producer) + _bytes(7, graph) + imports
