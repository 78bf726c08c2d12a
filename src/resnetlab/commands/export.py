"""``resnetlab export SOURCE --format onnx|openvino|torchscript``: a deployable, verified model
file."""

from __future__ import annotations

import argparse
from pathlib import Path

from resnetlab.commands import options
from resnetlab.errors import ConfigError

FORMATS = {"onnx": ".onnx", "openvino": ".xml", "torchscript": ".pt"}
RUNTIMES = {"onnx": "onnxruntime", "openvino": "OpenVINO CPU", "torchscript": "torch.jit"}
_CHECK_IMAGES = 16


def register(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``resnetlab export``."""
    parser.description = (
        "Export a trained run directory, a .safetensors with model.json, or raw weights "
        "(torchvision/timm .pth, URL, IMAGENET1K_V1 with --model) to ONNX or OpenVINO IR (both "
        "with a dynamic batch and the model.json fields inside) or TorchScript. The file is "
        "re-loaded and compared with PyTorch. --int8 adds a statically "
        "quantized ONNX copy calibrated on images you provide.")
    options.add_weights_argument(parser, "source")
    options.add_model(parser, options.RAW_WEIGHTS_MODEL_NOTE, weights=False)
    parser.add_argument("--format", choices=sorted(FORMATS), default="onnx",
                        help="output format: onnx (.onnx), openvino (OpenVINO IR: .xml + "
                        ".bin), torchscript (.pt) (default: onnx)")
    parser.add_argument("--fold-bn", action="store_true",
                        help="fold BatchNorm into the preceding convolutions first")
    parser.add_argument("--opset", type=options.whole_number, default=17, metavar="N",
                        help="ONNX opset (>= 17; default 17)")
    options.add_output(parser, "a file; default: beside the source, model.onnx/model.xml/"
                       "model.pt; OpenVINO's weights go to <stem>.bin beside the .xml, the "
                       "int8 copy to <stem>.int8.onnx",
                       overwrite="replace an earlier export at --out")
    quant = parser.add_argument_group("int8 quantization (ONNX only)")
    quant.add_argument("--int8", action="store_true",
                       help="also write a static int8 (QDQ, per-channel) ONNX model")
    quant.add_argument("--calibration-dir", metavar="DIR", type=Path,
                       help="folder of images to calibrate on (any layout)")
    quant.add_argument("--calibration-data", metavar="NAME",
                       help="dataset to calibrate on instead (e.g. cifar10; needs --data-dir)")
    options.add(quant, "--data-dir", "of the --calibration-data dataset")
    quant.add_argument("--num-calibration", type=options.whole_number, default=500, metavar="N",
                       help="calibration images to use (default 500)")
    quant.add_argument("--calibration-method", default="minmax",
                       choices=("minmax", "entropy", "percentile"),
                       help="how activation ranges are chosen (default minmax)")
    parser.set_defaults(func=run)


def default_output(source: str, model_name: str, fmt: str) -> Path:
    """``RUN_DIR/model.onnx``, ``<weights stem>.onnx`` beside a file, else ``./<model>.onnx``."""
    suffix = FORMATS[fmt]
    p = Path(source).expanduser()
    if p.is_dir():
        return p / f"model{suffix}"
    if p.is_file():
        return p.with_suffix(suffix) if p.name != "model.json" else p.with_name(f"model{suffix}")
    return Path(f"{model_name}{suffix}")


def _check_inputs(args: argparse.Namespace, meta: dict):
    from resnetlab.deploy.calibration import calibration_images

    if args.calibration_dir is None and args.calibration_data is None:
        return None
    return calibration_images(meta, directory=args.calibration_dir,
                              dataset=args.calibration_data, data_dir=args.data_dir,
                              count=args.num_calibration)


def int8_output(fp32: Path) -> Path:
    """``model.onnx`` -> ``model.int8.onnx``."""
    return fp32.with_name(f"{fp32.name.removesuffix('.onnx')}.int8.onnx")


def _outputs(out: Path, fmt: str, int8: bool) -> list[Path]:
    """Every file the export writes: OpenVINO's .bin beside the .xml, the int8 copy."""
    if fmt == "openvino":
        if out.suffix != ".xml":
            raise ConfigError(f"--out {out} must end in .xml for --format openvino (the "
                              "weights go beside it as .bin)")
        return [out, out.with_suffix(".bin")]
    return [out, int8_output(out)] if int8 else [out]


def _quantize(args: argparse.Namespace, fp32: Path, images) -> None:
    from resnetlab.deploy.export import onnx_session, run_onnx
    from resnetlab.deploy.quantize import quantize_onnx

    out = int8_output(fp32)
    quantize_onnx(fp32, out, images, method=args.calibration_method)
    reference = run_onnx(onnx_session(fp32), images).argmax(1)
    int8 = run_onnx(onnx_session(out), images).argmax(1)
    agreement = 100.0 * float((reference == int8).mean())
    print(f"int8 -> {out} (QDQ, per-channel weights, {len(images)} calibration images, "
          f"{args.calibration_method}); top-1 agreement with fp32 on them: {agreement:.1f} %")


def run(args: argparse.Namespace) -> int:
    """Load, optionally fold BN, export, verify, optionally quantize."""
    from resnetlab.deploy.export import export_onnx, export_torchscript
    from resnetlab.deploy.fold_bn import find_conv_bn_pairs, fold_batchnorm
    from resnetlab.deploy.openvino import export_openvino
    from resnetlab.models.hub.loader import load_model

    if args.int8 and args.format != "onnx":
        raise ConfigError("--int8 works with --format onnx only; drop one of them")
    calibrating = args.calibration_dir is not None or args.calibration_data is not None
    if args.int8 and not calibrating:
        raise ConfigError("--int8 needs calibration images: add --calibration-dir DIR or "
                          "--calibration-data NAME --data-dir DIR")
    if calibrating and not args.int8:
        raise ConfigError("calibration images are for --int8; add --int8 or drop them")
    if args.out is not None or args.model is not None:  # known before the weights are read
        options.refuse_existing(_outputs(args.out or default_output(
            args.source, args.model, args.format), args.format, args.int8), args.overwrite)
    model, meta = load_model(args.source, args.model)
    out = args.out or default_output(args.source, meta["model"], args.format)
    outputs = _outputs(out, args.format, args.int8)
    options.refuse_existing(outputs, args.overwrite)
    images = _check_inputs(args, meta)
    check = images[:_CHECK_IMAGES] if images is not None else None
    notes = []
    if args.fold_bn:
        notes.append(f"{len(find_conv_bn_pairs(model))} conv-BN pairs folded")
        model = fold_batchnorm(model)
    if args.format == "onnx":
        result = export_onnx(model, out, meta["input_size"], meta=meta, opset=args.opset,
                             check_inputs=check)
        notes[:0] = [f"opset {args.opset}", "dynamic batch"]
    elif args.format == "openvino":
        result = export_openvino(model, out, meta["input_size"], meta=meta, check_inputs=check)
        notes[:0] = ["dynamic batch", f"weights in {outputs[1].name}"]
    else:
        result = export_torchscript(model, out, meta["input_size"], check_inputs=check)
    what = "images" if check is not None else "random inputs"
    print(f"exported {meta['model']} -> {result.path} ({result.format}; {', '.join(notes)})"
          if notes else f"exported {meta['model']} -> {result.path} ({result.format})")
    print(f"check: {RUNTIMES[args.format]} vs PyTorch max |diff| {result.max_abs_diff:.2e} on "
          f"{result.checked} {what}")
    if args.int8:
        _quantize(args, result.path, images)
    return 0
