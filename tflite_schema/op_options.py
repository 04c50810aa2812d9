"""Which options table each builtin operator reads.

The schema does not tie an op to its options: a file may carry any union member
(or none) on any operator. Runtimes ask for the expected member
(``op->builtin_options_as_Conv2DOptions()``) and fall back to defaults when the
file holds something else. :data:`OPTIONS_FOR_OP` gives the expected class so the
interpreter can do the same::

    cls = OPTIONS_FOR_OP.get(code)
    options = op.builtin_options if isinstance(op.builtin_options, cls or ()) else None

Ops absent from the mapping (RELU, LOGISTIC, FLOOR, PRELU...) take no options.
Mirrors the dispatch in tensorflow/lite/core/api/flatbuffer_conversions.cc
(``ParseOpDataTfLite``) plus the StableHLO ops of ``BuiltinOptions2``.
"""

from __future__ import annotations

from typing import Any, Final

from .enums import BuiltinOperator
from .options import OPTIONS_BY_NAME

# Each line: one or more BuiltinOperator names, then the options table they read.
_TABLE: Final = """
ADD AddOptions
AVERAGE_POOL_2D MAX_POOL_2D L2_POOL_2D Pool2DOptions
CONCATENATION ConcatenationOptions
CONV_2D Conv2DOptions
DEPTHWISE_CONV_2D DepthwiseConv2DOptions
DEPTH_TO_SPACE DepthToSpaceOptions
DEQUANTIZE DequantizeOptions
FULLY_CONNECTED FullyConnectedOptions
L2_NORMALIZATION L2NormOptions
LOCAL_RESPONSE_NORMALIZATION LocalResponseNormalizationOptions
LSH_PROJECTION LSHProjectionOptions
LSTM LSTMOptions
MUL MulOptions
RESHAPE ReshapeOptions
RESIZE_BILINEAR ResizeBilinearOptions
RNN RNNOptions
SOFTMAX SoftmaxOptions
SPACE_TO_DEPTH SpaceToDepthOptions
SVDF SVDFOptions
CONCAT_EMBEDDINGS ConcatEmbeddingsOptions
SKIP_GRAM SkipGramOptions
CALL CallOptions
EMBEDDING_LOOKUP_SPARSE EmbeddingLookupSparseOptions
PAD PadOptions
UNIDIRECTIONAL_SEQUENCE_RNN SequenceRNNOptions
GATHER GatherOptions
BATCH_TO_SPACE_ND BatchToSpaceNDOptions
SPACE_TO_BATCH_ND SpaceToBatchNDOptions
TRANSPOSE TransposeOptions
MEAN SUM REDUCE_PROD REDUCE_MAX REDUCE_MIN REDUCE_ANY REDUCE_ALL ReducerOptions
SUB SubOptions
DIV DivOptions
SQUEEZE SqueezeOptions
UNIDIRECTIONAL_SEQUENCE_LSTM UnidirectionalSequenceLSTMOptions
STRIDED_SLICE StridedSliceOptions
BIDIRECTIONAL_SEQUENCE_RNN BidirectionalSequenceRNNOptions
EXP ExpOptions
TOPK_V2 TopKV2Options
SPLIT SplitOptions
LOG_SOFTMAX LogSoftmaxOptions
BIDIRECTIONAL_SEQUENCE_LSTM BidirectionalSequenceLSTMOptions
CAST CastOptions
MAXIMUM MINIMUM MaximumMinimumOptions
ARG_MAX ArgMaxOptions
ARG_MIN ArgMinOptions
LESS LessOptions
LESS_EQUAL LessEqualOptions
GREATER GreaterOptions
GREATER_EQUAL GreaterEqualOptions
EQUAL EqualOptions
NOT_EQUAL NotEqualOptions
NEG NegOptions
PADV2 PadV2Options
SELECT SelectOptions
SELECT_V2 SelectV2Options
SLICE SliceOptions
TRANSPOSE_CONV TransposeConvOptions
SPARSE_TO_DENSE SparseToDenseOptions
TILE TileOptions
EXPAND_DIMS ExpandDimsOptions
SHAPE ShapeOptions
POW PowOptions
FAKE_QUANT FakeQuantOptions
PACK PackOptions
UNPACK UnpackOptions
LOGICAL_OR LogicalOrOptions
LOGICAL_AND LogicalAndOptions
LOGICAL_NOT LogicalNotOptions
ONE_HOT OneHotOptions
FLOOR_DIV FloorDivOptions
FLOOR_MOD FloorModOptions
SQUARE SquareOptions
ZEROS_LIKE ZerosLikeOptions
FILL FillOptions
RANGE RangeOptions
RESIZE_NEAREST_NEIGHBOR ResizeNearestNeighborOptions
LEAKY_RELU LeakyReluOptions
SQUARED_DIFFERENCE SquaredDifferenceOptions
MIRROR_PAD MirrorPadOptions
ABS AbsOptions
SPLIT_V SplitVOptions
UNIQUE UniqueOptions
REVERSE_V2 ReverseV2Options
ADD_N AddNOptions
GATHER_ND GatherNdOptions
COS CosOptions
WHERE WhereOptions
RANK RankOptions
REVERSE_SEQUENCE ReverseSequenceOptions
MATRIX_DIAG MatrixDiagOptions
QUANTIZE QuantizeOptions
MATRIX_SET_DIAG MatrixSetDiagOptions
HARD_SWISH HardSwishOptions
IF IfOptions
WHILE WhileOptions
NON_MAX_SUPPRESSION_V4 NonMaxSuppressionV4Options
NON_MAX_SUPPRESSION_V5 NonMaxSuppressionV5Options
SCATTER_ND ScatterNdOptions
DENSIFY DensifyOptions
SEGMENT_SUM SegmentSumOptions
BATCH_MATMUL BatchMatMulOptions
CUMSUM CumsumOptions
CALL_ONCE CallOnceOptions
BROADCAST_TO BroadcastToOptions
RFFT2D Rfft2dOptions
CONV_3D CONV_3D_TRANSPOSE Conv3DOptions
HASHTABLE HashtableOptions
HASHTABLE_FIND HashtableFindOptions
HASHTABLE_IMPORT HashtableImportOptions
HASHTABLE_SIZE HashtableSizeOptions
VAR_HANDLE VarHandleOptions
READ_VARIABLE ReadVariableOptions
ASSIGN_VARIABLE AssignVariableOptions
RANDOM_STANDARD_NORMAL RANDOM_UNIFORM MULTINOMIAL RandomOptions
BUCKETIZE BucketizeOptions
GELU GeluOptions
DYNAMIC_UPDATE_SLICE DynamicUpdateSliceOptions
UNSORTED_SEGMENT_PROD UnsortedSegmentProdOptions
UNSORTED_SEGMENT_MAX UnsortedSegmentMaxOptions
UNSORTED_SEGMENT_MIN UnsortedSegmentMinOptions
UNSORTED_SEGMENT_SUM UnsortedSegmentSumOptions
ATAN2 ATan2Options
SIGN SignOptions
BITCAST BitcastOptions
BITWISE_XOR BitwiseXorOptions
RIGHT_SHIFT RightShiftOptions
STABLEHLO_CONCATENATE StablehloConcatenateOptions
STABLEHLO_BROADCAST_IN_DIM StablehloBroadcastInDimOptions
STABLEHLO_SLICE StablehloSliceOptions
STABLEHLO_CONVOLUTION StablehloConvolutionOptions
STABLEHLO_CUSTOM_CALL StablehloCustomCallOptions
STABLEHLO_REDUCE StablehloReduceOptions
STABLEHLO_SCATTER StablehloScatterOptions
STABLEHLO_COMPARE StablehloCompareOptions
STABLEHLO_DYNAMIC_SLICE StablehloDynamicSliceOptions
STABLEHLO_PAD StablehloPadOptions
STABLEHLO_IOTA StablehloIotaOptions
STABLEHLO_DOT_GENERAL StablehloDotGeneralOptions
STABLEHLO_REDUCE_WINDOW StablehloReduceWindowOptions
STABLEHLO_SORT StablehloSortOptions
STABLEHLO_WHILE StablehloWhileOptions
STABLEHLO_GATHER StablehloGatherOptions
STABLEHLO_TRANSPOSE StablehloTransposeOptions
DILATE DilateOptions
STABLEHLO_RNG_BIT_GENERATOR StablehloRngBitGeneratorOptions
REDUCE_WINDOW ReduceWindowOptions
STABLEHLO_COMPOSITE StableHLOCompositeOptions
STABLEHLO_SHIFT_LEFT StablehloShiftLeftOptions
STABLEHLO_CASE StablehloCaseOptions
"""


def _build() -> dict[BuiltinOperator, type]:
    mapping: dict[BuiltinOperator, type] = {}
    for line in _TABLE.strip().splitlines():
        *ops, table = line.split()
        for op in ops:
            mapping[BuiltinOperator[op]] = OPTIONS_BY_NAME[table]
    return mapping


#: BuiltinOperator → options dataclass it reads (``builtin_options`` or, for the
#: classes with ``UNION == "BuiltinOptions2"``, ``builtin_options_2``).
OPTIONS_FOR_OP: Final[dict[BuiltinOperator, type]] = _build()


def options_for(builtin_code: int, operator: Any) -> Any:
    """The operator's options if they are of the class ``builtin_code`` reads, else None.

    ``operator`` is a :class:`tflite_schema.Operator`; None means "use the schema
    defaults", as the runtimes do when the expected union member is missing.
    """
    cls = OPTIONS_FOR_OP.get(builtin_code)  # type: ignore[call-overload]
    if cls is None:
        return None
    if cls.UNION == "BuiltinOptions2":
        value = operator.builtin_options_2
    else:
        value = operator.builtin_options
    return value if isinstance(value, cls) else None
