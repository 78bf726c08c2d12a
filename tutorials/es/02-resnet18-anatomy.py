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
# # 02 · Anatomía de ResNet-18
#
# La nota 002 del curso disecciona ResNet-18 (He et al. 2015, tabla 1) capa por capa: una tabla
# con la forma de salida y el número de parámetros de cada capa, el cálculo que hay detrás de
# cada número y unas figuras de los mapas de características (feature maps) alrededor de una
# suma residual. Lo reconstruimos todo con `resnetlab` y comprobamos cada número:
#
# 1. la tabla capa por capa (`rl.summary`), con la columna de cálculos de la nota, y el total
#    de **11,689,512** parámetros recalculado a partir de las fórmulas;
# 2. dónde están esos parámetros (adelanto: casi tres cuartas partes en la última etapa);
# 3. una imagen atravesando la red: los mapas de características de cada etapa,
#    64×56×56 → 512×7×7;
# 4. la suma residual del bloque `layer2.0`, donde cambia la forma: $x$, $F(x)$, $S(x)$,
#    $F(x)+S(x)$ y la salida, comprobadas hasta $10^{-6}$;
# 5. una trampa al capturar mapas de características con ganchos (hooks), como hace la nota.
#
# **Tiempo.** Modo rápido (`RESNETLAB_QUICK=1`): unos segundos, con un dígito de 8×8 incluido en
# la biblioteca, ampliado a 64×64, como imagen. Modo completo: aproximadamente medio minuto en
# la CPU de un portátil, con una imagen real de CIFAR-10 (`DATA_DIR/cifar-10-batches-py`, que se
# descarga si falta) y, si se pueden descargar (45 MB, una sola vez), los pesos de ImageNet de
# torchvision; sin conexión lo avisa y usa los dígitos incluidos y pesos aleatorios.

# %% tags=["parameters"]
import os
from pathlib import Path

QUICK = os.environ.get("RESNETLAB_QUICK") == "1"
DATA_DIR = Path(os.environ.get("RESNETLAB_DATA_DIR", "data"))
OUT = Path(os.environ.get("RESNETLAB_TUTORIAL_OUT", "outputs")) / "02"
OUT.mkdir(parents=True, exist_ok=True)
SEED = 0
os.environ.setdefault("RESNETLAB_LANG", "es")

WEIGHTS = "IMAGENET1K_V1"  # modo completo: pesos entrenados (etiqueta publicada, run o archivo)
SIDE = 64 if QUICK else 224  # lado de la imagen de entrada (la tabla usa siempre 224×224)
IMAGE_INDEX = 0  # qué imagen de prueba atraviesa la red
BLOCK = "layer2.0"  # el bloque cuya suma residual miramos: en él cambia la forma
CHANNELS = 3  # cuántos canales de ese bloque dibujar

# %%
import matplotlib.pyplot as plt
import torch
from IPython.display import display

import resnetlab as rl
from resnetlab.analysis import count_params
from resnetlab.analysis.features import feature_maps
from resnetlab.analysis.formulas import evaluate_formula
from resnetlab.analysis.render import channel_grid, image_for_display, plot_anatomy, shape_text
from resnetlab.analysis.residual import block_input, dissect_block, get_block
from resnetlab.errors import ResnetlabError

torch.manual_seed(SEED)

# %% [markdown]
# ## 1. La tabla de la nota 002
#
# ResNet-18 tiene un **tronco** (stem: una convolución 7×7 de paso 2, normalización por lotes
# (batch normalization), ReLU y un *max-pooling* 3×3 de paso 2), cuatro **etapas** (stages) de
# dos `BasicBlock` cada una (64, 128, 256 y 512 canales; las etapas 2 a 4 empiezan con paso 2),
# un promedio global (global average pooling) y una capa totalmente conectada hacia las 1000
# clases de ImageNet.
#
# `rl.summary` pasa una entrada de 224×224 por la red y escribe una fila por cada llamada a una
# capa, numerada como lo hace torchsummary (la numeración de la nota): `Conv2d-1` …
# `Linear-68`. Tras las filas de las capas de un bloque viene una fila para el propio bloque,
# por ejemplo `BasicBlock-11`, con **0** parámetros propios (sus capas son las filas de
# arriba). La ReLU de un bloque aparece dos veces porque el bloque la llama dos veces.
# `table(formula=True)` añade la columna "Calculation" (cálculos) de la nota: una convolución
# tiene `out × in × kh × kw` pesos (sin sesgo: detrás va una normalización por lotes), una
# normalización por lotes `C × 2` (su escala γ y su desplazamiento β; la media y la varianza
# acumuladas son estadísticas, no parámetros), y la capa lineal final `512 × 1000 + 1000`
# (pesos más sesgos).
#
# Para contar solo hacen falta las formas, así que construimos la red en el dispositivo `meta`
# de PyTorch: sin memoria para los pesos y sin cálculos, la tabla aparece al instante.

# %%
with torch.device("meta"):
    arch = rl.create_model("resnet18")  # solo formas: basta para contar y para seguir las formas
table = rl.summary(arch, (1, 3, 224, 224), device="meta")
print(table.table(formula=True))

# %%
from_formulas = sum(evaluate_formula(row.formula) for row in table.rows if row.formula)
labels = [row.label for row in table.rows]
print(f"filas: {len(table.rows)} ({labels[0]} … {labels[10]} … {labels[-1]})")
print(f"suma de la columna de cálculos: {from_formulas:,}")
print(f"parámetros del modelo:          {count_params(arch):,}")
assert table.total_params == 11_689_512 == count_params(arch)
assert from_formulas == table.total_params
assert all(evaluate_formula(r.formula) == r.params for r in table.rows if r.formula)
assert (len(table.rows), labels[0], labels[10], labels[-1]) == (68, "Conv2d-1", "BasicBlock-11",
                                                                  "Linear-68")

# %% [markdown]
# ## 2. Dónde están los parámetros
#
# Sumar las filas etapa por etapa muestra algo que la tabla larga esconde: los parámetros no
# están repartidos por igual. Una convolución 3×3 cuesta $9 \cdot C_{in} \cdot C_{out}$, y los
# canales se duplican en cada etapa mientras los mapas se encogen. Así que la última etapa, que
# trabaja sobre mapas diminutos de 7×7, concentra la mayoría de los pesos, mientras que las
# primeras, sobre mapas grandes, tienen pocos pesos pero hacen buena parte del cálculo.

# %%
def group_of(name: str) -> str:
    """La parte de la red a la que pertenece una fila: stem, layer1..layer4 o head."""
    top = name.split(".")[0]
    return top if top.startswith("layer") else ("head" if top in ("avgpool", "fc") else "stem")


groups = ["stem", "layer1", "layer2", "layer3", "layer4", "head"]
params_by_group = {g: sum(r.params for r in table.rows if group_of(r.name) == g) for g in groups}
macs_by_group = {g: sum(r.macs for r in table.rows if group_of(r.name) == g) for g in groups}
for g in groups:
    share = 100 * params_by_group[g] / table.total_params
    print(f"{g:7} {params_by_group[g]:>10,} parámetros ({share:5.1f} %)   "
          f"{macs_by_group[g] / 1e6:7.1f} M multiplicaciones-acumulaciones")
assert sum(params_by_group.values()) == table.total_params
assert max(params_by_group, key=params_by_group.get) == "layer4"

fig, (ax_p, ax_m) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
ax_p.bar(groups, [params_by_group[g] / 1e6 for g in groups], color="tab:blue")
ax_p.set_ylabel("parámetros (millones)")
ax_p.set_title("Parámetros por parte de ResNet-18")
ax_m.bar(groups, [macs_by_group[g] / 1e6 for g in groups], color="tab:orange")
ax_m.set_ylabel("multiplicaciones-acumulaciones (millones)")
ax_m.set_title("Cálculo por parte (entrada de 224×224)")
fig.savefig(OUT / "params-per-stage.png", dpi=100)
plt.show()

# %% [markdown]
# ## 3. Una imagen atravesando la red
#
# Ahora, una entrada real. En modo rápido es un dígito del conjunto de 8×8 incluido en la
# biblioteca, ampliado a 64×64 para que la ejecución sea corta; en modo completo, una imagen de
# prueba de CIFAR-10 (32×32) ampliada a 224×224, el tamaño para el que se diseñó ResNet-18. Con
# pesos entrenados (modo completo, si se pueden descargar) la imagen se normaliza con las
# estadísticas con las que se entrenaron esos pesos; con pesos aleatorios, con las de su propio
# conjunto de datos.

# %%
model, stats, trained = rl.create_model("resnet18").eval(), None, False
source = "dígitos"
if QUICK:
    bundle = rl.data.load("digits")
else:
    try:
        bundle = rl.data.load("cifar10", root=DATA_DIR / "cifar-10-batches-py", download=True)
        source = "CIFAR-10"
    except ResnetlabError as err:
        print(err)
        print("-> usamos en su lugar los dígitos incluidos")
        bundle = rl.data.load("digits")
    try:
        model, meta = rl.load_model(WEIGHTS, "resnet18")
        stats, trained = (meta["mean"], meta["std"]), True
    except ResnetlabError as err:
        print(err)
        print("-> nos quedamos con la ResNet-18 inicializada al azar")

test = bundle.test
raw = test.images[IMAGE_INDEX]
label = test.classes[int(test.labels[IMAGE_INDEX])]
if raw.shape[0] == 1:  # un dígito en gris: el mismo plano en los tres canales RGB
    raw = raw.expand(3, -1, -1)
pixels = rl.data.fit(raw, (SIDE, SIDE))
mean, std = stats if stats is not None else (test.mean, test.std)
if len(mean) == 1:  # estadísticas de gris: el mismo valor para los tres canales
    mean, std = mean * 3, std * 3
x = rl.data.normalize(pixels[None], mean, std)
state = "pesos entrenados" if trained else "pesos aleatorios"
print(f"imagen: {source}, imagen de prueba n.º {IMAGE_INDEX} (clase '{label}'), "
      f"{tuple(raw.shape)} -> {tuple(x.shape)}; ResNet-18 con {state}")

# %%
def stage_shapes(side: int) -> list[tuple[int, int, int]]:
    """Tronco: lado / 4 (conv de paso 2, max-pool de paso 2); layer1 lo conserva y cada etapa
    siguiente lo reduce a la mitad."""
    return [(64, side // 4, side // 4)] + [(c, side // s, side // s)
                                            for c, s in ((64, 4), (128, 8), (256, 16), (512, 32))]


maps = feature_maps(model, x)
for fm in maps:
    st = fm.stats()
    print(f"{fm.name:7} {shape_text(fm.tensor):>10}   media {st['mean']:6.3f}   "
          f"ceros {100 * st['zero_fraction']:4.1f} %")

# Las formas con entrada de 224×224 leídas de la tabla: la fila del max-pool y la del último
# bloque de cada etapa.
from_table = [next(r.output_shape[1:] for r in table.rows if r.name == "maxpool")] + [
    next(r.output_shape[1:] for r in table.rows if r.name == f"layer{i}.1") for i in range(1, 5)]
print("entrada de 224×224, según la tabla:",
      " → ".join("×".join(map(str, s)) for s in from_table))
assert from_table == stage_shapes(224) == [(64, 56, 56), (64, 56, 56), (128, 28, 28),
                                           (256, 14, 14), (512, 7, 7)]
assert [fm.shape for fm in maps] == stage_shapes(SIDE)

fig, axes = plt.subplots(1, len(maps) + 1, figsize=(17, 3.9), layout="constrained")
axes[0].imshow(image_for_display(pixels))
axes[0].set_title(f"entrada {shape_text(pixels)}\n{source}: '{label}'", fontsize=10)
for ax, fm in zip(axes[1:], maps, strict=True):
    ax.imshow(channel_grid(fm.tensor, count=16, columns=4))
    ax.set_title(f"{fm.name}: {shape_text(fm.tensor)}\n(primeros 16 canales)", fontsize=10)
for ax in axes:
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle(f"Mapas de características de ResNet-18 ({state}): desde layer2, cada etapa "
             "reduce el lado de los mapas a la mitad y duplica los canales", fontsize=11)
fig.savefig(OUT / "feature-maps.png", dpi=100)
plt.show()

# %% [markdown]
# ## 4. La suma residual de `layer2.0`
#
# El primer bloque de la segunda etapa es el interesante: recibe 64 mapas de 56×56 y devuelve
# 128 mapas de 28×28 (con una imagen de 224×224; 16×16 y 8×8 en modo rápido). Su rama residual
# $F$ lo consigue con una convolución de paso 2; su atajo (shortcut) $S$ no puede ser la
# identidad, así que es una **proyección**: una convolución 1×1 de paso 2 y una normalización
# por lotes (la opción B de la lección 01). Capturamos la entrada del bloque dentro de la red,
# calculamos las dos ramas, su suma y la ReLU de la suma, y lo comparamos con lo que devolvió
# el bloque dentro de la pasada completa por la red, como la comparación "suma manual frente
# al ADD" de la nota 002 (sus figuras 2 y 3). Todos los paneles comparten la escala de color.

# %%
block = get_block(model, BLOCK)
inside: list[torch.Tensor] = []
hook = block.register_forward_hook(lambda mod, args, out: inside.append(out.detach().clone()))
with torch.no_grad():
    model(x)
hook.remove()

x_block = block_input(model, block, x)
anatomy = dissect_block(block, x_block)
by_hand = torch.relu(anatomy.residual + anatomy.shortcut)
ratio = float(anatomy.residual.norm() / anatomy.shortcut.norm())
print(f"x {shape_text(anatomy.x)}  F(x) {shape_text(anatomy.residual)}  "
      f"S(x) {shape_text(anatomy.shortcut)}  salida {shape_text(anatomy.output)}")
print(f"atajo: {block.downsample[0]} + BatchNorm2d")
print(f"máx |block(x) - ReLU(F(x) + S(x))|            = {anatomy.max_abs_diff:.1e}")
print(f"máx |salida dentro de la red - ReLU(F + S)|   = "
      f"{float((inside[0] - by_hand).abs().max()):.1e}")
print(f"||F(x)|| / ||S(x)|| = {ratio:.2f}")
assert anatomy.max_abs_diff <= 1e-6
assert float((inside[0] - by_hand).abs().max()) <= 1e-6
assert tuple(anatomy.x.shape[1:]) == stage_shapes(SIDE)[1]
f_shape, s_shape = tuple(anatomy.residual.shape[1:]), tuple(anatomy.shortcut.shape[1:])
assert f_shape == s_shape == stage_shapes(SIDE)[2]

fig = plot_anatomy(anatomy, CHANNELS, f"ResNet-18 ({state}), bloque {BLOCK}: "
                   f"imagen de {source} '{label}'")
fig.savefig(OUT / "residual-sum.png", dpi=100)
display(fig)

# %% [markdown]
# ## 5. Una trampa: ganchos y sumas en el sitio
#
# La nota 002 dibuja $F(x)$ y la suma a partir de mapas de características sacados de una
# ResNet-18 de torchvision. La forma habitual de sacarlos es un gancho de forward (forward
# hook) en una capa, por ejemplo en `bn2` para $F(x)$. Pero un bloque al estilo de torchvision,
# como el de la nota 000, termina con `out += identity` y `out = self.relu(out)`, las dos **en
# el sitio** (in place). El gancho guarda el tensor que devolvió `bn2`, no una copia, y la suma
# y la ReLU en el sitio lo sobrescriben después: lo que se guardó como "$F(x)$" es en realidad
# la salida del bloque. El forward es correcto; lo que está mal es solo la imagen capturada.
# O se clona dentro del gancho, o se le piden las ramas al bloque, como hace `resnetlab`
# (`block.residual(x)`), y se suma fuera del sitio.

# %%
def notes_forward(b, x_in):
    """El forward del BasicBlock de la nota 000 (suma y ReLU en el sitio), con las capas de
    resnetlab."""
    identity = b.downsample(x_in)
    out = b.relu(b.bn1(b.conv1(x_in)))
    out = b.bn2(b.conv2(out))
    out += identity
    return b.relu(out)


saved: list[torch.Tensor] = []
hook = block.bn2.register_forward_hook(lambda mod, args, out: saved.append(out))  # sin clonar
with torch.no_grad():
    y_notes = notes_forward(block, x_block)
    y_resnetlab = block(x_block)
hook.remove()
captured_notes, captured_resnetlab = saved
print(f"forward de los apuntes: máx |salida - ReLU(F + S)| = "
      f"{float((y_notes - by_hand).abs().max()):.1e}  (el forward está bien)")
print(f"forward de los apuntes: máx |'F(x)' del gancho - F(x)| = "
      f"{float((captured_notes - anatomy.residual).abs().max()):.2f}  (la imagen está mal)")
print(f"bloque de resnetlab:    máx |'F(x)' del gancho - F(x)| = "
      f"{float((captured_resnetlab - anatomy.residual).abs().max()):.1e}")
assert float((y_notes - by_hand).abs().max()) <= 1e-6
assert captured_notes is y_notes and float((captured_notes - anatomy.residual).abs().max()) > 1e-3
assert float((captured_resnetlab - anatomy.residual).abs().max()) <= 1e-6

# %% [markdown]
# ## Resumen
#
# - ResNet-18 tiene 68 filas en la tabla de la nota 002 y **11,689,512** parámetros; la columna
#   de cálculos (`out × in × kh × kw`, `C × 2`, `512 × 1000 + 1000`) suma exactamente eso.
# - Alrededor del 72 % de los parámetros está en la última etapa (`layer4`); el cálculo está
#   mucho mejor repartido, porque las primeras capas trabajan sobre mapas grandes.
# - Los mapas pasan de 64×56×56 tras el tronco a 512×7×7 tras `layer4`: la mitad de lado y el
#   doble de canales en cada etapa.
# - En `layer2.0` el atajo es una proyección 1×1 de paso 2, y la salida del bloque es
#   exactamente ReLU(F(x) + S(x)), hasta $10^{-6}$.
# - Captura los mapas de características con copias: las operaciones en el sitio sobrescriben
#   lo que guardó un gancho.
#
# Próxima lección: entrenamos una red residual más profunda, ResNet-56, en CIFAR-10.
