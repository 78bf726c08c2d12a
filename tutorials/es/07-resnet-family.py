# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 07 · La familia ResNet
#
# Tras la ResNet original (He et al. 2015, "Deep Residual Learning for Image Recognition") la
# idea creció en cuatro direcciones, y resnetlab las construye todas a partir de un mismo
# `ResNetConfig`:
#
# | dirección | qué cambia | artículo |
# |---|---|---|
# | **profundidad** | más bloques; cuellos de botella desde 50 capas | He et al. 2015 |
# | **preactivación** (v2) | BN-ReLU *antes* de cada conv, nada tras la suma | He et al. 2016 |
# | **anchura** (Wide ResNet) | menos capas, k veces más canales | Zagoruyko y Komodakis 2016 |
# | **cardinalidad** (ResNeXt) | la conv 3×3 partida en 32 grupos | Xie et al. 2017 |
#
# (He et al. 2016: "Identity Mappings in Deep Residual Networks"; Zagoruyko y Komodakis 2016:
# "Wide Residual Networks"; Xie et al. 2017: "Aggregated Residual Transformations for Deep
# Neural Networks", el artículo de ResNeXt.)
#
# Compararemos su tamaño y su coste con las fichas de modelo (model cards) de resnetlab, las
# contrastaremos con las cifras que imprimen los artículos, veremos *con números* la diferencia
# entre los bloques v1 y v2, y entrenaremos tres miembros pequeños de la familia lado a lado.
#
# **Tiempo.** Modo rápido (`RESNETLAB_QUICK=1`): unos 10 s. Modo completo: de 2 a 5 minutos en la
# CPU de un portátil (3 modelos × 5 épocas del subconjunto de 4068 imágenes de CIFAR-10; la red
# ancha es la que más tarda).

# %% tags=["parameters"]
import os
from pathlib import Path

QUICK = os.environ.get("RESNETLAB_QUICK") == "1"
DATA_DIR = Path(os.environ.get("RESNETLAB_DATA_DIR", "data"))
OUT = Path(os.environ.get("RESNETLAB_TUTORIAL_OUT", "outputs")) / "07"
OUT.mkdir(parents=True, exist_ok=True)
SEED = 0
os.environ.setdefault("RESNETLAB_LANG", "es")

QUICK_STEPS = 30  # modo rápido: pasos de entrenamiento por modelo con los dígitos 8x8
FULL_EPOCHS = 5  # modo completo: épocas por modelo con el subconjunto de CIFAR-10 (~160 pasos)

# %%
import csv

import matplotlib.pyplot as plt
import torch
from torch import nn

import resnetlab as rl
from resnetlab.analysis.formulas import param_formula
from resnetlab.models.blocks import BasicBlock, PreActBasicBlock
from resnetlab.models.registry import resolve_config

torch.manual_seed(SEED)

# %% [markdown]
# ## 1. La familia en el registro de resnetlab
#
# `rl.list_models()` da todos los nombres registrados y `rl.get_card(nombre)` su **ficha de
# modelo**: el número exacto de parámetros y de MACs (multiplicaciones-acumulaciones, una
# multiplicación más una suma) con el tamaño de entrada por defecto, medidos sobre el modelo
# construido y guardados como datos, además del artículo y la exactitud publicada, con su
# fuente. Leer una ficha no construye nada.

# %%
IMAGENET = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d",
            "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2"]
CIFAR = ["resnet20", "resnet56", "resnet110", "preact_resnet110", "preact_resnet164",
         "wrn_40_4", "wrn_16_8", "wrn_28_10", "resnext29_8x64d", "resnext29_16x64d"]
registered = rl.list_models()
assert set(IMAGENET + CIFAR) <= set(registered)
cards = {name: rl.get_card(name) for name in IMAGENET + CIFAR}
print(f"{len(registered)} modelos registrados; los que comparamos:\n")
print(f"{'nombre':<18} {'parámetros':>12} {'MACs':>15} {'entrada':>11}  publicado (fuente)")
for name, card in cards.items():
    size = "×".join(map(str, card.input_size))
    print(f"{name:<18} {card.params:>12,} {card.macs:>15,} {size:>11}  {card.reported}")

# %% [markdown]
# Las fichas no están tecleadas a mano: están medidas. Comprobamos tres contando los parámetros
# del modelo construido (en el dispositivo `meta` de PyTorch: solo formas, sin memoria y sin
# inicialización) y comparándolos con los que publica torchvision para las mismas
# arquitecturas.

# %%
TORCHVISION_PARAMS = {"resnet50": 25_557_032, "resnext50_32x4d": 25_028_904,
                      "wide_resnet50_2": 68_883_240}
built = {}
for name, published in TORCHVISION_PARAMS.items():
    with torch.device("meta"):
        built[name] = rl.create_model(name)
    counted = sum(p.numel() for p in built[name].parameters())
    print(f"{name:<16} contados {counted:,} = ficha {cards[name].params:,} = torchvision")
    assert counted == cards[name].params == published

params = {name: card.params for name, card in cards.items()}
macs = {name: card.macs for name, card in cards.items()}
print(f"wide_resnet50_2 / resnet50: {params['wide_resnet50_2'] / params['resnet50']:.2f}x "
      f"los parámetros, {macs['wide_resnet50_2'] / macs['resnet50']:.2f}x los MACs")
print(f"resnext50_32x4d / resnet50: {params['resnext50_32x4d'] / params['resnet50']:.3f}x "
      f"los parámetros, {macs['resnext50_32x4d'] / macs['resnet50']:.3f}x los MACs")
print(f"resnet50 / resnet34: {params['resnet50'] / params['resnet34']:.2f}x los parámetros, "
      f"{macs['resnet50'] / macs['resnet34']:.2f}x los MACs con 16 capas más")
assert params["wide_resnet50_2"] > 2.5 * params["resnet50"]
assert params["resnext50_32x4d"] < params["resnet50"] and macs["resnext50_32x4d"] > macs["resnet50"]
assert macs["resnet50"] < 1.2 * macs["resnet34"]
assert params["preact_resnet164"] < params["preact_resnet110"]

# %% [markdown]
# Tres hechos que conviene recordar: la ResNet-50-2 **ancha** (Wide) paga 2,7 veces los
# parámetros por duplicar la anchura de su cuello de botella; la **ResNeXt**-50 tiene *menos*
# parámetros que la ResNet-50 con casi los mismos MACs (Xie et al. la diseñaron así, para
# comparar a igual complejidad); y el **cuello de botella** (bottleneck) abarata la
# profundidad: la ResNet-50 cuesta apenas más que la ResNet-34, y la red preactivada de 164
# capas tiene menos parámetros que la de 110.
#
# **Una corrección a los apuntes.** El `create_resnet(blocks=[3, 4, 6, 3],
# use_bottleneck=True)` en Keras de los apuntes no es una ResNet-50: su cuello de botella
# *reduce* a `filters // 4` y saca `filters` = 64…512 canales, mientras que el de la ResNet-50
# *expande* su anchura interna ×4, hasta 256…2048 canales. resnetlab construye esa misma
# estructura si le pasamos las anchuras internas 16…128:

# %%
with torch.device("meta"):
    notes_layout = rl.create_model("resnet50", widths=(16, 32, 64, 128))
notes_params = sum(p.numel() for p in notes_layout.parameters())
print(f"la estructura de los apuntes: {notes_layout.num_features} canales de salida, "
      f"{notes_params:,} parámetros; ResNet-50: {cards['resnet50'].params:,}")
assert notes_layout.num_features == 512 and notes_params < cards["resnet50"].params / 5

# %% [markdown]
# (El código Keras además pone un sesgo (bias) a cada convolución; la normalización por lotes
# (batch normalization) que va justo detrás resta la media de todos modos, y por eso las
# convoluciones de una ResNet llevan `bias=False`.)
#
# ## 2. Frente a los artículos
#
# Los artículos imprimen cifras redondeadas. La tabla pone al lado las cuentas exactas de
# resnetlab: costes en ImageNet de He et al. 2015, tabla 1 (sus "FLOPs" son
# multiplicaciones-sumas, es decir, MACs) y de Xie et al. 2017, tabla 1; parámetros en CIFAR de
# He et al. 2015, tabla 6, He et al. 2016, Zagoruyko y Komodakis 2016 y Xie et al. 2017,
# tabla 7.

# %%
HE2015, HE2016 = "He et al. 2015", "He et al. 2016"
WRN, XIE = "Zagoruyko & Komodakis 2016", "Xie et al. 2017"
PAPER = [  # (modelo, magnitud, cifra impresa, fuente)
    ("resnet18", "GMACs", "1.8", f"{HE2015}, Table 1"),
    ("resnet34", "GMACs", "3.6", f"{HE2015}, Table 1"),
    ("resnet50", "GMACs", "3.8", f"{HE2015}, Table 1"),
    ("resnet101", "GMACs", "7.6", f"{HE2015}, Table 1"),
    ("resnet152", "GMACs", "11.3", f"{HE2015}, Table 1"),
    ("resnet50", "GMACs", "4.1", f"{XIE}, Table 1"),
    ("resnet50", "M params", "25.5", f"{XIE}, Table 1"),
    ("resnext50_32x4d", "GMACs", "4.2", f"{XIE}, Table 1"),
    ("resnext50_32x4d", "M params", "25.0", f"{XIE}, Table 1"),
    ("resnet20", "M params", "0.27", f"{HE2015}, Table 6"),
    ("resnet56", "M params", "0.85", f"{HE2015}, Table 6"),
    ("resnet110", "M params", "1.7", f"{HE2015}, Table 6"),
    ("preact_resnet110", "M params", "1.7", HE2016),
    ("preact_resnet164", "M params", "1.7", HE2016),
    ("wrn_40_4", "M params", "8.9", WRN),
    ("wrn_16_8", "M params", "11.0", WRN),
    ("wrn_28_10", "M params", "36.5", WRN),
    ("resnext29_8x64d", "M params", "34.4", f"{XIE}, Table 7"),
    ("resnext29_16x64d", "M params", "68.1", f"{XIE}, Table 7"),
]


def ours(name: str, quantity: str) -> float:
    """La cifra de resnetlab en la unidad del artículo."""
    return cards[name].macs / 1e9 if quantity == "GMACs" else cards[name].params / 1e6


print(f"{'modelo':<17} {'magnitud':<9} {'art.':>6} {'resnetlab':>10}  fuente")
for name, quantity, printed, source in PAPER:
    print(f"{name:<17} {quantity:<9} {printed:>6} {ours(name, quantity):>10.3f}  {source}")
for name, quantity, printed, source in PAPER:
    if quantity == "M params":
        # iguales salvo el redondeo de la cifra impresa (media unidad de su última cifra) o 0,5 %
        decimals = len(printed.partition(".")[2])
        tolerance = max(0.5 * 10 ** -decimals, 0.005 * float(printed))
        assert abs(ours(name, quantity) - float(printed)) <= tolerance, (name, source)

# %% [markdown]
# Todos los recuentos de parámetros coinciden con el artículo salvo redondeo. Los costes de
# ResNet-50, 101 y 152, no: resnetlab da 4,09 G para la ResNet-50 donde He et al. imprimen
# 3,8 G, mientras que Xie et al. imprimen 4,1 G para la "misma" red. Las dos cifras son
# correctas, para dos redes distintas. El cuello de botella original pone el paso (stride) 2
# del primer bloque de cada etapa en su primera conv 1×1; torchvision (y por tanto resnetlab,
# para poder cargar sus pesos) lo pone en la conv 3×3, la disposición "ResNet v1.5" que también
# usaron Xie et al. Así, esa primera conv 1×1 trabaja a la resolución de *entrada*, con 4 veces
# más posiciones. Con los MACs por capa de `rl.summary` podemos deshacerlo: con el paso en la
# 1×1, esa conv costaría la cuarta parte de lo que cuesta ahora.

# %%
r50 = built["resnet50"]
rows = {row.name: row for row in rl.summary(r50, (1, 3, 224, 224), device="meta").rows}
first_convs = [f"{stage}.0.conv1" for stage in ("layer2", "layer3", "layer4")]
saving = sum(0.75 * rows[name].macs for name in first_convs)
for name in first_convs:
    print(f"{name}: {rows[name].macs:,} MACs a {rows[name].output_shape[2]}×"
          f"{rows[name].output_shape[3]}; con paso 2 en ella: {rows[name].macs // 4:,}")
# los primeros bloques de las etapas 2-4 son iguales en ResNet-50, 101 y 152: mismo bloque y
# mismas anchuras
for name in ("resnet101", "resnet152"):
    config = resolve_config(name)
    assert (config.block, config.widths) == (r50.config.block, r50.config.widths)
print(f"ahorro: {saving / 1e9:.3f} GMACs en cada una de ResNet-50/101/152")
table1 = [row for row in PAPER if row[3] == f"{HE2015}, Table 1"]
for name, _, printed, source in table1:
    bottleneck = name in ("resnet50", "resnet101", "resnet152")
    v1 = (cards[name].macs - (saving if bottleneck else 0)) / 1e9
    print(f"{name:<10} v1.5 (resnetlab) {cards[name].macs / 1e9:6.3f}  ->  v1 {v1:6.3f}   "
          f"{source}: {printed}")
    assert abs(v1 - float(printed)) < 0.1
assert cards["resnet50"].macs / 1e9 - float(table1[2][2]) > 0.2

# %% [markdown]
# Lo que los artículos publican como **exactitud** (las fichas lo recogen, con su fuente):
#
# - He et al. 2015, tabla 6 (error de prueba en CIFAR-10): ResNet-20 8,75 %, ResNet-56 6,97 %,
#   ResNet-110 6,43 %. En ImageNet (tabla 4) una sola ResNet-152 llegó a un 4,49 % de error
#   top-5 en validación, y un conjunto de modelos (ensemble) a un 3,57 % en prueba (tabla 5),
#   con el que ganaron ILSVRC 2015.
# - He et al. 2016: la misma red de 110 capas con preactivación completa, 6,37 % (tabla 2); con
#   164 capas, 5,46 % (tabla 4); con 1001 capas, 4,62 % (resumen).
# - Zagoruyko y Komodakis 2016: WRN-28-10, 4,17 % (tabla 4, sin dropout): una red de 28 capas
#   que supera a la de 1001.
# - Xie et al. 2017, tabla 7: ResNeXt-29 8×64d 3,65 %, 16×64d 3,58 %.
# - Top-1 en ImageNet de los pesos de torchvision que carga resnetlab: ResNet-50 76,13 %,
#   ResNeXt-50 77,62 %, Wide ResNet-50-2 78,47 %.
#
# Son las cifras de los artículos, medidas con sus presupuestos de entrenamiento (cientos de
# épocas en GPU); el entrenamiento del final de este cuaderno es demasiado corto para
# reproducirlas.

# %%
for name in ("resnet20", "resnet56", "resnet110", "preact_resnet110", "preact_resnet164",
             "wrn_28_10", "resnext29_8x64d", "resnet50", "resnext50_32x4d", "wide_resnet50_2"):
    print(f"{name:<17} {cards[name].reported}\n{'':<17} {cards[name].paper}")

# %% [markdown]
# ## 3. Bloques v1 y preactivados, con números
#
# ```
#   v1 (He et al. 2015)                 preactivación v2 (He et al. 2016)
#   x ─┬─ conv-BN-ReLU-conv-BN ─(+)─ ReLU ─►    x ─┬─ BN-ReLU-conv-BN-ReLU-conv ─(+)─►
#      └────────── identidad ────┘                 └──────────── identidad ────────┘
# ```
#
# La única diferencia que importa es lo que pasa **después de la suma**: v1 aplica una ReLU, v2
# nada. Construimos un bloque de cada tipo con `resnetlab.models.blocks`, les damos la misma
# entrada y miramos la salida:
#
# - v1: `out = ReLU(F(x) + x)`, así que la salida nunca es negativa, y la `x` de la conexión
#   residual (skip connection) sale recortada;
# - v2: `out = x + F(x)` exactamente: el camino identidad lleva `x` intacta.

# %%
x = torch.randn(4, 16, 8, 8)
v1_block, v2_block = BasicBlock(16, 16).eval(), PreActBasicBlock(16, 16).eval()
with torch.no_grad():
    y1, f1, s1 = v1_block(x), v1_block.residual(x), v1_block.shortcut(x)
    y2, f2 = v2_block(x), v2_block.residual(x)
print(f"v1: salida mínima {float(y1.min()):.3f}, salidas negativas "
      f"{float((y1 < 0).float().mean()):.0%}, máx |out - ReLU(F(x) + x)| = "
      f"{float((y1 - torch.relu(f1 + s1)).abs().max()):.1e}")
print(f"v2: salida mínima {float(y2.min()):.3f}, salidas negativas "
      f"{float((y2 < 0).float().mean()):.0%}, máx |out - (x + F(x))| = "
      f"{float((y2 - (x + f2)).abs().max()):.1e}")
assert float(y1.min()) >= 0.0 and float((y1 - torch.relu(f1 + s1)).abs().max()) <= 1e-6
assert float(y2.min()) < 0.0 and float((y2 - (x + f2)).abs().max()) <= 1e-6

# %% [markdown]
# A lo largo de una etapa entera esto es la ecuación clave de He et al. 2016: con atajos
# identidad y nada después de la suma, la salida del bloque $L$ es la entrada del bloque $l$
# más una **suma** de residuos,
#
# $$x_L = x_l + \sum_{i=l}^{L-1} F(x_i),$$
#
# así que el gradiente $\partial x_L / \partial x_l$ siempre contiene un $1$ limpio: la señal y
# el gradiente pueden cruzar la etapa sin multiplicarse por ningún peso. Lo comprobamos en la
# primera etapa de una ResNet-20 preactivada y de la ResNet-20 v1 (tres bloques con atajos
# identidad).

# %%
digits = rl.data.load("digits")
batch = rl.data.normalize(digits.test.images[:8], digits.test.mean, digits.test.std)


def additive_gap(model: nn.Module, x: torch.Tensor) -> float:
    """máx |x_L - (x_0 + suma de residuos)| en la primera etapa, relativo a máx |x_L|."""
    h = model.stem(x)
    total = h.clone()
    with torch.no_grad():
        for block in model.layer1:
            total = total + block.residual(h)
            h = block(h)
    return float((h - total).abs().max()) / float(h.abs().max())


v1_net = rl.create_model("resnet20", num_classes=10, in_chans=1).eval()
v2_net = rl.create_model("preact_resnet110", depth=20, num_classes=10, in_chans=1).eval()
with torch.no_grad():
    gaps = {"v1": additive_gap(v1_net, batch), "v2": additive_gap(v2_net, batch)}
print(f"resnet20 (v1):             |x_L - (x_0 + suma F)| / |x_L| = {gaps['v1']:.1e}")
print(f"resnet20 preactivada (v2): |x_L - (x_0 + suma F)| / |x_L| = {gaps['v2']:.1e}")
assert gaps["v2"] <= 1e-5 and gaps["v1"] > 1e-2

# %% [markdown]
# ## 4. Anchura y cardinalidad dentro de un bloque
#
# ¿De dónde salen las diferencias de tamaño? Comparemos la convolución 3×3 del primer bloque de
# ResNet-50, ResNeXt-50 32×4d y Wide ResNet-50-2 con `param_formula`
# (salidas × entradas/grupos × 3 × 3):
#
# - ResNeXt duplica la anchura interna (64 → 128) pero la parte en 32 grupos de 4 canales, y
#   cada grupo solo ve sus 4 entradas: muchos menos pesos;
# - Wide ResNet duplica la anchura interna (64 → 128) sin grupos: 4 veces los pesos.

# %%
trio = built  # resnet50, resnext50_32x4d y wide_resnet50_2, construidas en "meta" (sección 1)
for name, model in trio.items():
    conv = model.layer1[0].conv2
    print(f"{name:<16} layer1.0.conv2 ({conv.in_channels}→{conv.out_channels}, grupos "
          f"{conv.groups}): {param_formula(conv)}")
conv_params = {n: m.layer1[0].conv2.weight.numel() for n, m in trio.items()}
assert conv_params["resnext50_32x4d"] == 128 * (128 // 32) * 3 * 3
assert conv_params["wide_resnet50_2"] == 4 * conv_params["resnet50"]

# %% [markdown]
# ## 5. Toda la familia de un vistazo
#
# Parámetros y MACs de las fichas (modelos de ImageNet a 224×224, de CIFAR a 32×32).

# %%
COLORS = {"v1": "#4c72b0", "preactivación": "#dd8452", "ancha": "#55a868", "ResNeXt": "#c44e52"}


def kind(name: str) -> str:
    """La dirección de cada miembro de la familia, para el color de la barra."""
    if "resnext" in name:
        return "ResNeXt"
    if "wide" in name or "wrn" in name:
        return "ancha"
    return "preactivación" if "preact" in name else "v1"


fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), layout="constrained")
for row, (names, title, unit, scale) in enumerate(
        [(IMAGENET, "ImageNet, 224×224", "GMACs", 1e9), (CIFAR, "CIFAR, 32×32", "GMACs", 1e9)]):
    colors = [COLORS[kind(n)] for n in names]
    for col, (values, label) in enumerate([([params[n] / 1e6 for n in names], "parámetros (M)"),
                                           ([macs[n] / scale for n in names], unit)]):
        ax = axes[row, col]
        bars = ax.barh(names, values, color=colors)
        ax.bar_label(bars, fmt="%.3g", fontsize=8, padding=2)
        ax.invert_yaxis()
        ax.set_xlabel(label)
        ax.set_xlim(0, max(values) * 1.18)
        ax.set_title(f"{title}: {label}", fontsize=10)
        ax.tick_params(axis="y", labelsize=8)
handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in COLORS.values()]
fig.legend(handles, list(COLORS), loc="outside lower center", ncols=4, fontsize=9)
fig.suptitle("La familia ResNet: tamaño y coste según las fichas de resnetlab", fontsize=11)
fig.savefig(OUT / "family.png", dpi=100)
plt.show()

# %% [markdown]
# ## 6. Tres miembros lado a lado
#
# Una pequeña carrera entre una ResNet-20 (v1), la misma profundidad con bloques preactivados y
# una Wide ResNet-16-2 (el doble de canales, 16 capas), todas con la misma receta, los mismos
# datos y la misma semilla. Modo rápido: unos pocos pasos con los dígitos 8×8 incluidos. Modo
# completo: 5 épocas cada una con el subconjunto de CIFAR-10. La receta es la de He et al. para
# CIFAR (`he2016`), acortada: sus bajadas de la tasa de aprendizaje al 50 % y al 75 % del
# entrenamiento conservan su sitio sea cual sea la duración.

# %%
MEMBERS = {  # carpeta de la ejecución: (etiqueta, nombre registrado, cambios)
    "resnet20": ("resnet20 (v1)", "resnet20", {}),
    "preact-resnet20": ("resnet20 preactivada (v2)", "preact_resnet110", {"depth": 20}),
    "wrn-16-2": ("wrn-16-2 (ancha)", "wrn_16_8", {"depth": 16, "widths": (32, 64, 128)}),
}
# la receta CIFAR de He et al. (he2016: SGD, lr 0,1, /10 al 50 % y al 75 % del entrenamiento),
# sin su partición de validación de 5000 imágenes; los dígitos no son simétricos: sin volteos
data, length = None, {"overrides": {"iterations": QUICK_STEPS, "batch_size": 64, "pad": 1,
                                    "flip": False, "tta_flip": False, "val_size": 0}}
if not QUICK:
    try:
        data = rl.data.load("cifar10", root=DATA_DIR / "cifar-10-batches-py", download=True)
        length = {"overrides": {"epochs": FULL_EPOCHS, "val_size": 0}}
    except rl.ResnetlabError as exc:
        print(f"{exc}\n-> usamos en su lugar los dígitos incluidos")
        length["overrides"].update(iterations=300, pad=2)
if data is None:
    # imágenes diminutas: un hilo va más rápido que dos (docs/training.md, --threads)
    torch.set_num_threads(1)
    data = digits if QUICK else rl.data.load("digits", image_size=16)
print(f"datos: {data.name}, {len(data.train)} imágenes de entrenamiento y {len(data.test)} de "
      f"prueba, de tamaño {tuple(data.input_size)}")

results = {}
for folder, (label, name, overrides) in MEMBERS.items():
    model = rl.create_model(name, num_classes=data.num_classes, in_chans=data.input_size[0],
                            **overrides)
    run = rl.train(model, data, "he2016", OUT / "runs" / folder, seed=SEED, quiet=True,
                   overwrite=True, checkpoint_seconds=0, **length)
    with open(run.run_dir / "metrics.csv") as f:
        history = list(csv.DictReader(f))
    results[folder] = {"label": label, "params": sum(p.numel() for p in model.parameters()),
                      "macs": rl.summary(model, (1, *data.input_size)).total_macs,
                      "top1": run.metrics["test_top1"], "steps": run.metrics["steps"],
                      "seconds": run.metrics["train_seconds"], "history": history}
    r = results[folder]
    print(f"{label:<26} {r['params']:>9,} parámetros {r['macs'] / 1e6:>8.1f} M MACs/imagen "
          f"{r['steps']:>5} pasos {r['seconds']:6.1f} s  top-1 en prueba {100 * r['top1']:.1f} %")
chance = 1 / data.num_classes
assert all(r["top1"] > 2 * chance for r in results.values())
assert results["wrn-16-2"]["params"] > 2 * results["resnet20"]["params"]

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for r in results.values():
    steps = [int(h["step"]) for h in r["history"]]
    accuracy = [100 * float(h["test_acc"]) for h in r["history"]]
    ax1.plot(steps, accuracy, marker="o", label=r["label"])
ax1.axhline(100 * chance, color="k", ls="--", lw=1, label="azar")
ax1.set_ylim(0, 100)
ax1.set_xlabel("paso de entrenamiento")
ax1.set_ylabel("exactitud en prueba (%)")
ax1.set_title(f"exactitud en prueba durante el entrenamiento ({data.name})", fontsize=10)
ax1.legend(fontsize=8)
labels = list(results)
bars = ax2.bar([results[k]["label"] for k in labels], [100 * results[k]["top1"] for k in labels],
               color=[COLORS["v1"], COLORS["preactivación"], COLORS["ancha"]])
ax2.bar_label(bars, labels=[f"{100 * results[k]['top1']:.1f} %\n{results[k]['params']:,} parám."
                            for k in labels], fontsize=8)
ax2.set_ylim(0, 115)
ax2.set_ylabel("exactitud final en prueba (%)")
ax2.set_title("tras el mismo número de pasos", fontsize=10)
ax2.tick_params(axis="x", labelsize=8)
fig.savefig(OUT / "race.png", dpi=100)
plt.show()

# %% [markdown]
# Hay que leer la carrera con cuidado: unas decenas de pasos (modo rápido) o unos cientos (modo
# completo) son una fracción ínfima de las 64 000 iteraciones de los artículos, otra semilla
# mueve cada barra varios puntos, y la red ancha cuesta varias veces más MACs por imagen (mira
# la tabla), así que tarda más en dar los mismos pasos. Lo que afirman los artículos se
# refiere a entrenamientos largos: la preactivación ayuda sobre todo en redes *muy* profundas
# (1001 capas), y la anchura gana a la profundidad por unidad de tiempo de entrenamiento en
# GPU. Lo que sí vale con cualquier duración es lo que comprobamos con exactitud más arriba:
# tamaños, costes y el camino identidad del bloque preactivado.
#
# ## Para llevarse
#
# - Una receta, cuatro mandos: profundidad (cuello de botella desde 50 capas), preactivación
#   (nada después de la suma, así que `x_L = x_l + ΣF`), anchura (`k` veces los canales, unas
#   k² veces los parámetros) y cardinalidad (convs 3×3 agrupadas: más anchura al mismo coste).
# - Las fichas de modelo dan parámetros y MACs exactos; las cifras de los artículos están
#   redondeadas, y una "ResNet-50" con el paso en la conv 3×3 (v1.5) cuesta 4,1 GMACs, no 3,8.
# - Parámetros no es lo mismo que coste: la ResNeXt-50 tiene menos parámetros que la ResNet-50
#   pero más MACs; la Wide ResNet-50-2 tiene 2,7 veces los parámetros y 2,8 veces los MACs.
