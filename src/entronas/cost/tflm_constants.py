"""Measured constants of the ``tflm`` cost convention (generated, do not edit).

Written by ``benchmarks/fit_tflm.py fit`` on 2026-12-02 from 3,277 exported models
(``benchmarks/data/tflm_measurements.jsonl.gz``), measured with tflite-micro
0.dev20261023182759 on an x86-64 host.
Each table is an upper envelope (model >= every measurement), and the fixed parts
include the worst excess seen when fitting on half of the files and testing on the
other half.
"""
# flatbuffer float32: 1637 files, estimate / file median 1.0004, max 1.0300
# planner replay == TFLM head on 1563 of 1563 float32 models
# arena float32: 1563 TFLM runs (Prepare-time peak binding in 80),
#   (plan + model) / smallest arena median 1.0001, max 1.0287, min 1.0000
# held-out margin float32: +0 B flatbuffer, +0 B arena
# flatbuffer int8: 1640 files, estimate / file median 1.0010, max 1.0433
# planner replay == TFLM head on 1565 of 1565 int8 models
# arena int8: 1565 TFLM runs (Prepare-time peak binding in 344),
#   (plan + model) / smallest arena median 1.0005, max 1.2309, min 1.0000
# held-out margin int8: +0 B flatbuffer, +288 B arena

#: flatbuffer bytes beyond the 16-byte aligned constant data, per feature
FLATBUFFER = {
    "float32": {
        "const_tensors": 48,
        "dims": 19,
        "fixed": 275,
        "op:ADD": 29,
        "op:AVERAGE_POOL_2D": 112,
        "op:CONV_2D": 4,
        "op:FULLY_CONNECTED": 41,
        "op:GELU": 23,
        "op:MAX_POOL_2D": 60
    },
    "int8": {
        "const_tensors": 74,
        "dims": 23,
        "fixed": 337,
        "op:ADD": 42,
        "op:AVERAGE_POOL_2D": 169,
        "op:CONV_2D": 7,
        "op:FULLY_CONNECTED": 50,
        "op:GELU": 44,
        "op:MAX_POOL_2D": 83,
        "quant_entries": 12
    }
}

#: persistent TFLM arena bytes (beyond the planned activations), per feature
PERSISTENT = {
    "float32": {
        "act_tensors": 154,
        "const_tensors": 24,
        "conv_channels": 8,
        "fixed": 519,
        "op:ADD": 7,
        "op:AVERAGE_POOL_2D": 23,
        "op:CONV_2D": 43,
        "op:DEPTHWISE_CONV_2D": 43,
        "op:FULLY_CONNECTED": 47
    },
    "int8": {
        "act_tensors": 159,
        "const_tensors": 24,
        "conv_channels": 8,
        "fixed": 870,
        "op:ADD": 2,
        "op:AVERAGE_POOL_2D": 18,
        "op:CONV_2D": 38,
        "op:DEPTHWISE_CONV_2D": 38,
        "op:FULLY_CONNECTED": 42
    }
}

#: Prepare-time arena bytes besides the persistent part (it binds instead of the
#: planned activations when larger), per structural feature
PREPARE = {
    "float32": {
        "act_tensors": 73,
        "const_tensors": 30,
        "fixed": 63,
        "op:AVERAGE_POOL_2D": 98
    },
    "int8": {
        "act_tensors": 92,
        "const_tensors": 6,
        "op:AVERAGE_POOL_2D": 769,
        "op:FULLY_CONNECTED": 29
    }
}
