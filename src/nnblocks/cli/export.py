"""``nnblocks export CKPT --onnx model.onnx``: a model saved by ``nnblocks train``, out of nnblocks.

    nnblocks export nnblocks-out/train-digits/model.npz --onnx digits.onnx
    nnblocks export model.npz --onnx model.onnx --probabilities --torch model.pt

The checkpoint's config rebuilds the network (an MLP, or a CNN for a ``--conv`` run) and its weights are loaded, as
``nnblocks evaluate`` does. ``--onnx`` writes an ONNX inference graph (eval mode: dropout off, batch norm with its
running statistics) whose input is the raw features, one row per sample as the data pipeline gives them (a CNN's
graph then views each row as its C x H x W image): the training's input scaling (/255 or standardization) is the
graph's first step, unless ``--no-scaling``. Its output is the network's logits, or with ``--probabilities`` softmax
(sigmoid for a bce model) probabilities. ``--torch`` writes the same network as a whole ``torch.nn.Module`` with
``torch.save`` (PyTorch's pickle format: load it with ``torch.load(path, weights_only=False)``); a CNN's is the
book's ``nn.Sequential``, which takes images (N, C, H, W). Needs ``pip install "nnblocks[export]"``.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("export", help="write a `nnblocks train` checkpoint as ONNX (or a PyTorch module)",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", metavar="CKPT", help="a model.npz written by `nnblocks train`")
    p.add_argument("--onnx", metavar="PATH", default=None, help="write an ONNX model here")
    p.add_argument("--torch", metavar="PATH", default=None, help="write a torch.nn.Module here (torch.save)")
    p.add_argument("--probabilities", action="store_true",
                   help="end with softmax (sigmoid for bce): probabilities instead of logits")
    p.add_argument("--no-scaling", action="store_true",
                   help="leave the input scaling out of the ONNX graph (it then takes scaled inputs)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.set_defaults(func=run, _parser=p)


def _scaling(extra: Any) -> tuple[Any, Any, str]:
    """``(shift, divisor, description)`` of the training's input scaling, from the checkpoint's stored scaler."""
    scaler = (extra or {}).get("scaler") or {"kind": "none"}
    if scaler.get("kind") == "255":
        return None, 255.0, "/255"
    if scaler.get("kind") == "standard":
        return scaler["mean"], scaler["std"], "(x - mean) / std of the training split"
    return None, None, "none"


def _image_text(config: Any) -> str:
    return "x".join(str(d) for d in config.input_shape)


def _rebuild(parser: argparse.ArgumentParser, path: str) -> tuple[Any, Any, Any]:
    """The checkpoint's model (weights loaded, eval mode), its config and the checkpoint."""
    from nnblocks import recipe
    from nnblocks.errors import CheckpointError, InvalidValueError
    from nnblocks.train import load_checkpoint, read_checkpoint

    try:
        ckpt = read_checkpoint(path)
    except (CheckpointError, FileNotFoundError) as exc:
        parser.error(f"argument CKPT: {exc}")
    if not isinstance(ckpt.config, dict) or ckpt.config.get("kind") != recipe.KIND:
        parser.error(f"argument CKPT: {path} holds no `nnblocks train` config, so the model cannot be rebuilt from "
                     "it; in Python, build the model, load_checkpoint(path, model), then nnblocks.export.to_onnx")
    try:
        config = recipe.TrainConfig.from_dict(ckpt.config)
        model = recipe.build_model(config)
        load_checkpoint(ckpt.path, model, restore_rng=False)
    except (CheckpointError, InvalidValueError) as exc:
        parser.error(f"argument CKPT: {path}: {exc}")
    return model.eval(), config, ckpt


def run(args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args._parser
    if not args.onnx and not args.torch:
        parser.error("nothing to write: give --onnx PATH and/or --torch PATH")
    model, config, ckpt = _rebuild(parser, args.checkpoint)
    from nnblocks import export, nn

    output = "logits"
    if args.probabilities:
        if config.loss not in ("cross-entropy", "bce"):
            parser.error(f"argument --probabilities: this model was trained with {config.loss} loss: its outputs "
                         "are not scores of classes")
        model = nn.Sequential(model, nn.Softmax(dim=1) if config.loss == "cross-entropy" else nn.Sigmoid())
        output = "probabilities"
    try:
        if args.onnx:
            shift, divisor, scaling = (None, None, "none (the graph takes scaled inputs)") if args.no_scaling \
                else _scaling(ckpt.extra)
            path = export.to_onnx(model, args.onnx, (config.in_features,), input_shift=shift, input_divisor=divisor,
                                  opset=args.opset)
            rows = f", the {_image_text(config)} images' pixels row by row" if config.conv else ""
            print(f"wrote {path}: input 'input' (batch, {config.in_features}) raw features{rows}, scaling inside: "
                  f"{scaling}; output 'output' (batch, {config.out_features}) {output}; opset {args.opset}, "
                  f"epoch {ckpt.epoch} of {args.checkpoint}")
        if args.torch:
            import torch

            torch.save(export.to_torch(model), args.torch)
            takes = f"takes images (batch, {', '.join(str(d) for d in config.input_shape)})" if config.conv \
                else "inputs"
            print(f"wrote {args.torch}: a torch.nn.Module ({output}, {takes} scaled as in training); load it "
                  f"with torch.load({args.torch!r}, weights_only=False)")
    except ImportError as exc:
        print(f"nnblocks export: error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # an opset out of range, a layer ONNX cannot express
        parser.error(str(exc))
    return 0
