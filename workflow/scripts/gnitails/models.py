"""The networks: an MLP and the paper's conv net, as a chain of activations h_0 .. h_L.

Every model is a :class:`Net`: h_0 is the input, h_k = phi(layer_k(h_{k-1})) for the hidden
layers and h_L = layer_L(h_{L-1}) is the output (regression values or logits). GNIs and the
explicit regulariser work on these activations through the ``tap`` argument of
:meth:`Net.forward`, a function ``tap(k, h) -> h`` called on every h_k, so neither needs hooks
or a copy of the architecture. Parameters are initialised from an explicit ``torch.Generator``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gnitails.config import ConfigError, with_defaults

Tap = Callable[[int, Tensor], Tensor]

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu,
    "elu": F.elu,
    "tanh": torch.tanh,
}
INITS = ("torch", "glorot_normal")
CONV_CHANNELS = (32, 128)  # the paper's conv net: Conv 32 k4 s2 -> Conv 128 k4 s2 -> linear
CONV_KERNEL, CONV_STRIDE = 4, 2


@dataclass(frozen=True)
class ModelSpec:
    arch: str
    width: int
    depth: int
    activation: str
    init: str
    init_scale: float

    @classmethod
    def from_config(cls, cfg: Mapping) -> ModelSpec:
        """From a ``model`` block; missing keys take the schema's defaults."""
        # The schema's enums name exactly the architectures, ACTIVATIONS and INITS (tested).
        cfg = with_defaults(cfg, "model")
        return cls(**{k: cfg[k] for k in cls.__dataclass_fields__})


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's 'SAME' padding (output = ceil(input / stride)), any stride.

    PyTorch's padding='same' refuses strides > 1; TF pads the extra pixel at the end.

    On small images the layer runs as the dense matrix of the same linear map (its entries
    gathered from the kernel, zeros where a kernel tap falls on padding): on the digits' 8 x 8
    inputs one matmul is far cheaper than oneDNN's convolution calls, most of all in the double
    backward of the explicit regulariser (a digits_conv ``explicit`` step: 72 -> 37 ms on one
    CPU core). Only when the dense matrix does at most DENSE_MAX_WASTE times the convolution's
    multiplications and has at most DENSE_MAX_ENTRIES entries (not on MNIST's 28 x 28).
    """

    DENSE_MAX_WASTE = 4
    DENSE_MAX_ENTRIES = 1 << 20

    def _out_hw(self, in_hw: Sequence[int]) -> tuple[int, ...]:
        """TF's SAME output size: ceil(input / stride) per spatial dimension."""
        return tuple(math.ceil(size / s) for size, s in zip(in_hw, self.stride, strict=True))

    def _pads(self, in_hw: Sequence[int]) -> list[int]:
        """F.pad's (left, right, top, bottom) for TF's SAME output size."""
        pads = []
        for size, out, k, s in zip(
            reversed(in_hw),
            reversed(self._out_hw(in_hw)),
            reversed(self.kernel_size),
            reversed(self.stride),
            strict=True,
        ):
            total = max((out - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return pads

    def _dense_index(self, in_shape: tuple[int, ...], device: torch.device) -> Tensor | None:
        """For input C x H x W: index (out, in) into [flat kernel, 0] giving the dense matrix,
        or None where the convolution is cheaper (cached per shape and device)."""
        cache = self.__dict__.setdefault("_dense_cache", {})
        key = (in_shape, str(device))
        if key not in cache:
            cache[key] = self._build_dense_index(in_shape, device)
        return cache[key]

    def _build_dense_index(self, in_shape, device) -> Tensor | None:
        c_in, h, w = in_shape
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        ho, wo = self._out_hw((h, w))
        n_in, n_out = c_in * h * w, self.out_channels * ho * wo
        if (
            n_in * n_out > self.DENSE_MAX_ENTRIES
            or n_in > self.DENSE_MAX_WASTE * c_in * kh * kw
            or self.groups != 1
            or self.dilation != (1, 1)
        ):
            return None
        left, _, top, _ = self._pads((h, w))
        co, ci, ky, kx, i, j = torch.meshgrid(
            *(torch.arange(n) for n in (self.out_channels, c_in, kh, kw, ho, wo)), indexing="ij"
        )
        y, x = i * sh + ky - top, j * sw + kx - left
        inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
        rows = ((co * ho + i) * wo + j)[inside]
        cols = ((ci * h + y) * w + x)[inside]
        taps = (((co * c_in + ci) * kh + ky) * kw + kx)[inside]
        index = torch.full((n_out, n_in), self.weight.numel(), dtype=torch.long)
        index[rows, cols] = taps
        return index.to(device)

    def forward(self, x: Tensor) -> Tensor:
        index = self._dense_index(tuple(x.shape[1:]), x.device) if x.dim() == 4 else None
        if index is None:
            return super().forward(F.pad(x, self._pads(x.shape[-2:])))
        dense = F.pad(self.weight.reshape(-1), (0, 1))[index]  # the last entry: a padding 0
        ho, wo = self._out_hw(x.shape[-2:])
        bias = None if self.bias is None else self.bias.repeat_interleave(ho * wo)
        return F.linear(x.flatten(1), dense, bias).view(len(x), self.out_channels, ho, wo)


class FlattenLinear(nn.Linear):
    """Flatten all but the batch dimension, then a linear map (the conv net's last layer)."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.flatten(1))


class Net(nn.Module):
    """A chain h_0 = x, h_k = phi(layer_k(h_{k-1})) (k < L), h_L = layer_L(h_{L-1}).

    ``flatten_input`` makes h_0 the flattened input (MLPs), so per-element input noise means
    the same for images and vectors. ``activation_shapes[k]`` is the per-example shape of h_k.
    """

    def __init__(
        self,
        layers: Sequence[nn.Module],
        activation: str,
        input_shape: Sequence[int],
        flatten_input: bool,
    ):
        super().__init__()
        if not layers:
            raise ValueError("a Net needs at least one layer")
        self.layers = nn.ModuleList(layers)
        self.activation = activation
        self.phi = ACTIVATIONS[activation]
        self.input_shape = tuple(input_shape)
        self.flatten_input = flatten_input
        with torch.no_grad():
            acts = record_activations(self, torch.zeros(1, *self.input_shape))[1]
        self.activation_shapes: tuple[tuple[int, ...], ...] = tuple(
            tuple(a.shape[1:]) for a in acts
        )

    @property
    def n_layers(self) -> int:
        """L: the number of parametrised layers; activations are h_0 .. h_L."""
        return len(self.layers)

    @property
    def output_dim(self) -> int:
        return self.activation_shapes[-1][0]

    def layer_names(self) -> list[str]:
        """Names of h_0 .. h_L: input, hidden1 .. hidden{L-1}, output."""
        return ["input"] + [f"hidden{k}" for k in range(1, self.n_layers)] + ["output"]

    def forward(self, x: Tensor, tap: Tap | None = None) -> Tensor:
        h = x.flatten(1) if self.flatten_input else x
        if tap is not None:
            h = tap(0, h)
        last = self.n_layers
        for k, layer in enumerate(self.layers, start=1):
            h = layer(h)
            if k < last:
                h = self.phi(h)
            if tap is not None:
                h = tap(k, h)
        return h


def record_activations(net: Net, x: Tensor, tap: Tap | None = None) -> tuple[Tensor, list[Tensor]]:
    """Run ``net`` and return its output and every h_k as seen downstream (after ``tap``)."""
    acts: list[Tensor] = []

    def recording_tap(k: int, h: Tensor) -> Tensor:
        h = tap(k, h) if tap is not None else h
        acts.append(h)
        return h

    return net(x, tap=recording_tap), acts


def build_mlp(
    input_shape: Sequence[int],
    output_dim: int,
    width: int,
    depth: int,
    activation: str = "relu",
) -> Net:
    """``depth`` hidden layers of ``width`` units; depth 0 gives a linear model."""
    d_in = math.prod(input_shape)
    dims = [d_in] + [width] * depth + [output_dim]
    layers = [nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True)]
    return Net(layers, activation, input_shape, flatten_input=True)


def build_convnet(input_shape: Sequence[int], output_dim: int, activation: str = "elu") -> Net:
    """The paper's conv net: Conv 32 k4 s2 SAME -> Conv 128 k4 s2 SAME -> flatten -> linear."""
    if len(input_shape) != 3:
        raise ConfigError(
            f"model.arch: convnet needs image inputs C x H x W, got shape {tuple(input_shape)}"
        )
    channels, height, width = input_shape
    convs = []
    for c_out in CONV_CHANNELS:
        convs.append(SameConv2d(channels, c_out, CONV_KERNEL, stride=CONV_STRIDE))
        channels = c_out
        height, width = math.ceil(height / CONV_STRIDE), math.ceil(width / CONV_STRIDE)
    head = FlattenLinear(channels * height * width, output_dim)
    return Net([*convs, head], activation, input_shape, flatten_input=False)


def init_parameters(net: Net, scheme: str, generator: torch.Generator, scale: float = 1.0) -> None:
    """Initialise every layer from ``generator`` (never the global RNG).

    torch: PyTorch's default (weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in))), as in the
    notebooks. glorot_normal: TF's truncated normal, std sqrt(2/(fan_in+fan_out))/0.8796 cut at
    2 std, zero biases, as in the authors' conv-net code. ``scale`` multiplies the weights.
    """
    with torch.no_grad():
        for layer in net.layers:
            w, b = layer.weight, layer.bias
            fan_in = w[0].numel()
            fan_out = w.shape[0] * w[0, 0].numel() if w.dim() > 2 else w.shape[0]
            if scheme == "torch":
                bound = 1 / math.sqrt(fan_in)
                w.uniform_(-bound, bound, generator=generator)
                b.uniform_(-bound, bound, generator=generator)
            elif scheme == "glorot_normal":
                std = math.sqrt(2 / (fan_in + fan_out)) / 0.87962566103423978
                nn.init.trunc_normal_(w, 0.0, std, -2 * std, 2 * std, generator=generator)
                b.zero_()
            else:
                raise ConfigError(f"model.init: expected one of {INITS}, got {scheme!r}")
            w.mul_(scale)


def build_model(
    model_cfg: Mapping | ModelSpec,
    input_shape: Sequence[int],
    output_dim: int,
    generator: torch.Generator | None = None,
) -> Net:
    """Build the configured net for per-example inputs ``input_shape`` (C x H x W or d).

    Parameters come from ``generator`` (seed 0 when omitted), so a seed fixes the init.
    """
    spec = model_cfg if isinstance(model_cfg, ModelSpec) else ModelSpec.from_config(model_cfg)
    if spec.arch == "mlp":
        net = build_mlp(input_shape, output_dim, spec.width, spec.depth, spec.activation)
    else:
        net = build_convnet(input_shape, output_dim, spec.activation)
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    init_parameters(net, spec.init, generator, spec.init_scale)
    return net
