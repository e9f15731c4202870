"""Measured constants of the ``tflm`` cost convention (generated, do not edit).

Written by ``benchmarks/fit_tflm.py fit`` on 2026-12-01 from 2,156 exported models
(``benchmarks/data/tflm_measurements.jsonl.gz``), measured with tflite-micro
0.dev20261023182759 on an x86-64 host.
Each table is an upper envelope (model >= every measurement), and the fixed parts
include the worst excess seen when fitting on half of the files and testing on the
other half.
"""
# flatbuffer float32: 1078 files, estimate / file median 1.0001, max 1.0059
# planner replay == TFLM head on 1004 of 1004 float32 models
# arena float32: 1004 TFLM runs (Prepare-time peak binding in 75),
#   (plan + model) / smallest arena median 1.0000, max 1.0077, min 1.0000
# held-out margin float32: +0 B flatbuffer, +0 B arena
# flatbuffer int8: 1078 files, estimate / file median 1.0004, max 1.0207
# planner replay == TFLM head on 1003 of 1003 int8 models
# arena int8: 1003 TFLM runs (Prepare-time peak binding in 281),
#   (plan + model) / smallest arena median 1.0086, max 1.1731, min 1.0005
# held-out margin int8: +0 B flatbuffer, +208 B arena

#: flatbuffer bytes beyond the 16-byte aligned constant data, per feature
FLATBUFFER = {
    "float32": {
        "const_tensors": 66,
        "fixed": 312,
        "op:ADD": 104,
        "op:AVERAGE_POOL_2D": 231,
        "op:CONV_2D": 134,
        "op:DEPTHWISE_CONV_2D": 130,
        "op:FULLY_CONNECTED": 96,
        "op:GELU": 96
    },
    "int8": {
        "const_tensors": 97,
        "fixed": 383,
        "op:ADD": 134,
        "op:AVERAGE_POOL_2D": 341,
        "op:CONV_2D": 163,
        "op:DEPTHWISE_CONV_2D": 161,
        "op:FULLY_CONNECTED": 118,
        "op:GELU": 126,
        "quant_entries": 12
    }
}

#: persistent TFLM arena bytes (beyond the planned activations), per feature
PERSISTENT = {
    "float32": {
        "act_tensors": 160,
        "const_tensors": 24,
        "conv_channels": 8,
        "fixed": 512,
        "op:AVERAGE_POOL_2D": 12,
        "op:CONV_2D": 36,
        "op:DEPTHWISE_CONV_2D": 36,
        "op:FULLY_CONNECTED": 40
    },
    "int8": {
        "act_tensors": 160,
        "const_tensors": 24,
        "conv_channels": 9,
        "fixed": 787,
        "op:AVERAGE_POOL_2D": 18,
        "op:CONV_2D": 36,
        "op:DEPTHWISE_CONV_2D": 36,
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
        "op:AVERAGE_POOL_2D": 1079,
        "op:FULLY_CONNECTED": 132
    }
}
