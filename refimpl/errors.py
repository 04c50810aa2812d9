"""Typed errors raised by refimpl.

Two tiers (see docs/style): a bad or unsupported *model or input* raises one of the
exceptions below, always naming where the problem is (node index, op, tensor name);
``assert`` is kept for internal invariants only.
"""

from __future__ import annotations


class RefimplError(Exception):
    """Base class of every error refimpl raises on purpose."""


class ModelError(RefimplError):
    """The model is malformed or inconsistent (bad tensor index, wrong buffer size...)."""


class UnsupportedOpError(RefimplError):
    """No kernel for this op, or for this op with these dtypes.

    The message names the node index, the op, the dtypes seen and what is supported.
    """

    def __init__(self, node_index: int, op_name: str, detail: str):
        self.node_index = node_index
        self.op_name = op_name
        self.detail = detail
        super().__init__(f"node {node_index} ({op_name}): unsupported: {detail}")


class OpError(ModelError):
    """A node's parameters are invalid for its kernel (found in prepare or eval)."""

    def __init__(self, node_index: int, op_name: str, detail: str):
        self.node_index = node_index
        self.op_name = op_name
        self.detail = detail
        super().__init__(f"node {node_index} ({op_name}): {detail}")


class InputError(RefimplError, ValueError):
    """A value passed by the caller does not fit the tensor (dtype, shape, index).

    Also a ``ValueError``, as LiteRT raises for the same mistakes.
    """


class StateError(RefimplError, RuntimeError):
    """The interpreter was used out of order (e.g. invoke before allocate_tensors)."""
