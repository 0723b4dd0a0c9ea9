"""cconv.summary - cost model: per-layer output shapes, parameters and MACs.

MACs count the multiply-accumulates of convolutions (N*K*Ho*Wo*C/groups*R*S)
and linear layers (N*in*out); bias adds, BN, ReLU, pooling and residual adds
count zero.  Parameters are counted the way torchvision counts them: conv and
linear weights and biases, BN weight and bias; BN running statistics are
buffers, not parameters.  Shapes are inferred, nothing is run.

    >>> import cconv
    >>> cconv.macs(cconv.nn.Conv2d(192, 32, 5, padding=2), (1, 192, 28, 28))
    120422400
"""
from __future__ import annotations

import sys
from typing import NamedTuple

from .nn import Module

__all__ = ["summary", "macs", "count_params", "Summary", "LayerCost"]


class LayerCost(NamedTuple):
    name: str
    type: str
    output_shape: tuple
    params: int
    weights: int   # parameters that multiply (conv/linear weights), i.e. params minus biases and BN
    macs: int


def _layer_params(m: Module) -> tuple[int, int]:
    params = sum(int(p.size) for p in m._params.values() if p is not None)
    w = m._params.get("weight")
    from .nn import Conv2d, Linear
    weights = int(w.size) if (w is not None and isinstance(m, (Conv2d, Linear))) else 0
    return params, weights


class Summary:
    """Result of :func:`summary`: ``rows`` (LayerCost per leaf layer) and totals."""

    def __init__(self, model_name: str, input_shape: tuple, rows: list[LayerCost], output_shape: tuple):
        self.model_name = model_name
        self.input_shape = tuple(input_shape)
        self.rows = rows
        self.output_shape = tuple(output_shape)
        self.total_params = sum(r.params for r in rows)
        self.total_weights = sum(r.weights for r in rows)
        self.total_macs = sum(r.macs for r in rows)

    def __getitem__(self, name: str) -> LayerCost:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)

    def __str__(self):
        head = ("layer", "type", "output shape", "params", "MACs")
        body = [(r.name or "(model)", r.type, "x".join(map(str, r.output_shape)),
                 f"{r.params:,}", f"{r.macs:,}") for r in self.rows]
        foot = ("total", "", "x".join(map(str, self.output_shape)),
                f"{self.total_params:,}", f"{self.total_macs:,}")
        widths = [max(len(row[i]) for row in [head, foot, *body]) for i in range(5)]

        def fmt(row):
            return "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
        rule = "-" * len(fmt(head))
        lines = [f"{self.model_name}, input {'x'.join(map(str, self.input_shape))}", fmt(head), rule,
                 *map(fmt, body), rule, fmt(foot),
                 f"{self.total_macs / 1e9:.3f} GMAC = {2 * self.total_macs / 1e9:.3f} GFLOP per forward pass"]
        return "\n".join(lines)

    def __repr__(self):
        return (f"Summary({self.model_name}, input={self.input_shape}, params={self.total_params:,}, "
                f"macs={self.total_macs:,})")


def summary(model: Module, input_shape, *, print_table: bool = True, file=None) -> Summary:
    """Per-layer output shape, parameters and MACs of ``model`` for ``input_shape`` (N, C, H, W).

    Prints the table (unless ``print_table=False``) and returns a :class:`Summary`.
    Raises ValueError if the input shape does not fit the model.
    """
    input_shape = tuple(int(d) for d in input_shape)
    trace: list = []
    out = model._trace(input_shape, "", trace)
    rows = []
    for name, m, ins, outs in trace:
        p, w = _layer_params(m)
        rows.append(LayerCost(name, type(m).__name__, outs, p, w, int(m._macs(ins, outs))))
    s = Summary(type(model).__name__, input_shape, rows, out)
    if print_table:
        print(s, file=file if file is not None else sys.stdout)
    return s


def macs(model: Module, input_shape) -> int:
    """Total multiply-accumulates of ``model`` (a single layer or a whole network) on ``input_shape``."""
    return summary(model, input_shape, print_table=False).total_macs


def count_params(model: Module, weights_only: bool = False) -> int:
    """Parameters as torchvision counts them (BN running stats excluded).

    ``weights_only=True`` counts only convolution/linear weights (no biases, no BN).
    """
    total = 0
    for m in model.modules():
        p, w = _layer_params(m)
        total += w if weights_only else p
    return int(total)


def _main(argv=None):  # pragma: no cover - convenience CLI
    import argparse

    from . import models
    ap = argparse.ArgumentParser(description="cconv model cost summary")
    ap.add_argument("model", choices=models.__all__)
    ap.add_argument("--input", default=None, help="N,C,H,W (default 1,3,224,224; 1,3,32,32 for nin)")
    a = ap.parse_args(argv)
    shape = tuple(int(v) for v in a.input.split(",")) if a.input else (
        (1, 3, 32, 32) if a.model.startswith("nin") else (1, 3, 224, 224))
    summary(getattr(models, a.model)(), shape)


if __name__ == "__main__":  # pragma: no cover
    _main()
