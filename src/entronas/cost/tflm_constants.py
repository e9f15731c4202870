"""Measured constants of the ``tflm`` cost convention (generated, do not edit).

Written by ``benchmarks/fit_tflm.py fit`` on 2026-12-01 from 1,164 exported models
(``benchmarks/data/tflm_measurements.jsonl``), measured with tflite-micro 0.dev20261023182759 on an
x86-64 host (2 cores). Each table is an upper envelope: the model is >= every measurement.

"""

# flatbuffer float32: 582 files, estimate / file median 1.0002, max 1.0085
# planner replay == TFLM head on 530 of 530 float32 models
# persistent float32: 530 TFLM runs, (plan + model) / smallest arena median 1.0000, max 1.1375
# flatbuffer int8: 582 files, estimate / file median 1.0004, max 1.0207
# planner replay == TFLM head on 531 of 531 int8 models
# persistent int8: 531 TFLM runs, (plan + model) / smallest arena median 1.0101, max 1.2341

#: flatbuffer bytes beyond the 16-byte aligned constant data, per feature
FLATBUFFER = {
    "float32": {
        "const_tensors": 48,
        "dims": 19,
        "fixed": 275,
        "op:ADD": 29,
        "op:AVERAGE_POOL_2D": 120,
        "op:FULLY_CONNECTED": 40,
        "op:GELU": 20
    },
    "int8": {
        "const_tensors": 97,
        "fixed": 383,
        "op:ADD": 134,
        "op:AVERAGE_POOL_2D": 504,
        "op:DEPTHWISE_CONV_2D": 324,
        "op:FULLY_CONNECTED": 118,
        "op:GELU": 126,
        "quant_entries": 12
    }
}

#: persistent TFLM arena bytes (beyond the planned activations), per feature
PERSISTENT = {
    "float32": {
        "act_tensors": 66,
        "const_tensors": 64,
        "conv_channels": 8,
        "fixed": 710,
        "op:ADD": 94,
        "op:DEPTHWISE_CONV_2D": 100,
        "op:FULLY_CONNECTED": 106
    },
    "int8": {
        "const_tensors": 64,
        "conv_channels": 8,
        "fixed": 846,
        "op:ADD": 160,
        "op:AVERAGE_POOL_2D": 361,
        "op:DEPTHWISE_CONV_2D": 241,
        "op:FULLY_CONNECTED": 225
    }
}
