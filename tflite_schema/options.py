"""Builtin operator options: one frozen dataclass per schema.fbs options table.

Every options table of the ``BuiltinOptions`` and ``BuiltinOptions2`` unions is
described below in a compact one-entry-per-table form that can be diffed by eye
against schema.fbs::

    <union type code> <TableName>: <field>:<type>[=<default>] ...

Fields are listed in declaration order, so field ``i`` is vtable slot ``i``;
``~name`` marks a deprecated field (it keeps its slot but gets no attribute). Types
are schema scalars (``bool byte ubyte short ushort int uint long ulong float
double``), ``string``, vectors ``[type]`` or enum names (read as their base integer
type). Attributes are the schema field names (already snake_case) with schema
defaults; enums are plain ints, vectors are tuples (``bytes`` for ``[ubyte]``) and,
like strings, ``None`` when the field is absent from the file (so
``ReshapeOptions.new_shape`` distinguishes "absent" from "empty").

Example::

    >>> opts = OPTIONS_BY_TYPE[1](stride_w=2, stride_h=2)   # Conv2DOptions
    >>> opts.dilation_w_factor, opts.padding
    (1, 0)

To support a new table: add its line to ``_BUILTIN_OPTIONS`` (or
``_BUILTIN_OPTIONS_2``) with its union position as the code.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final, NamedTuple

from .flatbuf import SCALARS, Table

# Base integer type of each enum that appears in an options table.
_ENUM_BASE: Final[dict[str, str]] = {
    "Padding": "byte", "ActivationFunctionType": "byte", "TensorType": "byte",
    "FullyConnectedOptionsWeightsFormat": "byte", "LSTMKernelType": "byte",
    "CombinerType": "byte", "LSHProjectionType": "byte", "MirrorPadMode": "byte",
    "CustomOptionsFormat": "byte", "RngAlgorithm": "byte", "ReduceWindowFunction": "int",
    "StablehloPrecisionConfig": "uint", "StablehloComparisonDirection": "uint",
    "StablehloComparisonType": "uint",
}

# BuiltinOptions, in union order (code 0 is NONE). Enum defaults are written as
# numbers: UniqueOptions.idx_out_type=2 is INT32.
_BUILTIN_OPTIONS: Final = """
1 Conv2DOptions: padding:Padding stride_w:int stride_h:int
    fused_activation_function:ActivationFunctionType dilation_w_factor:int=1
    dilation_h_factor:int=1 quantized_bias_type:TensorType
2 DepthwiseConv2DOptions: padding:Padding stride_w:int stride_h:int depth_multiplier:int
    fused_activation_function:ActivationFunctionType dilation_w_factor:int=1
    dilation_h_factor:int=1
3 ConcatEmbeddingsOptions: num_channels:int num_columns_per_channel:[int]
    embedding_dim_per_channel:[int]
4 LSHProjectionOptions: type:LSHProjectionType
5 Pool2DOptions: padding:Padding stride_w:int stride_h:int filter_width:int filter_height:int
    fused_activation_function:ActivationFunctionType
6 SVDFOptions: rank:int fused_activation_function:ActivationFunctionType
    asymmetric_quantize_inputs:bool
7 RNNOptions: fused_activation_function:ActivationFunctionType asymmetric_quantize_inputs:bool
8 FullyConnectedOptions: fused_activation_function:ActivationFunctionType
    weights_format:FullyConnectedOptionsWeightsFormat keep_num_dims:bool
    asymmetric_quantize_inputs:bool quantized_bias_type:TensorType quant_spec:[ubyte]
9 SoftmaxOptions: beta:float
10 ConcatenationOptions: axis:int fused_activation_function:ActivationFunctionType
11 AddOptions: fused_activation_function:ActivationFunctionType pot_scale_int16:bool=true
12 L2NormOptions: fused_activation_function:ActivationFunctionType
13 LocalResponseNormalizationOptions: radius:int bias:float alpha:float beta:float
14 LSTMOptions: fused_activation_function:ActivationFunctionType cell_clip:float
    proj_clip:float kernel_type:LSTMKernelType asymmetric_quantize_inputs:bool
15 ResizeBilinearOptions: ~new_height:int ~new_width:int align_corners:bool
    half_pixel_centers:bool
16 CallOptions: subgraph:uint
17 ReshapeOptions: new_shape:[int]
18 SkipGramOptions: ngram_size:int max_skip_size:int include_all_ngrams:bool
19 SpaceToDepthOptions: block_size:int
20 EmbeddingLookupSparseOptions: combiner:CombinerType
21 MulOptions: fused_activation_function:ActivationFunctionType
22 PadOptions:
23 GatherOptions: axis:int batch_dims:int
24 BatchToSpaceNDOptions:
25 SpaceToBatchNDOptions:
26 TransposeOptions:
27 ReducerOptions: keep_dims:bool
28 SubOptions: fused_activation_function:ActivationFunctionType pot_scale_int16:bool=true
29 DivOptions: fused_activation_function:ActivationFunctionType
30 SqueezeOptions: squeeze_dims:[int]
31 SequenceRNNOptions: time_major:bool fused_activation_function:ActivationFunctionType
    asymmetric_quantize_inputs:bool
32 StridedSliceOptions: begin_mask:int end_mask:int ellipsis_mask:int new_axis_mask:int
    shrink_axis_mask:int offset:bool
33 ExpOptions:
34 TopKV2Options:
35 SplitOptions: num_splits:int
36 LogSoftmaxOptions:
37 CastOptions: in_data_type:TensorType out_data_type:TensorType
38 DequantizeOptions:
39 MaximumMinimumOptions:
40 ArgMaxOptions: output_type:TensorType
41 LessOptions:
42 NegOptions:
43 PadV2Options:
44 GreaterOptions:
45 GreaterEqualOptions:
46 LessEqualOptions:
47 SelectOptions:
48 SliceOptions:
49 TransposeConvOptions: padding:Padding stride_w:int stride_h:int
    fused_activation_function:ActivationFunctionType quantized_bias_type:TensorType
50 SparseToDenseOptions: validate_indices:bool
51 TileOptions:
52 ExpandDimsOptions:
53 EqualOptions:
54 NotEqualOptions:
55 ShapeOptions: out_type:TensorType
56 PowOptions:
57 ArgMinOptions: output_type:TensorType
58 FakeQuantOptions: min:float max:float num_bits:int narrow_range:bool
59 PackOptions: values_count:int axis:int
60 LogicalOrOptions:
61 OneHotOptions: axis:int
62 LogicalAndOptions:
63 LogicalNotOptions:
64 UnpackOptions: num:int axis:int
65 FloorDivOptions:
66 SquareOptions:
67 ZerosLikeOptions:
68 FillOptions:
69 BidirectionalSequenceLSTMOptions: fused_activation_function:ActivationFunctionType
    cell_clip:float proj_clip:float merge_outputs:bool time_major:bool=true
    asymmetric_quantize_inputs:bool
70 BidirectionalSequenceRNNOptions: time_major:bool
    fused_activation_function:ActivationFunctionType merge_outputs:bool
    asymmetric_quantize_inputs:bool
71 UnidirectionalSequenceLSTMOptions: fused_activation_function:ActivationFunctionType
    cell_clip:float proj_clip:float time_major:bool asymmetric_quantize_inputs:bool
    diagonal_recurrent_tensors:bool
72 FloorModOptions:
73 RangeOptions:
74 ResizeNearestNeighborOptions: align_corners:bool half_pixel_centers:bool
75 LeakyReluOptions: alpha:float
76 SquaredDifferenceOptions:
77 MirrorPadOptions: mode:MirrorPadMode
78 AbsOptions:
79 SplitVOptions: num_splits:int
80 UniqueOptions: idx_out_type:TensorType=2
81 ReverseV2Options:
82 AddNOptions:
83 GatherNdOptions:
84 CosOptions:
85 WhereOptions:
86 RankOptions:
87 ReverseSequenceOptions: seq_dim:int batch_dim:int
88 MatrixDiagOptions:
89 QuantizeOptions:
90 MatrixSetDiagOptions:
91 HardSwishOptions:
92 IfOptions: then_subgraph_index:int else_subgraph_index:int
93 WhileOptions: cond_subgraph_index:int body_subgraph_index:int
94 DepthToSpaceOptions: block_size:int
95 NonMaxSuppressionV4Options:
96 NonMaxSuppressionV5Options:
97 ScatterNdOptions:
98 SelectV2Options:
99 DensifyOptions:
100 SegmentSumOptions:
101 BatchMatMulOptions: adj_x:bool adj_y:bool asymmetric_quantize_inputs:bool
102 CumsumOptions: exclusive:bool reverse:bool
103 CallOnceOptions: init_subgraph_index:int
104 BroadcastToOptions:
105 Rfft2dOptions:
106 Conv3DOptions: padding:Padding stride_d:int stride_w:int stride_h:int
    fused_activation_function:ActivationFunctionType dilation_d_factor:int=1
    dilation_w_factor:int=1 dilation_h_factor:int=1
107 HashtableOptions: table_id:int key_dtype:TensorType value_dtype:TensorType
108 HashtableFindOptions:
109 HashtableImportOptions:
110 HashtableSizeOptions:
111 VarHandleOptions: container:string shared_name:string
112 ReadVariableOptions:
113 AssignVariableOptions:
114 RandomOptions: seed:long seed2:long
115 BucketizeOptions: boundaries:[float]
116 GeluOptions: approximate:bool
117 DynamicUpdateSliceOptions:
118 UnsortedSegmentProdOptions:
119 UnsortedSegmentMaxOptions:
120 UnsortedSegmentMinOptions:
121 UnsortedSegmentSumOptions:
122 ATan2Options:
123 SignOptions:
124 BitcastOptions:
125 BitwiseXorOptions:
126 RightShiftOptions:
"""

# BuiltinOptions2 (Operator.builtin_options_2), in union order.
_BUILTIN_OPTIONS_2: Final = """
1 StablehloConcatenateOptions: dimension:long
2 StablehloBroadcastInDimOptions: broadcast_dimensions:[long]
3 StablehloSliceOptions: start_indices:[long] limit_indices:[long] strides:[long]
4 StablehloConvolutionOptions: window_strides:[long] padding:[long] lhs_dilation:[long]
    rhs_dilation:[long] window_reversal:[bool] input_batch_dimension:long
    input_feature_dimension:long input_spatial_dimensions:[long]
    kernel_input_feature_dimension:long kernel_output_feature_dimension:long
    kernel_spatial_dimensions:[long] output_batch_dimension:long
    output_feature_dimension:long output_spatial_dimensions:[long] feature_group_count:long
    batch_group_count:long precision_config:[StablehloPrecisionConfig]
5 StablehloCustomCallOptions: call_target_name:string has_side_effect:bool
    backend_config:string api_version:int called_computations:[int]
    custom_attributes:[ubyte]
6 StablehloReduceOptions: dimensions:[long] body_subgraph_index:int
7 StablehloScatterOptions: indices_are_sorted:bool update_window_dims:[long]
    inserted_window_dims:[long] scatter_dims_to_operand_dims:[long] index_vector_dim:long
    unique_indices:bool update_computation_subgraph_index:int
8 StablehloCompareOptions: comparison_direction:StablehloComparisonDirection
    compare_type:StablehloComparisonType
9 StablehloDynamicSliceOptions: slice_sizes:[long]
10 StablehloPadOptions: edge_padding_low:[long] edge_padding_high:[long]
    interior_padding:[long]
11 StablehloIotaOptions: iota_dimension:long
12 StablehloDotGeneralOptions: lhs_batching_dimensions:[long] rhs_batching_dimensions:[long]
    lhs_contracting_dimensions:[long] rhs_contracting_dimensions:[long]
    precision_config:[StablehloPrecisionConfig]
13 StablehloReduceWindowOptions: window_dimensions:[long] window_strides:[long]
    base_dilations:[long] window_dilations:[long] padding:[long] body_subgraph_index:int
14 StablehloSortOptions: dimension:long is_stable:bool comparator_subgraph_index:int
15 StablehloWhileOptions: cond_subgraph_index:int body_subgraph_index:int
16 StablehloGatherOptions: offset_dims:[long] collapsed_slice_dims:[long]
    start_index_map:[long] index_vector_dim:long slice_sizes:[long] indices_are_sorted:bool
17 StablehloTransposeOptions: permutation:[long]
18 DilateOptions:
19 StablehloRngBitGeneratorOptions: algorithm:RngAlgorithm
20 ReduceWindowOptions: reduce_function:ReduceWindowFunction
21 StableHLOCompositeOptions: name:string decomposition_subgraph_index:int
    composite_attributes:[ubyte] composite_attributes_format:CustomOptionsFormat version:int
22 StablehloShiftLeftOptions:
23 StablehloCaseOptions: branch_subgraph_indices:[int]
"""


class FieldSpec(NamedTuple):
    """One field of an options table."""

    name: str
    slot: int  # vtable slot = declaration index
    kind: str  # scalar type name, or "string"
    is_vector: bool
    default: Any
    deprecated: bool


def _parse_default(kind: str, text: str | None) -> Any:
    if kind == "bool":
        return text == "true"
    if kind in ("float", "double"):
        return float(text or 0)
    return int(text or 0)


def _parse_spec(spec: str) -> list[tuple[int, str, tuple[FieldSpec, ...]]]:
    """Parse the compact table list above into (code, name, fields)."""
    entries: list[list[str]] = []
    for line in spec.strip().splitlines():
        if line.startswith(" "):  # continuation of the previous table
            entries[-1].extend(line.split())
        else:
            entries.append(line.split())
    tables = []
    for words in entries:
        code, name = int(words[0]), words[1].rstrip(":")
        fields = []
        for slot, word in enumerate(words[2:]):
            deprecated = word.startswith("~")
            field_name, type_text = word.lstrip("~").split(":")
            type_text, _, default_text = type_text.partition("=")
            is_vector = type_text.startswith("[")
            kind = type_text.strip("[]")
            kind = _ENUM_BASE.get(kind, kind)
            assert kind in SCALARS or kind == "string", f"{name}.{field_name}: {kind}"
            default = None if is_vector or kind == "string" else _parse_default(
                kind, default_text or None)
            fields.append(FieldSpec(field_name, slot, kind, is_vector, default, deprecated))
        tables.append((code, name, tuple(fields)))
    return tables


def _annotation(f: FieldSpec) -> str:
    if f.kind == "string":
        return "str | None"
    if f.is_vector:
        if f.kind == "ubyte":
            return "bytes | None"
        element = {"bool": "bool", "float": "float", "double": "float"}.get(f.kind, "int")
        return f"tuple[{element}, ...] | None"
    return {"bool": "bool", "float": "float", "double": "float"}.get(f.kind, "int")


def _make_class(union: str, code: int, name: str, fields: tuple[FieldSpec, ...]) -> type:
    live = [f for f in fields if not f.deprecated]
    cls = dataclasses.make_dataclass(
        name,
        [(f.name, _annotation(f), dataclasses.field(default=f.default)) for f in live],
        frozen=True,
        namespace={"FIELDS": fields, "UNION": union, "UNION_TYPE": code},
    )
    cls.__module__ = __name__
    listing = ", ".join(
        f"{f.name}: {_annotation(f)} = {f.default!r}" for f in live) or "no fields"
    cls.__doc__ = f"schema.fbs table {name} ({union} type {code}): {listing}."
    return cls


def _build(union: str, spec: str) -> dict[int, type]:
    return {code: _make_class(union, code, name, fields)
            for code, name, fields in _parse_spec(spec)}


#: ``Operator.builtin_options_type`` code → options dataclass.
OPTIONS_BY_TYPE: Final[dict[int, type]] = _build("BuiltinOptions", _BUILTIN_OPTIONS)
#: ``Operator.builtin_options_2_type`` code → options dataclass.
OPTIONS2_BY_TYPE: Final[dict[int, type]] = _build("BuiltinOptions2", _BUILTIN_OPTIONS_2)
#: Table name → options dataclass (both unions).
OPTIONS_BY_NAME: Final[dict[str, type]] = {
    cls.__name__: cls for cls in (*OPTIONS_BY_TYPE.values(), *OPTIONS2_BY_TYPE.values())
}


def __getattr__(name: str) -> type:
    """``from tflite_schema.options import Conv2DOptions`` and friends."""
    try:
        return OPTIONS_BY_NAME[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted([*globals(), *OPTIONS_BY_NAME])


def decode_options(table: Table, cls: type) -> Any:
    """Read one options table into an instance of ``cls`` (bounds-checked)."""
    values: dict[str, Any] = {}
    for f in cls.FIELDS:  # type: ignore[attr-defined]
        if f.deprecated:
            continue
        value: Any
        if f.kind == "string":
            value = table.string(f.slot, f.name)
        elif not f.is_vector:
            value = table.scalar(f.slot, f.kind, f.default, f.name)
        elif f.kind == "ubyte":
            view = table.bytes_view(f.slot, f.name)
            value = None if view is None else bytes(view)
        else:
            array = table.vector(f.slot, f.kind, f.name)
            value = None if array is None else tuple(
                (array != 0).tolist() if f.kind == "bool" else array.tolist())
        values[f.name] = value
    return cls(**values)
