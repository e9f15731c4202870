"""Measured constants of the ``tflm`` cost convention (generated, do not edit).

Written by ``benchmarks/fit_tflm.py fit`` on 2026-12-01 from 1,650 exported models
(``benchmarks/data/tflm_measurements.jsonl.gz``), measured with tflite-micro
0.dev20261023182759 on an x86-64 host.
Each table is an upper envelope (model >= every measurement), and the fixed parts
include the worst excess seen when fitting on half of the files and testing on the
other half.
"""
# flatbuffer float32: 822 files, estimate / file median 1.0002, max 1.0086
# planner replay == TFLM head on 748 of 748 float32 models
# arena float32: 748 TFLM runs (Prepare-time peak binding in 75),
#   (plan + model) / smallest arena median 1.0000, max 1.0077, min 1.0000
# held-out margin float32: +0 B flatbuffer, +0 B arena
# flatbuffer int8: 828 files, estimate / file median 1.0004, max 1.0207
# planner replay == TFLM head on 753 of 753 int8 models
# arena int8: 753 TFLM runs (Prepare-time peak binding in 281),
#   (plan + model) / smallest arena median 1.0143, max 1.1731, min 1.0005
# held-out margin int8: +0 B flatbuffer, +224 B arena

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
        "op:AVERAGE_POOL_2D": 180,
        "op:CONV_2D": 324,
        "op:FULLY_CONNECTED": 118,
        "op:GELU": 126,
        "quant_entries": 12
    }
}

#: persistent TFLM arena bytes (beyond the planned activations), per feature
PERSISTENT = {
    "float32": {
        "const_tensors": 24,
        "conv_channels": 8,
        "fixed": 672,
        "op:ADD": 160,
        "op:AVERAGE_POOL_2D": 368,
        "op:DEPTHWISE_CONV_2D": 392,
        "op:FULLY_CONNECTED": 200
    },
    "int8": {
        "act_tensors": 160,
        "const_tensors": 24,
        "conv_channels": 9,
        "fixed": 803,
        "op:CONV_2D": 54,
        "op:DEPTHWISE_CONV_2D": 19,
        "op:FULLY_CONNECTED": 41
    }
}

#: Prepare-time arena bytes besides the persistent part (it binds instead of the
#: planned activations when larger), per structural feature
PREPARE = {
    "float32": {
        "const_tensors": 30,
        "fixed": 136,
        "op:FULLY_CONNECTED": 74
    },
    "int8": {
        "fixed": 87,
        "op:AVERAGE_POOL_2D": 1078,
        "op:FULLY_CONNECTED": 132
    }
}
