"""Measured constants of the ``tflm`` cost convention (generated, do not edit).

Written by ``benchmarks/fit_tflm.py fit`` on 2026-12-01 from 3,025 exported models
(``benchmarks/data/tflm_measurements.jsonl.gz``), measured with tflite-micro
0.dev20261023182759 on an x86-64 host.
Each table is an upper envelope (model >= every measurement), and the fixed parts
include the worst excess seen when fitting on half of the files and testing on the
other half.
"""
# flatbuffer float32: 1514 files, estimate / file median 1.0001, max 1.0121
# planner replay == TFLM head on 1440 of 1440 float32 models
# arena float32: 1440 TFLM runs (Prepare-time peak binding in 80),
#   (plan + model) / smallest arena median 1.0001, max 1.0287, min 1.0000
# held-out margin float32: +0 B flatbuffer, +0 B arena
# flatbuffer int8: 1511 files, estimate / file median 1.0006, max 1.0361
# planner replay == TFLM head on 1436 of 1436 int8 models
# arena int8: 1436 TFLM runs (Prepare-time peak binding in 344),
#   (plan + model) / smallest arena median 1.0003, max 1.2312, min 1.0000
# held-out margin int8: +0 B flatbuffer, +288 B arena

#: flatbuffer bytes beyond the 16-byte aligned constant data, per feature
FLATBUFFER = {
    "float32": {
        "const_tensors": 66,
        "fixed": 312,
        "op:ADD": 104,
        "op:AVERAGE_POOL_2D": 224,
        "op:CONV_2D": 134,
        "op:DEPTHWISE_CONV_2D": 130,
        "op:FULLY_CONNECTED": 96,
        "op:GELU": 98
    },
    "int8": {
        "const_tensors": 74,
        "dims": 23,
        "fixed": 337,
        "op:ADD": 42,
        "op:AVERAGE_POOL_2D": 203,
        "op:CONV_2D": 3,
        "op:FULLY_CONNECTED": 49,
        "op:GELU": 34,
        "quant_entries": 12
    }
}

#: persistent TFLM arena bytes (beyond the planned activations), per feature
PERSISTENT = {
    "float32": {
        "act_tensors": 161,
        "const_tensors": 24,
        "conv_channels": 8,
        "fixed": 512,
        "op:AVERAGE_POOL_2D": 18,
        "op:CONV_2D": 36,
        "op:DEPTHWISE_CONV_2D": 36,
        "op:FULLY_CONNECTED": 40
    },
    "int8": {
        "const_tensors": 24,
        "conv_channels": 8,
        "fixed": 1026,
        "op:ADD": 160,
        "op:AVERAGE_POOL_2D": 178,
        "op:CONV_2D": 197,
        "op:DEPTHWISE_CONV_2D": 197,
        "op:FULLY_CONNECTED": 200
    }
}

#: Prepare-time arena bytes besides the persistent part (it binds instead of the
#: planned activations when larger), per structural feature
PREPARE = {
    "float32": {
        "act_tensors": 73,
        "const_tensors": 30,
        "fixed": 63,
        "op:AVERAGE_POOL_2D": 96
    },
    "int8": {
        "act_tensors": 94,
        "const_tensors": 5,
        "op:AVERAGE_POOL_2D": 768,
        "op:FULLY_CONNECTED": 30
    }
}
