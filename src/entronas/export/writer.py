"""Direct TFLite flatbuffer writer: our layer description + folded weights -> ``.tflite``.

Why direct: the only dependency is the schema tooling that ``tflite-micro`` ships (~4 MB), it runs
in milliseconds, and the graph is exactly the one the resource model counts (no converter adds
PAD or reorders layers; deploy.md section 2 and finding 4). Each :class:`Op` lowers to:

* ``conv2d``: [PAD if the padding is neither TF-'same' nor 'valid'] -> CONV_2D or
  DEPTHWISE_CONV_2D (``groups == in_channels``) with ReLU fused -> [GELU] -> [ADD residual];
* ``linear``: FULLY_CONNECTED (a 4-D input is flattened by the op itself; the weight columns
  are permuted from torch's CHW order to TFLite's HWC order) -> [GELU] -> [ADD];
* ``global_avg_pool``: AVERAGE_POOL_2D over the whole map (int8: same quantisation in and out).

Layout: TFLite is channels-last, so the model input is ``(1, H, W, C)`` (or ``(1, N)``).
Every constant buffer is 16-byte aligned, as TFLM on a Cortex-M expects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .._core.errors import InvalidParameterError
from .._core.imports import require
from ..space.layers import Op, same_padding
from .quantise import activation_qparams, int32_bias, symmetric_weights
from .reference import OpWeights

#: builtin op name -> MicroMutableOpResolver method
RESOLVER_METHODS = {
    "CONV_2D": "AddConv2D", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "FULLY_CONNECTED": "AddFullyConnected", "AVERAGE_POOL_2D": "AddAveragePool2D",
    "ADD": "AddAdd", "PAD": "AddPad", "GELU": "AddGelu", "RESHAPE": "AddReshape",
}
#: (float32, int8) op versions, as TF's converter would write them (LiteRT checks these)
_VERSIONS = {"CONV_2D": (1, 3), "DEPTHWISE_CONV_2D": (1, 3), "FULLY_CONNECTED": (1, 4),
             "AVERAGE_POOL_2D": (1, 2), "ADD": (1, 2), "PAD": (1, 2), "GELU": (1, 2),
             "RESHAPE": (1, 1)}
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


def _nhwc(shape: Sequence[int]) -> tuple[int, ...]:
    return (1, *shape[1:], shape[0]) if len(shape) == 3 else (1, *shape)


def _conv_padding(op: Op) -> str:
    """'SAME' or 'VALID' when TFLite's built-in padding reproduces ``op.padding``, else 'PAD'."""
    _, h, w = op.in_shape
    if op.padding == (0, 0, 0, 0):
        return "VALID"
    oh, top, bottom = same_padding(h, op.kernel[0], op.stride[0])
    ow, left, right = same_padding(w, op.kernel[1], op.stride[1])
    if (left, right, top, bottom) == op.padding and (oh, ow) == op.out_shape[1:]:
        return "SAME"
    return "PAD"


class _Writer:
    def __init__(self, dtype: str, ranges: dict[str, tuple[float, float]] | None,
                 per_channel_fc: bool) -> None:
        self.b = _Builder(dtype)
        self.fb = self.b.fb
        self.dtype = dtype
        self.ranges = ranges or {}
        self.per_channel_fc = per_channel_fc

    def qp(self, stage: str) -> tuple[float, int] | None:
        if self.dtype == "float32":
            return None
        if stage not in self.ranges:
            raise InvalidParameterError(f"no calibration range for {stage!r}; run calibrate()")
        return activation_qparams(*self.ranges[stage])

    def act_code(self, act: str | None) -> tuple[int, bool]:
        """(fused activation enum, needs a separate GELU op)."""
        f = self.fb.ActivationFunctionType
        return (f.RELU, False) if act == "relu" else (f.NONE, act == "gelu")

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

    def lower(self, k: int, op: Op, w: np.ndarray | None, b: np.ndarray | None,
              x: int) -> int:
        fb, name = self.fb, f"op{k}"
        if op.kind == "global_avg_pool":
            c, h, wd = op.in_shape
            out = self.b.activation(f"{name}/out", (1, 1, 1, c), self.b.quant.get(x))
            o = fb.Pool2DOptionsT()
            o.padding, o.strideW, o.strideH = fb.Padding.VALID, 1, 1
            o.filterWidth, o.filterHeight = wd, h
            o.fusedActivationFunction = fb.ActivationFunctionType.NONE
            self.b.op("AVERAGE_POOL_2D", [x], [out], "Pool2DOptions", o)
            return out
        fused, gelu = self.act_code(op.activation)
        pre_stage = f"{name}/pre" if gelu else f"{name}/act"
        out_shape = _nhwc(op.out_shape)
        src = x
        if op.kind == "conv2d":
            mode = _conv_padding(op)
            if mode == "PAD":
                left, right, top, bottom = op.padding
                pads = np.array([[0, 0], [top, bottom], [left, right], [0, 0]], np.int32)
                pi = self.b.tensor(f"{name}/paddings", (4, 2), fb.TensorType.INT32, pads)
                c, h, wd = op.in_shape
                src = self.b.activation(f"{name}/pad", (1, h + top + bottom, wd + left + right,
                                                        c), self.b.quant.get(x))
                self.b.op("PAD", [x, pi], [src], "PadOptions", fb.PadOptionsT())
            depthwise = op.groups == op.in_channels and op.groups > 1
            if op.groups != 1 and not depthwise:
                raise InvalidParameterError(
                    f"TFLite has no grouped convolution (groups={op.groups}, "
                    f"{op.in_channels} channels); only groups=1 or depthwise export")
            pad = fb.Padding.VALID if mode != "SAME" else fb.Padding.SAME
            y = self.b.activation(pre_stage, out_shape, self.qp(pre_stage))
            if depthwise:
                wt = np.transpose(w, (1, 2, 3, 0))  # (C*m, 1, kh, kw) -> (1, kh, kw, C*m)
                wi, bi = self.weights(name, wt, b, 3, src)
                o = fb.DepthwiseConv2DOptionsT()
                o.depthMultiplier = op.out_channels // op.in_channels
                code, otype = "DEPTHWISE_CONV_2D", "DepthwiseConv2DOptions"
            else:
                wt = np.transpose(w, (0, 2, 3, 1))  # (O, I, kh, kw) -> (O, kh, kw, I)
                wi, bi = self.weights(name, wt, b, 0, src)
                o = fb.Conv2DOptionsT()
                code, otype = "CONV_2D", "Conv2DOptions"
            o.padding, o.strideH, o.strideW = pad, op.stride[0], op.stride[1]
            o.dilationHFactor = o.dilationWFactor = 1
            o.fusedActivationFunction = fused
            self.b.op(code, [src, wi, bi], [y], otype, o)
        else:  # linear
            in_shape = self.b.tensors[x].shape
            wt = w
            if len(in_shape) == 4:  # torch flattens CHW, TFLite HWC
                _, h, wd, c = in_shape
                wt = w.reshape(w.shape[0], c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0],
                                                                                    -1)
            wi, bi = self.weights(name, wt, b, 0 if self.per_channel_fc else None, x)
            y = self.b.activation(pre_stage, out_shape, self.qp(pre_stage))
            o = fb.FullyConnectedOptionsT()
            o.fusedActivationFunction = fused
            o.weightsFormat = fb.FullyConnectedOptionsWeightsFormat.DEFAULT
            o.keepNumDims = False
            self.b.op("FULLY_CONNECTED", [x, wi, bi], [y], "FullyConnectedOptions", o)
        if gelu:
            g = self.b.activation(f"{name}/act", out_shape, self.qp(f"{name}/act"))
            go = fb.GeluOptionsT()
            go.approximate = False
            self.b.op("GELU", [y], [g], "GeluOptions", go)
            y = g
        if op.residual:
            r = self.b.activation(f"{name}/out", out_shape, self.qp(f"{name}/out"))
            ao = fb.AddOptionsT()
            ao.fusedActivationFunction = fb.ActivationFunctionType.NONE
            self.b.op("ADD", [y, x], [r], "AddOptions", ao)
            y = r
        return y


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
    wr = _Writer(dtype, ranges, per_channel_fc)
    x = wr.b.activation("input", _nhwc(tuple(input_shape)), wr.qp("input"))
    first = x
    for k, (op, w, b) in enumerate(weights):
        x = wr.lower(k, op, None if w is None else np.asarray(w, np.float64),
                     None if b is None else np.asarray(b, np.float64), x)
    data = wr.b.finish([first], [x], description)
    return TFLiteModel(
        data=data, dtype=dtype, input_shape=tuple(wr.b.tensors[first].shape),
        output_shape=tuple(wr.b.tensors[x].shape), ops=tuple(wr.b.codes),
        input_quant=wr.b.quant.get(first), output_quant=wr.b.quant.get(x),
        tensor_names=[t.name for t in wr.b.tensors])
