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
# # 01 · El bloque residual
#
# Una red residual nace de una sola idea: en lugar de pedirle a unas pocas capas que calculen
# la transformación que buscamos, $H(x)$, les pedimos solo el **residuo** $F(x) = H(x) - x$ y
# devolvemos la entrada por una **conexión residual** (skip connection), también llamada
# **atajo** (shortcut):
#
# $$y = \mathrm{ReLU}\big(F(x) + S(x)\big), \qquad S(x) = x \text{ si las formas coinciden.}$$
#
# (He et al. 2015, *Deep Residual Learning for Image Recognition*, §3.1–3.2.) En esta lección
# desarmamos los bloques de `resnetlab` y comprobamos cada afirmación con números:
#
# 1. la suma $F(x) + S(x)$ dentro de un `BasicBlock`, verificada hasta el último bit;
# 2. por qué a un bloque residual le resulta fácil aprender la identidad;
# 3. el bloque **cuello de botella** (bottleneck) y lo que de verdad dice su número de
#    parámetros;
# 4. qué tiene que hacer el atajo cuando cambia la forma del tensor, y las opciones A, B y C
#    del artículo;
# 5. dos trampas del código didáctico de los apuntes del curso (notas 000 y 001).
#
# **Tiempo.** Modo rápido (`RESNETLAB_QUICK=1`): unos segundos. Modo completo: menos de un
# minuto; la única diferencia es que los tensores de prueba tienen los tamaños reales de
# ResNet-18 (mapas de 56×56 en lugar de 8×8). Esta lección no necesita ningún conjunto de datos.

# %% tags=["parameters"]
import os
from pathlib import Path

QUICK = os.environ.get("RESNETLAB_QUICK") == "1"
DATA_DIR = Path(os.environ.get("RESNETLAB_DATA_DIR", "data"))  # sin uso aquí: no hacen falta datos
OUT = Path(os.environ.get("RESNETLAB_TUTORIAL_OUT", "outputs")) / "01"
OUT.mkdir(parents=True, exist_ok=True)
SEED = 0
os.environ.setdefault("RESNETLAB_LANG", "es")

SIDE = 8 if QUICK else 56  # alto y ancho de los mapas de características que damos a los bloques
BATCH = 2 if QUICK else 8

# %%
import copy

import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import StrMethodFormatter
from torch import nn

import resnetlab as rl
from resnetlab.analysis import count_params
from resnetlab.analysis.residual import TOLERANCE
from resnetlab.models.blocks import BasicBlock, BottleneckBlock, PreActBasicBlock, ResidualBlock

torch.manual_seed(SEED)
print(f"modo rápido: {QUICK}; mapas de {SIDE}×{SIDE}, lote de {BATCH}; "
      f"tolerancia de las comprobaciones residuales: {TOLERANCE:g}")

# %% [markdown]
# ## 1. La suma residual, comprobada
#
# Los bloques de `resnetlab` mantienen separadas las dos ramas: `block.residual(x)` es $F(x)$
# (convolución 3×3 → normalización por lotes (batch normalization) → ReLU → convolución 3×3 →
# normalización por lotes) y `block.shortcut(x)` es $S(x)$. El `forward` del propio bloque
# tiene que ser exactamente $\mathrm{ReLU}(F(x) + S(x))$. Ponemos el bloque en modo de
# evaluación, para que la normalización por lotes use sus estadísticas guardadas y dos llamadas
# al bloque den el mismo resultado.

# %%
block = BasicBlock(64, 64).eval()  # 64 canales de entrada y de salida, paso 1: la forma no cambia
x = torch.randn(BATCH, 64, SIDE, SIDE)

with torch.no_grad():
    F_x = block.residual(x)
    S_x = block.shortcut(x)
    y = block(x)
    recomputed = torch.relu(F_x + S_x)

max_diff = float((y - recomputed).abs().max())
print("x      ", tuple(x.shape))
print("F(x)   ", tuple(F_x.shape))
print("S(x)   ", tuple(S_x.shape), "- la identidad: S(x) es el propio x" if S_x is x else "")
print(f"máx |block(x) - ReLU(F(x) + S(x))| = {max_diff:.2e}")
assert block.downsample is None and S_x is x
assert y.shape == x.shape
assert max_diff <= 1e-6

# %% [markdown]
# ## 2. Por qué la identidad es fácil de aprender
#
# Supongamos que lo mejor que puede hacer un bloque es dejar pasar su entrada sin tocarla,
# $H(x) = x$. Una pila de capas sin atajo tendría que encontrar pesos que reproduzcan $x$ con
# exactitud; a un bloque residual le basta con llevar $F(x)$ a cero. Poner a cero la escala
# $\gamma$ de la última normalización por lotes hace justamente eso (es la opción
# `zero_init_residual=True` de `rl.create_model`, que Goyal et al. 2017 usan para que una red
# profunda empiece comportándose como una poco profunda). Las entradas de un bloque salen de
# una ReLU, así que nunca son negativas, y entonces el bloque es la identidad.

# %%
quiet = copy.deepcopy(block)
nn.init.zeros_(quiet.last_bn().weight)  # γ = 0 en bn2: F(x) = β = 0 para cualquier entrada
x_pos = torch.relu(x)  # la entrada de un bloque es la salida de una ReLU: nunca negativa

with torch.no_grad():
    f_quiet = quiet.residual(x_pos)
    y_quiet = quiet(x_pos)

print(f"máx |F(x)|         = {float(f_quiet.abs().max()):.2e}")
print(f"máx |block(x) - x| = {float((y_quiet - x_pos).abs().max()):.2e}")
assert float(f_quiet.abs().max()) == 0.0
assert torch.equal(y_quiet, x_pos)

# %% [markdown]
# ## 3. El bloque cuello de botella
#
# En ResNet-50/101/152 el bloque pasa a ser un **cuello de botella** (bottleneck): una
# convolución 1×1 reduce los canales (256 → 64), una convolución 3×3 trabaja sobre el tensor
# delgado y una segunda convolución 1×1 vuelve a expandirlo (64 → 256, la `expansion` de 4).
# La nota 000 compara "3×3×64×64 + 3×3×64×64 = 73,728" de un `BasicBlock` con
# "1×1×256×64 + 3×3×64×64 + 1×1×64×256 = 69,632" de un cuello de botella y concluye "¡menos
# parámetros con más profundidad!". Las dos cuentas están bien, pero describen bloques de
# **anchos distintos**: el cuello de botella maneja 256 canales por el precio de un bloque
# básico de 64. Un bloque básico sobre esos mismos 256 canales costaría 16 veces más. Contemos
# los pesos de las convoluciones de los tres (las normalizaciones por lotes suman además
# 2 parámetros por canal).

# %%
def conv_weights(module: nn.Module) -> int:
    """Solo los pesos de las convoluciones, como cuentan los apuntes (sin γ, β de BatchNorm)."""
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d))


blocks = {
    "BasicBlock 64 → 64": BasicBlock(64, 64),
    "BottleneckBlock 256 → 64 → 256": BottleneckBlock(256, 64),
    "BasicBlock 256 → 256": BasicBlock(256, 256),
}
by_hand = {
    "BasicBlock 64 → 64": 3 * 3 * 64 * 64 + 3 * 3 * 64 * 64,
    "BottleneckBlock 256 → 64 → 256": 1 * 1 * 256 * 64 + 3 * 3 * 64 * 64 + 1 * 1 * 64 * 256,
    "BasicBlock 256 → 256": 3 * 3 * 256 * 256 + 3 * 3 * 256 * 256,
}
print(f"{'bloque':32} {'pesos conv':>13} {'a mano':>10} {'parámetros':>11}")
for name, b in blocks.items():
    print(f"{name:32} {conv_weights(b):>13,} {by_hand[name]:>10,} {count_params(b):>11,}")
    assert conv_weights(b) == by_hand[name]

bottleneck = blocks["BottleneckBlock 256 → 64 → 256"].eval()
x256 = torch.randn(BATCH, 256, SIDE, SIDE)
with torch.no_grad():
    diff = float((bottleneck(x256) - torch.relu(bottleneck.residual(x256)
                                                + bottleneck.shortcut(x256))).abs().max())
print(f"cuello de botella: salida {tuple(bottleneck(x256).shape)}, "
      f"máx |block(x) - ReLU(F(x) + S(x))| = {diff:.2e}")
assert diff <= 1e-6

# %% [markdown]
# ## 4. Si la forma cambia, el atajo también tiene que cambiarla
#
# El primer bloque de cada etapa, a partir de la segunda, reduce la resolución a la mitad
# (paso (stride) 2) y duplica los canales. Entonces $F(x)$ ya no tiene la forma de $x$ y **no
# se pueden sumar**. El código
# didáctico de la nota 001 se equivoca aquí: su `residual_block` solo construye el adaptador
# `self.residual` cuando `change_size=True` y luego consulta `self.change_size`, un atributo
# que nunca guarda; con `change_size=False` en un bloque de paso 2, la suma `y += identity`
# falla. El atajo tiene que transformar $x$ cada vez que $F$ lo hace: con una convolución 1×1
# del mismo paso (una **proyección**) o, sin parámetros, submuestreando y añadiendo canales de
# ceros. Veamos el fallo y la solución.

# %%
down = BasicBlock(16, 32, stride=2, shortcut="B").eval()
x16 = torch.randn(BATCH, 16, 2 * SIDE, 2 * SIDE)
with torch.no_grad():
    F_down = down.residual(x16)
    S_down = down.shortcut(x16)
    try:
        F_down + x16  # lo que hace la nota 001 con change_size=False
        added = True
    except RuntimeError as err:
        added = False
        print("F(x) + x falla:", str(err).splitlines()[0])
    y_down = down(x16)

print("x    ", tuple(x16.shape))
print("F(x) ", tuple(F_down.shape))
print("S(x) ", tuple(S_down.shape), "<- proyección:", down.downsample[0], "+ BatchNorm2d")
print(f"máx |block(x) - ReLU(F(x) + S(x))| = "
      f"{float((y_down - torch.relu(F_down + S_down)).abs().max()):.2e}")
assert not added and F_down.shape != x16.shape
assert S_down.shape == F_down.shape
assert float((y_down - torch.relu(F_down + S_down)).abs().max()) <= 1e-6

# %% [markdown]
# ### Opciones A, B y C (y "none")
#
# El artículo (§3.3 y §4.1) compara tres maneras de construir el atajo:
#
# - **A**: **relleno con ceros** (zero-padding). Se toma un píxel de cada dos y se añaden canales
#   de ceros. No tiene ningún parámetro; es la que usan las redes de CIFAR-10 de §4.2, para que
#   una ResNet y su gemela sin atajos tengan exactamente los mismos parámetros.
# - **B**: una **proyección** (convolución 1×1 + normalización por lotes) solo donde cambia la
#   forma, y la identidad en el resto. Es la disposición de torchvision para ImageNet.
# - **C**: una proyección en **todos** los bloques, incluso donde bastaría la identidad.
# - **none**: sin atajo, la red **plana** (plain) con la que se compara el artículo.
#
# En ImageNet (ResNet-34, tabla 3 del artículo) los errores top-1 fueron 25.03 % (A), 24.52 % (B)
# y 24.19 % (C): B ayuda un poco, y los muchos parámetros extra de C apenas aportan algo más, por
# eso el artículo se queda con B en los modelos profundos de ImageNet. Primero, qué hace cada
# opción en un solo bloque:

# %%
def describe(b: ResidualBlock) -> tuple[str, int]:
    """Qué es el atajo de ``b`` y cuántos parámetros tiene."""
    if not b.has_skip:
        return "sin atajo", 0
    if b.downsample is None:
        return "identidad", 0
    parts = [type(m).__name__ for m in b.downsample.modules()
             if not isinstance(m, nn.Sequential)]
    return " + ".join(parts), count_params(b.downsample)


print(f"{'opción':7} {'bloque de paso 2, 16 → 32':30} {'parám.':>6}   "
      f"{'bloque 32 → 32':22} {'parám.':>6}")
for kind in ("none", "A", "B", "C"):
    text_r, extra_r = describe(BasicBlock(16, 32, stride=2, shortcut=kind))
    text_s, extra_s = describe(BasicBlock(32, 32, stride=1, shortcut=kind))
    print(f"{kind:7} {text_r:30} {extra_r:>6}   {text_s:22} {extra_s:>6}")

# La opción A a mano: un píxel de cada dos de x y luego 16 canales de ceros.
zero_pad = BasicBlock(16, 32, stride=2, shortcut="A").eval()
with torch.no_grad():
    S_a = zero_pad.shortcut(x16)
print("opción A: S(x) =", tuple(S_a.shape), "= x[:, :, ::2, ::2] y 16 canales de ceros")
assert torch.equal(S_a[:, :16], x16[:, :, ::2, ::2])
assert float(S_a[:, 16:].abs().max()) == 0.0

# "none": el bloque es un simple par de convoluciones, salida = ReLU(F(x)).
plain = BasicBlock(32, 32, shortcut="none").eval()
x32 = torch.randn(BATCH, 32, SIDE, SIDE)
with torch.no_grad():
    assert float((plain(x32) - torch.relu(plain.residual(x32))).abs().max()) <= 1e-6

# %% [markdown]
# Ahora, redes enteras: la ResNet-20 de CIFAR (opción A en el artículo) y la ResNet-18 de
# ImageNet (opción B en torchvision). Una proyección cuesta `in × out` pesos de la convolución
# 1×1 más `out × 2` de su normalización por lotes. Calculamos lo que debería añadir cada opción
# a partir de las formas de los propios bloques y lo comparamos con el recuento real de
# parámetros. Las redes se construyen en el dispositivo `meta` de PyTorch: solo formas, sin
# memoria ni inicialización aleatoria, así que hasta ResNet-18 se cuenta al instante.

# %%
def projection_cost(b: ResidualBlock) -> int:
    """Parámetros de un atajo conv 1×1 + BN para el bloque ``b``."""
    return b.in_channels * b.out_channels + 2 * b.out_channels


counts: dict[str, dict[str, int]] = {}
for name, classes in (("resnet20", 10), ("resnet18", 1000)):
    with torch.device("meta"):
        nets = {kind: rl.create_model(name, num_classes=classes, shortcut=kind)
                for kind in ("none", "A", "B", "C")}
    counts[name] = {kind: count_params(net) for kind, net in nets.items()}
    block_list = [m for m in nets["none"].modules() if isinstance(m, ResidualBlock)]
    reshaping = [b for b in block_list if b.stride != 1 or b.in_channels != b.out_channels]
    expected_b = sum(projection_cost(b) for b in reshaping)
    expected_c = sum(projection_cost(b) for b in block_list)
    base = counts[name]["none"]
    print(f"{name}: {len(block_list)} bloques, {len(reshaping)} cambian la forma")
    for kind in ("none", "A", "B", "C"):
        print(f"   opción {kind:4}: {counts[name][kind]:>11,} parámetros "
              f"(+{counts[name][kind] - base:,} sobre la red plana)")
    assert counts[name]["A"] == base
    assert counts[name]["B"] - base == expected_b
    assert counts[name]["C"] - base == expected_c

# la ResNet-18 de torchvision, la red de la lección 02
assert counts["resnet18"]["B"] == 11_689_512

# %%
fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8), layout="constrained")
titles = {"resnet20": "ResNet-20 (CIFAR-10)", "resnet18": "ResNet-18 (ImageNet)"}
for ax, (name, by_kind) in zip(axes, counts.items(), strict=True):
    kinds = ["A", "B", "C"]
    extra = [by_kind[k] - by_kind["none"] for k in kinds]
    bars = ax.bar(kinds, extra, color=["tab:green", "tab:blue", "tab:orange"])
    for bar, value in zip(bars, extra, strict=True):
        share = 100 * value / by_kind["none"]
        ax.annotate(f"+{value:,}\n({share:.1f} %)", (bar.get_x() + bar.get_width() / 2, value),
                    ha="center", va="bottom", fontsize=9, xytext=(0, 2),
                    textcoords="offset points")
    ax.set_ylim(0, max(extra) * 1.3)
    ax.set_title(titles[name])
    ax.set_xlabel("opción de atajo")
    ax.set_ylabel("parámetros añadidos a la red plana")
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
fig.suptitle("Lo que cuesta cada opción de atajo: A nada, B solo donde cambia la forma, "
             "C en todas partes", fontsize=10)
fig.savefig(OUT / "shortcut-options.png", dpi=100)
plt.show()

# %% [markdown]
# ## 5. Dos trampas más en el código de los apuntes
#
# **`identity = x` es otro nombre, no una copia.** Los bloques de los apuntes guardan la entrada
# como `identity = x` y la suman al final. Eso solo es correcto mientras nada modifique `x` **en
# el sitio** (in place) antes de la suma. Un `nn.ReLU(inplace=True)` aplicado al propio `x` (lo
# que haría un bloque que empieza por una activación, un bloque de **preactivación**) reescribe
# el tensor al que apunta `identity`, y la conexión residual transporta entonces ReLU(x) en
# lugar de x. `resnetlab` suma fuera del sitio (`out = out + S(x)`) y sus bloques de
# preactivación usan `ReLU(inplace=False)`, porque su entrada activada también alimenta el
# atajo cuando este es una proyección.

# %%
x_small = torch.randn(1, 4, 3, 3)
identity = x_small  # lo que escriben los apuntes
out = nn.ReLU(inplace=True)(x_small)  # una activación en el sitio de la entrada del bloque
print("valores negativos que quedan en identity tras la ReLU en el sitio:",
      int((identity < 0).sum()))
assert torch.equal(identity, out) and float(identity.min()) >= 0.0

# Los bloques de resnetlab nunca modifican su entrada, ni en entrenamiento ni en evaluación.
for b in (BasicBlock(8, 8), BasicBlock(8, 16, stride=2, shortcut="A"), PreActBasicBlock(8, 8)):
    for training in (True, False):
        b.train(training)
        x_in = torch.randn(2, 8, 6, 6)
        before = x_in.clone()
        with torch.no_grad():
            b(x_in)
        assert torch.equal(x_in, before)
print("BasicBlock y PreActBasicBlock dejan su entrada intacta")

# %% [markdown]
# **Un sesgo (bias) antes de la normalización por lotes no sirve para nada.** El `conv_k_3` de
# la nota 001 construye `nn.Conv2d(..., padding=1)` con el `bias=True` por defecto de PyTorch y
# pone justo detrás una normalización por lotes. La normalización resta la media de cada canal,
# así que cualquier constante que la convolución sume por canal desaparece: el sesgo es un
# parámetro que nunca puede cambiar la salida. Por eso las convoluciones de `resnetlab` usan
# `bias=False`.

# %%
conv_bias = nn.Conv2d(8, 8, 3, padding=1, bias=True)
conv_plain = nn.Conv2d(8, 8, 3, padding=1, bias=False)
conv_plain.weight.data.copy_(conv_bias.weight.data)
nn.init.uniform_(conv_bias.bias, -3.0, 3.0)  # un sesgo grande, para que se note
bn = nn.BatchNorm2d(8).train()  # modo entrenamiento: normaliza con la media del propio lote
x_b = torch.randn(4, 8, 6, 6)
with torch.no_grad():
    gap = float((bn(conv_bias(x_b)) - bn(conv_plain(x_b))).abs().max())
print(f"diferencia máxima con y sin el sesgo de la convolución, tras BN: {gap:.1e}")
assert gap <= 1e-4

# %% [markdown]
# ## Resumen
#
# - Un bloque residual calcula $\mathrm{ReLU}(F(x) + S(x))$; `resnetlab` expone las dos ramas
#   (`residual`, `shortcut`) y la suma coincide con la salida del bloque con un error menor que
#   $10^{-6}$.
# - Con la rama residual a cero, el bloque es la identidad: una red residual profunda puede
#   empezar comportándose como una poco profunda.
# - El cuello de botella da un bloque de 256 canales por los parámetros de un bloque básico de
#   64; no son "menos parámetros" a igual anchura.
# - Cuando $F$ cambia la forma, el atajo también tiene que cambiarla: la opción A rellena con
#   ceros (gratis), B proyecta solo en esos bloques y C en todos.
# - `identity = x` no es una copia (cuidado con las operaciones en el sitio), y un sesgo antes de
#   la normalización por lotes es inútil.
#
# Próxima lección: una ResNet-18 entera, capa por capa.
