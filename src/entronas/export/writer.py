"""Direct TFLite flatbuffer writer: our layer description + folded weights -> ``.tflite``.

Why direct: the only dependency is the schema tooling that ``tflite-micro`` ships (~4 MB), it runs
in milliseconds, and the graph is exactly the one the resource model counts: the operators come
from :func:`entronas.space.lowering.lower`, the same lowering the RAM and flatbuffer models of
``entronas.cost`` count (no converter adds PAD or reorders layers; deploy.md section 2 and
finding 4). The weight columns of a fully connected layer after a feature map are permuted from
torch's CHW order to TFLite's HWC order; pooling keeps its input's int8 quantisation.

Layout: TFLite is channels-last, so the model input is ``(1, H, W, C)`` (or ``(1, N)``).
Every constant buffer is 16-byte aligned, as TFLM on a Cortex-M expects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .._core.errors import InvalidParameterError
from .._core.imports import require
from ..space.layers import Op
from ..space.lowering import Lowered, RuntimeOp, conv_padding, lower
from .quantise import activation_qparams, int32_bias, symmetric_weights
from .reference import OpWeights

#: builtin op name -> MicroMutableOpResolver method
RESOLVER_METHODS = {
    "CONV_2D": "AddConv2D", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "FULLY_CONNECTED": "AddFullyConnected", "AVERAGE_POOL_2D": "AddAveragePool2D",
    "MAX_POOL_2D": "AddMaxPool2D", "ADD": "AddAdd", "PAD": "AddPad", "GELU": "AddGelu",
    "RESHAPE": "AddReshape",
}
#: (float32, int8) op versions, as TF's converter would write them (LiteRT checks these)
_VERSIONS = {"CONV_2D": (1, 3), "DEPTHWISE_CONV_2D": (1, 3), "FULLY_CONNECTED": (1, 4),
             "AVERAGE_POOL_2D": (1, 2), "MAX_POOL_2D": (1, 2), "ADD": (1, 2), "PAD": (1, 2),
             "GELU": (1, 2), "RESHAPE": (1, 1)}
DTYPES = ("float32", "int8")


def schema() -> Any:
    """The generated TFLite schema module of ``tflite-micro`` (optional extra ``export``)."""
    require("tflite_micro", "export", "writing .tflite files")
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


@dataclass
class TFLiteModel:
    """A written model and what a deployment needs to know about it."""

    data: bytes
    dtype: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    ops: tuple[str, ...]
    input_quant: tuple[float, int] | None = None
    output_quant: tuple[float, int] | None = None
    tensor_names: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.data)

    def to_nhwc(self, x: np.ndarray) -> np.ndarray:
        """A channels-first batch (N, C, H, W) in the model's channels-last input layout."""
        x = np.asarray(x)
        return np.transpose(x, (0, 2, 3, 1)) if x.ndim == 4 else x


class _Builder:
    """Tensors, aligned buffers, opcodes and operators of one subgraph (schema object API)."""

    def __init__(self, dtype: str) -> None:
        self.fb = schema()
        self.dtype = dtype
        self.tensors: list[Any] = []
        self.buffers: list[Any] = [self._buffer(b"")]
        self.codes: dict[str, int] = {}
        self.operators: list[Any] = []
        self.quant: dict[int, tuple[float, int]] = {}

    def _buffer(self, data: bytes) -> Any:
        fb = self.fb

        class AlignedBuffer(fb.BufferT):  # type: ignore[name-defined, misc]
            """BufferT whose bytes start on a 16-byte boundary (schema: force_align 16)."""

            def Pack(self, builder: Any) -> int:  # noqa: N802 - flatbuffers API
                vec = None
                if self.data:
                    n = len(self.data)
                    builder.StartVector(1, n, 16)
                    builder.head -= n
                    builder.Bytes[builder.head:builder.head + n] = self.data
                    builder.vectorNumElems = n
                    vec = builder.EndVector()
                fb.BufferStart(builder)
                if vec is not None:
                    fb.BufferAddData(builder, vec)
                return fb.BufferEnd(builder)

        buf = AlignedBuffer()
        buf.data = data
        return buf

    def tensor(self, name: str, shape: Sequence[int], ttype: int, data: np.ndarray | None = None,
               scales: Sequence[float] | None = None, zero_points: Sequence[int] | None = None,
               axis: int = 0) -> int:
        t = self.fb.TensorT()
        t.name, t.shape, t.type = name, [int(s) for s in shape], ttype
        t.buffer = 0
        if data is not None:
            self.buffers.append(self._buffer(np.ascontiguousarray(data).tobytes()))
            t.buffer = len(self.buffers) - 1
        if scales is not None:
            q = self.fb.QuantizationParametersT()
            q.scale = [float(s) for s in scales]
            q.zeroPoint = [int(z) for z in (zero_points if zero_points is not None
                                            else [0] * len(scales))]
            q.quantizedDimension = axis
            t.quantization = q
        self.tensors.append(t)
        return len(self.tensors) - 1

    def activation(self, name: str, shape: Sequence[int],
                   qparams: tuple[float, int] | None) -> int:
        if self.dtype == "float32":
            return self.tensor(name, shape, self.fb.TensorType.FLOAT32)
        assert qparams is not None
        idx = self.tensor(name, shape, self.fb.TensorType.INT8, scales=[qparams[0]],
                          zero_points=[qparams[1]])
        self.quant[idx] = qparams
        return idx

    def op(self, code: str, inputs: Sequence[int], outputs: Sequence[int],
           options_type: str | None = None, options: Any = None) -> None:
        if code not in self.codes:
            self.codes[code] = len(self.codes)
        o = self.fb.OperatorT()
        o.opcodeIndex = self.codes[code]
        o.inputs, o.outputs = list(inputs), list(outputs)
        if options_type is not None:
            o.builtinOptionsType = getattr(self.fb.BuiltinOptions, options_type)
            o.builtinOptions = options
        self.operators.append(o)

    def finish(self, inputs: list[int], outputs: list[int], description: str) -> bytes:
        fb = self.fb
        sg = fb.SubGraphT()
        sg.tensors, sg.operators, sg.inputs, sg.outputs = (self.tensors, self.operators,
                                                           inputs, outputs)
        sg.name = "main"
        model = fb.ModelT()
        model.version = 3
        model.description = description
        model.subgraphs = [sg]
        model.buffers = self.buffers
        model.operatorCodes = []
        for code in self.codes:  # insertion order == opcode index
            oc = fb.OperatorCodeT()
            oc.builtinCode = getattr(fb.BuiltinOperator, code)
            oc.deprecatedBuiltinCode = min(oc.builtinCode, 127)
            oc.version = _VERSIONS[code][self.dtype == "int8"]
            model.operatorCodes.append(oc)
        import flatbuffers

        size = sum(len(b.data or b"") for b in self.buffers)
        builder = flatbuffers.Builder(size + 65536)
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


class _Writer:
    """Emits a :class:`~entronas.space.lowering.Lowered` graph operator by operator."""

    def __init__(self, dtype: str, ranges: dict[str, tuple[float, float]] | None,
                 per_channel_fc: bool) -> None:
        self.b = _Builder(dtype)
        self.fb = self.b.fb
        self.dtype = dtype
        self.ranges = ranges or {}
        self.per_channel_fc = per_channel_fc
        self.ids: dict[int, int] = {}   # lowered tensor id -> flatbuffer tensor index

    def qp(self, stage: str) -> tuple[float, int] | None:
        if self.dtype == "float32":
            return None
        if stage not in self.ranges:
            raise InvalidParameterError(f"no calibration range for {stage!r}; run calibrate()")
        return activation_qparams(*self.ranges[stage])

    def act(self, graph: Lowered, tid: int) -> int:
        """The flatbuffer tensor of lowered activation ``tid`` (created on first use)."""
        if tid not in self.ids:
            t = graph.tensors[tid]
            q = self.b.quant.get(self.ids[t.quant_of]) if t.quant_of is not None \
                else self.qp(t.stage)
            self.ids[tid] = self.b.activation(t.stage, t.shape, q)
        return self.ids[tid]

    def weights(self, name: str, w: np.ndarray, b: np.ndarray | None, axis: int | None,
                in_idx: int) -> tuple[int, int]:
        """Weight and bias tensors (float32, or int8 + int32 bias)."""
        T = self.fb.TensorType
        if self.dtype == "float32":
            wi = self.b.tensor(f"{name}/weights", w.shape, T.FLOAT32, w.astype(np.float32))
            bi = -1 if b is None else self.b.tensor(f"{name}/bias", b.shape, T.FLOAT32,
                                                    b.astype(np.float32))
            return wi, bi
        q, scales = symmetric_weights(w, axis)
        wi = self.b.tensor(f"{name}/weights", w.shape, T.INT8, q, scales,
                           [0] * len(scales), axis or 0)
        if b is None:
            return wi, -1
        in_scale = self.b.quant[in_idx][0]
        bq = int32_bias(b, in_scale, scales)
        bi = self.b.tensor(f"{name}/bias", b.shape, T.INT32, bq, in_scale * scales,
                           [0] * len(scales), 0)
        return wi, bi

    def emit(self, g: Lowered, rop: RuntimeOp, op: Op, w: np.ndarray | None,
             b: np.ndarray | None) -> None:
        fb, name = self.fb, f"op{rop.source}"
        x = self.act(g, rop.inputs[0])
        if rop.code in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
            out = self.act(g, rop.output)
            o = fb.Pool2DOptionsT()
            o.padding = fb.Padding.VALID
            if op.kind == "global_avg_pool":   # one window over the whole map
                (o.filterHeight, o.filterWidth), (o.strideH, o.strideW) = op.in_shape[1:], (1, 1)
            else:
                (o.filterHeight, o.filterWidth), (o.strideH, o.strideW) = op.kernel, op.stride
            o.fusedActivationFunction = fb.ActivationFunctionType.NONE
            self.b.op(rop.code, [x], [out], "Pool2DOptions", o)
        elif rop.code == "PAD":
            left, right, top, bottom = op.padding
            pads = np.array([[0, 0], [top, bottom], [left, right], [0, 0]], np.int32)
            pi = self.b.tensor(f"{name}/paddings", (4, 2), fb.TensorType.INT32, pads)
            self.b.op("PAD", [x, pi], [self.act(g, rop.output)], "PadOptions", fb.PadOptionsT())
        elif rop.code in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            y = self.act(g, rop.output)
            if rop.code == "DEPTHWISE_CONV_2D":
                wt = np.transpose(w, (1, 2, 3, 0))  # (C*m, 1, kh, kw) -> (1, kh, kw, C*m)
                wi, bi = self.weights(name, wt, b, 3, x)
                o = fb.DepthwiseConv2DOptionsT()
                o.depthMultiplier = op.out_channels // op.in_channels
                otype = "DepthwiseConv2DOptions"
            else:
                wt = np.transpose(w, (0, 2, 3, 1))  # (O, I, kh, kw) -> (O, kh, kw, I)
                wi, bi = self.weights(name, wt, b, 0, x)
                o = fb.Conv2DOptionsT()
                otype = "Conv2DOptions"
            same = conv_padding(op) == "SAME"
            o.padding = fb.Padding.SAME if same else fb.Padding.VALID
            o.strideH, o.strideW = op.stride
            o.dilationHFactor = o.dilationWFactor = 1
            o.fusedActivationFunction = self.fused(op.activation)
            self.b.op(rop.code, [x, wi, bi], [y], otype, o)
        elif rop.code == "FULLY_CONNECTED":
            in_shape = self.b.tensors[x].shape
            wt = w
            if len(in_shape) == 4:  # torch flattens CHW, TFLite HWC
                _, h, wd, c = in_shape
                wt = w.reshape(w.shape[0], c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0],
                                                                                    -1)
            wi, bi = self.weights(name, wt, b, 0 if self.per_channel_fc else None, x)
            y = self.act(g, rop.output)
            o = fb.FullyConnectedOptionsT()
            o.fusedActivationFunction = self.fused(op.activation)
            o.weightsFormat = fb.FullyConnectedOptionsWeightsFormat.DEFAULT
            o.keepNumDims = False
            self.b.op("FULLY_CONNECTED", [x, wi, bi], [y], "FullyConnectedOptions", o)
        elif rop.code == "GELU":
            go = fb.GeluOptionsT()
            go.approximate = False
            self.b.op("GELU", [x], [self.act(g, rop.output)], "GeluOptions", go)
        elif rop.code == "ADD":
            r = self.act(g, rop.output)
            ao = fb.AddOptionsT()
            # an "add" op fuses its activation (ResNet: relu(x + shortcut)); a conv's
            # residual ADD comes after the conv's own activation
            ao.fusedActivationFunction = self.fused(op.activation) if op.kind == "add" \
                else fb.ActivationFunctionType.NONE
            self.b.op("ADD", [x, self.act(g, rop.inputs[1])], [r], "AddOptions", ao)
        else:  # pragma: no cover - OP_CODES is closed
            raise InvalidParameterError(f"the writer cannot emit {rop.code}")

    def fused(self, act: str | None) -> int:
        """The fused activation of a conv/FC (GELU is a separate operator)."""
        f = self.fb.ActivationFunctionType
        return {"relu": f.RELU, "relu6": f.RELU6}.get(act, f.NONE)


def write_tflite(weights: Sequence[OpWeights], input_shape: Sequence[int], *,
                 dtype: str = "float32", ranges: dict[str, tuple[float, float]] | None = None,
                 per_channel_fc: bool = False, description: str = "entronas") -> TFLiteModel:
    """Write the ops (with folded weights in torch layout) as a TFLite flatbuffer.

    Args:
        weights: ``(op, W, b)`` per op, in order (see :mod:`entronas.export.weights`).
        input_shape: the network input, channels-first.
        dtype: ``"float32"`` or ``"int8"`` (fully integer, int8 input and output).
        ranges: int8 only: calibration min/max per stage (:func:`quantise.calibrate`).
        per_channel_fc: int8 only: per-channel instead of per-tensor FC weights.
    """
    if dtype not in DTYPES:
        raise InvalidParameterError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    ops = [op for op, _, _ in weights]
    graph = lower(ops, per_channel_fc=per_channel_fc)
    wr = _Writer(dtype, ranges, per_channel_fc)
    first = wr.act(graph, 0)
    for rop in graph.ops:
        op, w, b = weights[rop.source]
        wr.emit(graph, rop, op, None if w is None else np.asarray(w, np.float64),
                None if b is None else np.asarray(b, np.float64))
    x = wr.ids[graph.output]
    data = wr.b.finish([first], [x], description)
    return TFLiteModel(
        data=data, dtype=dtype, input_shape=tuple(wr.b.tensors[first].shape),
        output_shape=tuple(wr.b.tensors[x].shape), ops=tuple(wr.b.codes),
        input_quant=wr.b.quant.get(first), output_quant=wr.b.quant.get(x),
        tensor_names=[t.name for t in wr.b.tensors])
