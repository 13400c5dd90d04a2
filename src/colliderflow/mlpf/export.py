"""ONNX export of :class:`MLPF` with physical outputs, and an ONNX Runtime wrapper.

The exported graph takes ``X`` (B, N, F) float32 (B and N dynamic, padding rows type 0) and
returns the ``MLPF.decode`` quantities ``p_binary, pid_prob, p_pileup, pt, eta, phi, energy``,
so consumers get physics directly. ``metadata_props`` holds the ``MLPFConfig`` JSON, the feature
names and the output names.

Attention. PyTorch 2.13's default (dynamo) exporter needs ``onnxscript``, which the ``ml`` extra
does not install, so the export goes through the TorchScript exporter, whose highest opset is 20.
Two lowerings of ``F.scaled_dot_product_attention`` are offered (``attention=``):

* ``"mha"`` (default): one fused ``com.microsoft::MultiHeadAttention`` node per layer, the
  (B, 1, 1, N) boolean key mask passed as its (B, N) ``key_padding_mask``. Checked against PyTorch
  in onnxruntime 1.31 CPU (tests/mlpf/test_export.py). ONNX Runtime runs it as one kernel per
  layer (with a key mask its CPU kernel takes the GEMM-softmax-GEMM path, not its flash path): the
  attention is about 4x faster than the portable graph at N = 5000, the whole default model 2x.
* ``"portable"``: the exporter's own MatMul/Softmax graph, default-domain operators only: runs in
  any ONNX runtime and in ONNX's reference evaluator (``export-onnx --attention portable``).

Models with window attention (``MLPFConfig.attention = "window"``) do not use SDPA: their graph is
standard operators only whatever ``attention`` says (TopK for the eta-phi sort, Gather, MatMul,
Softmax), runs in ONNX's reference evaluator, and its metadata says ``window``.

Events with zero elements (N = 0) give empty outputs in every lowering: the MultiHeadAttention
reshapes spell out every dimension, since ONNX's Reshape cannot infer a ``-1`` axis of a tensor with
zero elements.

Tried and not used: the ONNX ``Attention`` op (opset 23) cannot be produced by the TorchScript
exporter, and hand-built models show that onnxruntime 1.31 CPU rejects a (B, 1, 1, N) mask for it
(it requires the query axis of the mask to equal N, i.e. an N x N mask per event) and is slower
than MultiHeadAttention even then. MultiHeadAttention's ``attention_bias`` input is refused by
onnxruntime 1.31 CPU with a broadcast query axis too, hence ``key_padding_mask``.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from colliderflow.mlpf.model import MLPF, MLPFConfig
from colliderflow.schema.elements import ELEMENT_FEATURES
from colliderflow.utils.atomic import atomic_path

__all__ = ["OUTPUT_NAMES", "META_CONFIG", "META_FEATURES", "META_OUTPUTS", "META_ATTENTION", "DEFAULT_PROVIDERS",
           "ATTENTION_MODES", "export_onnx", "agreement_with_torch", "onnx_file", "read_metadata", "OnnxMLPF"]

#: the ONNX graph outputs, each (B, N) except ``pid_prob`` (B, N, C)
OUTPUT_NAMES = ("p_binary", "pid_prob", "p_pileup", "pt", "eta", "phi", "energy")
META_CONFIG = "colliderflow.mlpf.config"
META_FEATURES = "colliderflow.mlpf.features"
META_OUTPUTS = "colliderflow.mlpf.outputs"
META_ATTENTION = "colliderflow.mlpf.attention"

#: the lowerings of dense attention (module docstring)
ATTENTION_MODES = ("mha", "portable")
_MS_DOMAIN = "com.microsoft"
_SDPA = "aten::scaled_dot_product_attention"
DEFAULT_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


class _Decoded(nn.Module):
    """MLPF followed by its decode step, returning a tuple in ``OUTPUT_NAMES`` order."""

    def __init__(self, model: MLPF) -> None:
        super().__init__()
        self.model = model

    def forward(self, X: Tensor) -> tuple[Tensor, ...]:
        decoded = self.model.decode(self.model(X), X)
        return tuple(decoded[name] for name in OUTPUT_NAMES)


def _mha_symbolic(g, query, key, value, attn_mask=None, dropout_p=None, is_causal=None, scale=None,
                  enable_gqa=None, *, num_heads: int, head_dim: int):
    """SDPA (B, H, N, hd) with a (B, 1, 1, N) bool key mask -> com.microsoft::MultiHeadAttention.

    The tracer does not know H and hd under dynamic axes, hence ``num_heads`` and ``head_dim`` from the
    model config. No reshape uses -1 (with N = 0 the inferred axis would be 0/0, which Reshape refuses)
    nor 0 (which the exporter's shape inference rejects next to a zero-sized axis): the shapes are built
    from Shape(t)[:2].
    """
    if scale is not None and not scale.node().mustBeNone():
        raise NotImplementedError("MultiHeadAttention export: an explicit SDPA scale is not supported")

    def shape(*dims: int):
        return g.op("Constant", value_t=torch.tensor(dims, dtype=torch.int64))

    def batch_elements_then(t, *dims: int):  # the shape (B, N, *dims) of a tensor t (B, N, ...)
        return g.op("Concat", g.op("Shape", t, start_i=0, end_i=2), shape(*dims), axis_i=0)

    def merge_heads(t):  # (B, H, N, hd) -> (B, N, H*hd)
        t = g.op("Transpose", t, perm_i=[0, 2, 1, 3])
        return g.op("Reshape", t, batch_elements_then(t, num_heads * head_dim))

    inputs = [merge_heads(query), merge_heads(key), merge_heads(value)]
    if attn_mask is not None and not attn_mask.node().mustBeNone():
        # the model's key mask is (B, 1, 1, N): squeezing gives (B, N), 1 = attend
        key_padding = g.op("Cast", g.op("Squeeze", attn_mask, shape(1, 2)), to_i=6)  # int32
        no_bias = g.op("prim::Constant").setType(torch._C.OptionalType.ofTensor())
        inputs += [no_bias, key_padding]
    y = g.op(f"{_MS_DOMAIN}::MultiHeadAttention", *inputs, num_heads_i=num_heads, mask_filter_value_f=-1e9)
    return g.op("Transpose", g.op("Reshape", y, batch_elements_then(y, num_heads, head_dim)),
                perm_i=[0, 2, 1, 3])  # (B, H, N, hd)


@contextlib.contextmanager
def _sdpa_as_mha(opset: int, num_heads: int, head_dim: int) -> Iterator[None]:
    """Export SDPA as MultiHeadAttention for the duration of the block (the registry is global)."""
    torch.onnx.register_custom_op_symbolic(
        _SDPA, functools.partial(_mha_symbolic, num_heads=num_heads, head_dim=head_dim), opset)
    try:
        yield
    finally:
        torch.onnx.unregister_custom_op_symbolic(_SDPA, opset)


def export_onnx(model: MLPF, path: str | os.PathLike, opset: int = 18, attention: str = "mha",
                feature_names: Sequence[str] = ELEMENT_FEATURES, example_elements: int = 16) -> Path:
    """Write ``model`` (in eval mode, with decode) to ``path`` as ONNX, atomically.

    Args:
        model: the network; its training flag is restored afterwards.
        path: the ``.onnx`` file to write.
        opset: default-domain opset, 17..20 (the TorchScript exporter's range with LayerNormalization).
        attention: ``"mha"`` (fused com.microsoft::MultiHeadAttention, onnxruntime only) or
            ``"portable"`` (default-domain ONNX operators only); see the module docstring.
        feature_names: the F input column names, stored in the metadata.
        example_elements: N of the tracing example (B = 1); the exported axes are dynamic anyway.

    Returns:
        the path written.
    """
    import onnx

    if attention not in ATTENTION_MODES:
        raise ValueError(f"export_onnx: attention must be one of {ATTENTION_MODES}, got {attention!r}")
    if not 17 <= opset <= 20:
        raise ValueError(f"export_onnx: opset must be within 17..20, got {opset}")
    config: MLPFConfig = model.config
    if len(feature_names) != config.n_features:
        raise ValueError(f"export_onnx: {len(feature_names)} feature names for a model with "
                         f"n_features={config.n_features}")

    # a fixed, valid example: every element type present, kinematics in range
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(1, example_elements, config.n_features, generator=gen)
    X[..., 0] = (torch.arange(example_elements) % config.n_types + 1).float()
    X[..., 1] = X[..., 1].abs() + 1.0
    X[..., 4] = X[..., 1] * 2.0
    X = X.to(next(model.parameters()).device)

    dynamic = {name: {0: "batch", 1: "elements"} for name in ("X", *OUTPUT_NAMES)}
    buffer = io.BytesIO()
    was_training = model.training
    model.eval()
    try:
        with contextlib.ExitStack() as stack:
            if attention == "mha" and config.attention == "dense":
                stack.enter_context(_sdpa_as_mha(opset, config.num_heads, config.width // config.num_heads))
            stack.enter_context(warnings.catch_warnings())
            # the TorchScript exporter announces its own deprecation; it is the only one usable
            # without onnxscript (module docstring)
            warnings.filterwarnings("ignore", category=DeprecationWarning,
                                    message=r".*(legacy TorchScript-based ONNX export|feature will be removed).*")
            # torch types ``f`` as a path; the TorchScript exporter (dynamo=False) also writes to a file object
            torch.onnx.export(_Decoded(model), (X,), buffer, dynamo=False, opset_version=opset,  # type: ignore[arg-type]
                              input_names=["X"], output_names=list(OUTPUT_NAMES), dynamic_axes=dynamic,
                              custom_opsets={_MS_DOMAIN: 1} if attention == "mha" and config.attention == "dense"
                              else None,
                              do_constant_folding=True)
    finally:
        model.train(was_training)

    proto = onnx.load_from_string(buffer.getvalue())
    proto.producer_name = "colliderflow"
    metadata = {META_CONFIG: json.dumps(config.to_dict(), sort_keys=True),
                META_FEATURES: json.dumps(list(feature_names)),
                META_OUTPUTS: json.dumps(list(OUTPUT_NAMES)),
                META_ATTENTION: attention if config.attention == "dense" else "window"}
    del proto.metadata_props[:]
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(proto.SerializeToString())
    return path


def onnx_file(model_path: str | os.PathLike) -> Path:
    """The ONNX export of a model file: ``model_path`` itself (.onnx) or the .onnx beside a .pt
    (where ``reconstruct --backend onnx``, ``serve`` and ``reconstruct --server --model`` look)."""
    path = str(model_path)
    return Path(path if path.endswith(".onnx") else path.rsplit(".", 1)[0] + ".onnx")


def read_metadata(meta: Mapping[str, str], where: str) -> tuple[MLPFConfig, tuple[str, ...], tuple[str, ...]]:
    """(model config, feature names, output names) from an export's metadata_props (``where``: for errors).

    The same metadata reaches clients of a Triton server (``colliderflow.mlpf.client``).
    """
    missing = [k for k in (META_CONFIG, META_FEATURES, META_OUTPUTS) if k not in meta]
    if missing:
        raise ValueError(f"{where}: not an MLPF export, metadata lacks {missing}")
    return (MLPFConfig.from_dict(json.loads(meta[META_CONFIG])), tuple(json.loads(meta[META_FEATURES])),
            tuple(json.loads(meta[META_OUTPUTS])))


class OnnxMLPF:
    """An exported MLPF run by ONNX Runtime: ``OnnxMLPF(path)(X) -> {output name: array}``.

    Args:
        path: the ``.onnx`` file written by :func:`export_onnx`.
        providers: execution providers in order of preference, filtered by availability
            (default CUDA, then CPU).
        threads: ONNX Runtime intra-op threads (None: its default).

    Attributes:
        config: the ``MLPFConfig`` from the metadata; feature_names: the expected input columns;
        providers: the providers in use.
    """

    def __init__(self, path: str | os.PathLike, providers: Sequence[str] = DEFAULT_PROVIDERS,
                 threads: int | None = None) -> None:
        import onnxruntime as ort

        available = set(ort.get_available_providers())
        self.providers = [p for p in providers if p in available]
        if not self.providers:
            raise RuntimeError(f"{path}: none of the execution providers {list(providers)} is available "
                               f"(available: {sorted(available)})")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=self.providers)
        self.config, self.feature_names, self.output_names = read_metadata(
            self.session.get_modelmeta().custom_metadata_map, str(path))

    def __call__(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """X (B, N, F) features (padding rows zero) -> decoded outputs, each (B, N) or (B, N, C)."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 3 or X.shape[-1] != len(self.feature_names):
            raise ValueError(f"OnnxMLPF: expected X of shape (B, N, {len(self.feature_names)}), got {X.shape}")
        return dict(zip(self.output_names, self.session.run(list(self.output_names), {"X": X})))


def agreement_with_torch(model: MLPF, path: str | os.PathLike, elements: int = 300, seed: int = 0) -> float:
    """How well the export at ``path`` run by ONNX Runtime (CPU) reproduces ``model`` (PyTorch).

    The test batch is (B = 2, N = ``elements``) random elements, the second event padded after
    two thirds, then an empty event (B = 1, N = 0), whose outputs must be empty.

    Returns:
        the largest |onnx - torch| over the real elements in units of the tolerance
        1e-4 |torch| + 1e-5 (<= 1 passes).
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(2, elements, model.config.n_features)).astype(np.float32)
    X[..., 0] = rng.integers(1, model.config.n_types + 1, size=(2, elements))
    X[1, 2 * elements // 3:] = 0.0
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = torch.from_numpy(X).to(next(model.parameters()).device)
            ref = {k: v.float().cpu().numpy() for k, v in model.decode(model(x), x).items()}
    finally:
        model.train(was_training)
    runner = OnnxMLPF(path, providers=["CPUExecutionProvider"])
    got = runner(X)
    empty = runner(np.zeros((1, 0, model.config.n_features), np.float32))
    if any(v.shape[:2] != (1, 0) for v in empty.values()):
        raise ValueError(f"{path}: an event with zero elements gives outputs of shapes "
                         f"{ {k: v.shape for k, v in empty.items()} }, expected (1, 0, ...)")
    real = X[..., 0] != 0
    worst = 0.0
    for k in OUTPUT_NAMES:
        diff = got[k][real] - ref[k][real]
        if k == "phi":  # angles, modulo 2 pi
            diff = np.angle(np.exp(1j * diff))
        worst = max(worst, float(np.max(np.abs(diff) / (1e-4 * np.abs(ref[k][real]) + 1e-5))))
    return worst
