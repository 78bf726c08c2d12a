"""Per-layer summary of a network: output shapes, parameters and MACs, torchsummary style.

One forward pass with a dummy input runs under hooks. The rows are torchsummary's, the table the
course notes print for ResNet-18 (note 002): every call of a layer in call order (a module called
twice, like the ReLU of torchvision's ``BasicBlock``, gives two rows), and after a block's layers
a row for the block itself (``BasicBlock-11``), numbered in the order the calls *finish*. Plain
containers (``Sequential``, ``ModuleList``) and parameter-free placeholders (``Identity``, e.g.
a block's unused dropout) get no row, so the numbering is the one students know.

Each row's ``params`` are the parameters no other row shows: a layer's own, none for a block row
(its layers are listed above it). With ``depth`` the rows stop at that nesting level and a deeper
container becomes one row carrying the parameters and MACs of everything inside. Totals follow
torchinfo 1.8: MACs add up over calls, parameters are counted once per tensor however often
they are used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from resnetlab.analysis.formulas import param_formula
from resnetlab.analysis.macs import count_macs, first_tensor, param_counts
from resnetlab.errors import ConfigError

DEFAULT_INPUT_SIZE = (1, 3, 224, 224)
_MB = 1e6  # torchinfo's megabyte, so the sizes can be compared with its report


@dataclass
class SummaryRow:
    """One module call. ``output_shape`` keeps the real batch size; the table prints -1."""

    name: str  # dotted module name, e.g. "layer1.0.conv1" ("" for a model that is one module)
    type: str  # class name, e.g. "Conv2d"
    label: str  # torchsummary's "Conv2d-1": class name and 1-based position in call order
    output_shape: tuple[int, ...]
    params: int  # the module's parameters, shown on every call of a shared module
    macs: int
    repeat: bool = False  # True from a module's second call on (its params are not re-counted)
    output_bytes: int = field(default=0, repr=False)
    # How ``params`` adds up, left-hand side only ("64 × 3 × 7 × 7"); "" for a row without own
    # parameters and for a collapsed container (its layers' formulas are in the full table).
    formula: str = ""
    # A block row closing its layers' rows (BasicBlock-11): no params or MACs of its own, and its
    # output is not counted as a separate activation.
    container: bool = False


@dataclass
class Summary:
    """Result of :func:`summary`; ``str()`` renders the table, :meth:`to_dict` feeds JSON."""

    model: str
    input_size: tuple[int, ...]
    rows: list[SummaryRow]
    total_params: int
    trainable_params: int
    param_bytes: int
    input_bytes: int

    @property
    def non_trainable_params(self) -> int:
        return self.total_params - self.trainable_params

    @property
    def total_macs(self) -> int:
        return sum(row.macs for row in self.rows)

    @property
    def activation_bytes(self) -> int:
        """Bytes of the outputs of the layer rows (one forward pass, nothing kept for backward);
        block rows are left out, as torchinfo leaves out containers."""
        return sum(row.output_bytes for row in self.rows if not row.container)

    def table(self, *, formula: bool = False) -> str:
        """The rendered table; ``formula=True`` adds the "Calculation" column."""
        return render_table(self, formula=formula)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: every row and every total."""
        rows = []
        for row in self.rows:
            item = asdict(row)
            item["output_shape"] = list(row.output_shape)
            rows.append(item)
        return {
            "model": self.model,
            "input_size": list(self.input_size),
            "rows": rows,
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "non_trainable_params": self.non_trainable_params,
            "total_macs": self.total_macs,
            "param_bytes": self.param_bytes,
            "activation_bytes": self.activation_bytes,
            "input_bytes": self.input_bytes,
        }

    def __str__(self) -> str:
        return render_table(self)


def _shape_text(shape: Sequence[int]) -> str:
    if not shape:
        return "--"
    return str([-1, *shape[1:]])


def human_count(n: float) -> str:
    """1814083944 -> '1.81 G'; small numbers stay exact."""
    for factor, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= factor:
            return f"{n / factor:.2f} {unit}"
    return f"{n:g}"


def render_table(s: Summary, *, formula: bool = False) -> str:
    """The classic torchsummary table, with a module-name column and a MACs column.

    ``formula=True`` adds note 002's "Calculation" column before the parameter count: how each
    layer's parameters add up (``64 × 3 × 7 × 7``), "-" where a row has none of its own.
    """
    headers: tuple[str, ...] = ("Layer (type)", "Module", "Output Shape", "Param #", "MACs")
    body = [
        (r.label, r.name or "-", _shape_text(r.output_shape), f"{r.params:,}", f"{r.macs:,}")
        for r in s.rows
    ]
    if formula:
        headers = (*headers[:3], "Calculation", *headers[3:])
        body = [(*cells[:3], row.formula or "-", *cells[3:])
                for cells, row in zip(body, s.rows, strict=True)]
    widths = [max(len(h), *(len(cells[i]) for cells in body)) for i, h in enumerate(headers)]
    right_aligned = {len(headers) - 2, len(headers) - 1}  # numbers line up on their last digit

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in right_aligned else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    width = sum(widths) + 2 * (len(widths) - 1)
    thin, thick = "-" * width, "=" * width
    lines = [thin, line(headers), thick, *(line(cells) for cells in body), thick]
    lines += [
        f"Total params: {s.total_params:,}",
        f"Trainable params: {s.trainable_params:,}",
        f"Non-trainable params: {s.non_trainable_params:,}",
        f"Total MACs: {human_count(s.total_macs)}  ({s.total_macs:,})",
        f"Input size (MB): {s.input_bytes / _MB:.2f}",
        f"Forward activations (MB): {s.activation_bytes / _MB:.2f}",
        f"Params size (MB): {s.param_bytes / _MB:.2f}",
    ]
    blocks = sorted({r.type for r in s.rows if r.container})
    if blocks:  # a student reading "BasicBlock-11 ... 0" should not think the block is empty
        lines.append(f"({' / '.join(blocks)} rows close a block: its layers are the rows above "
                     "it, so the row adds no parameters of its own.)")
    return "\n".join([*lines, thin])


def _param_totals(model: nn.Module) -> tuple[int, int, int]:
    """(total, trainable, bytes), each parameter tensor counted once even if shared."""
    seen: set[int] = set()
    total = trainable = nbytes = 0
    for module in model.modules():
        for p in param_counts(module):
            if p.tensor_id in seen:
                continue
            seen.add(p.tensor_id)
            total += p.count
            trainable += p.count if p.trainable else 0
            nbytes += p.nbytes
    return total, trainable, nbytes


def count_params(model: nn.Module) -> int:
    """Number of parameters of ``model``, each tensor counted once (no forward pass needed)."""
    return _param_totals(model)[0]


def _check_input_size(input_size: Sequence[int]) -> tuple[int, ...]:
    size = tuple(int(d) for d in input_size)
    if len(size) < 2 or any(d <= 0 for d in size):
        raise ConfigError(
            f"input size {list(input_size)} is not a shape with batch: give positive sizes "
            "such as (1, 3, 224, 224)"
        )
    return size


def _input_like(model: nn.Module, size: tuple[int, ...], device: Any) -> torch.Tensor:
    """A zero batch on the model's device and in its floating dtype (float32 if it has none)."""
    ref = next((p for p in model.parameters() if p.is_floating_point()), None)
    dtype = ref.dtype if ref is not None else torch.float32
    if device is None:
        device = ref.device if ref is not None else "cpu"
    return torch.zeros(size, dtype=dtype, device=device)


# Modules that only group others: their children get rows, they do not (torchsummary's rule).
_GROUPS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


class _Recorder:
    """Forward hooks that turn module calls into rows."""

    def __init__(self, model: nn.Module, depth: int | None) -> None:
        self.rows: list[SummaryRow] = []
        self.names: dict[int, str] = {}
        self.collapsed: set[int] = set()  # containers shown as one row at the depth limit
        self.blocks: set[int] = set()  # containers shown as a row after their layers' rows
        self.open: list[SummaryRow] = []  # collapsed containers currently running
        self.called: set[int] = set()
        self.handles: list[torch.utils.hooks.RemovableHandle] = []
        for name, module in model.named_modules():
            level = name.count(".") + 1 if name else 0
            is_leaf = next(module.children(), None) is None
            if depth is not None and level == depth and not is_leaf:
                self.collapsed.add(id(module))
                self.handles.append(module.register_forward_pre_hook(self._enter))
            elif is_leaf:
                # An Identity computes nothing and holds nothing: a row would only shift the
                # numbering away from the one the notes print (unless it is the whole model).
                if isinstance(module, nn.Identity) and name:
                    continue
            elif not name or isinstance(module, _GROUPS) or (depth is not None and level > depth):
                continue
            else:
                self.blocks.add(id(module))
            self.names[id(module)] = name
            self.handles.append(module.register_forward_hook(self._leave))

    def _new_row(self, module: nn.Module) -> SummaryRow:
        kind = type(module).__name__
        block = id(module) in self.blocks
        leaf = not block and id(module) not in self.collapsed
        row = SummaryRow(
            name=self.names[id(module)],
            type=kind,
            label=f"{kind}-{len(self.rows) + 1}",
            output_shape=(),
            params=sum(p.count for p in param_counts(module, recurse=not block)),
            macs=0,
            repeat=id(module) in self.called,
            formula=param_formula(module).partition(" = ")[0] if leaf else "",
            container=block,
        )
        self.called.add(id(module))
        self.rows.append(row)
        return row

    def _enter(self, module: nn.Module, args: Any) -> None:
        # The row is made before the children run so that rows stay in call order.
        self.open.append(self._new_row(module))

    def _leave(self, module: nn.Module, args: Any, output: Any) -> None:
        if id(module) in self.collapsed:
            row = self.open.pop()
        elif self.open:  # a leaf inside a collapsed container: charge the container
            self.open[-1].macs += count_macs(module, output)
            return
        else:
            row = self._new_row(module)
            if id(module) not in self.blocks:
                row.macs = count_macs(module, output)
        out = first_tensor(output)
        if out is not None:
            row.output_shape = tuple(out.shape)
            row.output_bytes = out.numel() * out.element_size()

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def summary(
    model: nn.Module,
    input_size: Sequence[int] = DEFAULT_INPUT_SIZE,
    *,
    depth: int | None = None,
    device: str | torch.device | None = None,
) -> Summary:
    """Run ``model`` once on zeros of ``input_size`` (batch included) and tabulate every layer.

    ``depth`` limits how deep rows go (1 = children of the model); None shows every layer,
    each block closed by its own row, as in the course notes' ResNet-18 table.
    ``device`` defaults to the device of the model's parameters; the model is not moved.
    The forward pass runs in eval mode without autograd, and every module gets its own
    training flag back afterwards. Errors of the forward pass (an input too small for the
    network, say) propagate unchanged.
    """
    size = _check_input_size(input_size)
    if depth is not None and depth < 1:
        raise ConfigError(f"depth {depth} is too small: use 1 or more (or None for every layer)")
    x = _input_like(model, size, device)
    modes = {m: m.training for m in model.modules()}  # restored one by one: may be mixed
    recorder = _Recorder(model, depth)
    try:
        model.eval()
        with torch.no_grad():
            model(x)
    finally:
        recorder.remove()
        for module, training in modes.items():
            module.training = training
    total, trainable, nbytes = _param_totals(model)
    return Summary(
        model=type(model).__name__,
        input_size=size,
        rows=recorder.rows,
        total_params=total,
        trainable_params=trainable,
        param_bytes=nbytes,
        input_bytes=x.numel() * x.element_size(),
    )


def count_macs_total(
    model: nn.Module,
    input_size: Sequence[int],
    *,
    device: str | torch.device | None = None,
) -> int:
    """MACs of one forward pass on ``input_size`` (batch included, e.g. ``(1, 3, 224, 224)``).

    Counting needs shapes only, so a model built under ``torch.device("meta")`` with
    ``device="meta"`` gives the same figure without allocating or initialising weights.
    """
    return summary(model, input_size, device=device).total_macs


__all__ = [
    "DEFAULT_INPUT_SIZE",
    "Summary",
    "SummaryRow",
    "count_macs_total",
    "count_params",
    "human_count",
    "render_table",
    "summary",
]
