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
# # 04 · Normalización por lotes
#
# Cada capa de una red recibe como entrada la salida de la capa anterior, y esa salida cambia
# de escala y de desplazamiento a medida que se mueven los pesos. La **normalización por
# lotes** (batch normalization, BatchNorm; Ioffe y Szegedy 2015, arXiv:1502.03167) estandariza
# cada canal con las estadísticas del minilote (mini-batch) actual y luego deja que la red
# elija su propia escala y su propio desplazamiento. Es lo que permite entrenar desde cero las
# redes de 20 a 110 capas de las próximas lecciones: He et al. 2015 (§3.4) colocan una
# BatchNorm "justo después de cada convolución y antes de la activación".
#
# Esta lección repite el experimento de los apuntes del curso (nota 004): una LeNet con
# activaciones sigmoides, entrenada con SGD simple y tasa de aprendizaje (learning rate) 1.0,
# con y sin BatchNorm. Vas a
#
# 1. calcular BatchNorm a mano y compararla con la capa de PyTorch;
# 2. ver dónde van las capas BatchNorm en la LeNet y qué pasa entonces con el sesgo (bias) de
#    la convolución;
# 3. ejecutar el experimento `batchnorm` del laboratorio de resnetlab: la exactitud en prueba
#    después de *cada* paso de SGD, para las dos redes y varias tasas de aprendizaje;
# 4. corregir el único error de verdad del código de los apuntes: evaluar en modo de
#    entrenamiento.
#
# **Tiempo.** Modo rápido (`RESNETLAB_QUICK=1`, los dígitos incluidos en el paquete, 30
# pasos): unos 10 s. Modo completo (Fashion-MNIST, 1.000 pasos por red y por tasa de
# aprendizaje): unos 10 minutos en una CPU de 2 núcleos con las 1.003 imágenes de prueba del
# subconjunto del curso (12 minutos medidos en una máquina compartida y ocupada), casi todo
# en el experimento del laboratorio, que evalúa todo el conjunto de prueba tras cada paso;
# con las 10.000 imágenes de prueba oficiales cuenta con unos 40 minutos, o baja
# `ITERATIONS`.

# %% tags=["parameters"]
import os
from pathlib import Path

os.environ.setdefault("RESNETLAB_LANG", "es")
QUICK = os.environ.get("RESNETLAB_QUICK") == "1"
DATA_DIR = Path(os.environ.get("RESNETLAB_DATA_DIR", "data"))
OUT = Path(os.environ.get("RESNETLAB_TUTORIAL_OUT", "outputs")) / "04"
OUT.mkdir(parents=True, exist_ok=True)
SEED = 0
BATCH_SIZE = 100  # el tamaño de lote de los apuntes
LR_NOTES = 1.0  # la tasa de aprendizaje de los apuntes: grande para SGD
LRS = (1.0,) if QUICK else (0.1, 1.0, 3.0)  # tasas que se comparan en la sección 6
ITERATIONS = 30 if QUICK else 1000  # pasos de SGD por red y por tasa de aprendizaje
DEMO_ITERATIONS = 20 if QUICK else 100  # entrenamiento de la red de la sección 7

# %% [markdown]
# ## 1. Preparación
#
# Todo sale de resnetlab: los datos (`rl.data.load`), la LeNet-5
# (`resnetlab.lab.lenet.lenet5`), un paso de SGD (`resnetlab.train.step.train_step`) y el
# experimento del laboratorio (`resnetlab.lab.run_experiment`).

# %%
import itertools

import matplotlib.pyplot as plt
import torch
from torch import nn

import resnetlab as rl
from resnetlab.analysis import count_params
from resnetlab.analysis.formulas import param_formula
from resnetlab.data import InMemoryLoader, normalize
from resnetlab.errors import ResnetlabError
from resnetlab.lab import run_experiment
from resnetlab.lab.lenet import lenet5
from resnetlab.train.step import train_step

# %matplotlib inline

torch.manual_seed(SEED)
torch.set_num_threads(1)  # los tensores de la LeNet son diminutos: un segundo hilo no compensa
BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d)

# %% [markdown]
# ## 2. Los datos
#
# Los apuntes usan **Fashion-MNIST** (Xiao et al. 2017): imágenes en gris de 28×28 de diez
# tipos de prendas. En modo completo `rl.data.load` lee sus archivos IDX de
# `DATA_DIR/FashionMNIST/raw` y, si faltan, los descarga allí (`download=True`). Sin conexión
# lanza un `ResnetlabError` de una línea que dice qué hacer; lo mostramos y seguimos con los
# dígitos incluidos. El modo rápido usa siempre los dígitos de 8×8 incluidos en el paquete,
# ampliados a 28×28 para que les sirva la misma LeNet.

# %%
if QUICK:
    bundle = rl.data.load("digits", image_size=28)
    data_root = None
else:
    try:
        data_root = DATA_DIR / "FashionMNIST"
        bundle = rl.data.load("fashion-mnist", root=data_root, download=True)
    except ResnetlabError as exc:
        print(exc)
        print("-> seguimos con los dígitos incluidos (ampliados a 28×28)")
        bundle = rl.data.load("digits", image_size=28)
        data_root = None
train_set, test_set = bundle.train, bundle.test
print(f"{bundle.name}: {len(train_set)} imágenes de entrenamiento y {len(test_set)} de prueba "
      f"de tamaño {bundle.input_size}, {bundle.num_classes} clases")
assert bundle.input_size == (1, 28, 28) and bundle.num_classes == 10

fig, axes = plt.subplots(1, 8, figsize=(10, 1.8), layout="constrained")
for ax, image, label in zip(axes, train_set.images[:8], train_set.labels[:8], strict=True):
    ax.imshow(image[0], cmap="gray")
    ax.set_title(train_set.classes[int(label)], fontsize=8)
    ax.axis("off")
fig.savefig(OUT / "samples.png", dpi=100)
plt.show()

# %% [markdown]
# ## 3. BatchNorm a mano
#
# Para la salida $z$ de una convolución (lote × canales × alto × ancho), BatchNorm en **modo de
# entrenamiento** calcula, para cada canal $c$, la media $\mu_c$ y la varianza $\sigma_c^2$
# sobre el lote *y* sobre todas las posiciones, y luego
#
# $$\mathrm{BN}(z)_c = \gamma_c \, \frac{z_c - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}} + \beta_c ,$$
#
# con una escala aprendida $\gamma_c$ (empieza en 1), un desplazamiento aprendido $\beta_c$
# (empieza en 0) y un $\epsilon = 10^{-5}$ pequeño que evita dividir por cero. Además guarda
# unas **estadísticas móviles** (running statistics: `running_mean`, `running_var`, que se
# actualizan como $0.9 \cdot \text{anterior} + 0.1 \cdot \text{lote}$) y que sustituyen a
# $\mu_c, \sigma_c^2$ en **modo de evaluación**; la sección 7 muestra por qué importa.
#
# Una corrección a los apuntes: dicen que, tras normalizar, "los datos seguirán una
# distribución Normal estándar". No es así: en cada canal BatchNorm es una transformación
# afín $a z + b$, de modo que fija la media (0) y la varianza (1) pero no toca la *forma* de
# la distribución; la asimetría (skewness) de abajo es la misma antes y después.

# %%
x = normalize(train_set.images[:BATCH_SIZE], train_set.mean, train_set.std)
net_bn = lenet5(bundle.num_classes, 1, batchnorm=True, image_size=28)
conv, bn = net_bn[0], net_bn[1]
assert isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
with torch.no_grad():
    z = conv(x)  # 100 × 6 × 28 × 28
    out = bn(z)  # un módulo recién creado está en modo de entrenamiento: usa este lote
dims = (0, 2, 3)  # lote, alto, ancho: todo salvo el canal
mean = z.mean(dim=dims, keepdim=True)
var = z.var(dim=dims, unbiased=False, keepdim=True)
gamma, beta = bn.weight.view(1, -1, 1, 1), bn.bias.view(1, -1, 1, 1)
by_hand = gamma * (z - mean) / torch.sqrt(var + bn.eps) + beta


def skewness(t: torch.Tensor) -> torch.Tensor:
    """Asimetría por canal: el tercer momento estandarizado (0 si la distribución es simétrica)."""
    centred = t - t.mean(dim=dims, keepdim=True)
    return (centred**3).mean(dim=dims) / centred.pow(2).mean(dim=dims) ** 1.5


print("medias por canal antes:  ", [f"{v:+.3f}" for v in mean.flatten().tolist()])
print("medias por canal después:", [f"{v:+.3f}" for v in out.mean(dim=dims).tolist()])
print("varianzas por canal después:", [f"{v:.4f}" for v in out.var(dim=dims, unbiased=False)])
print("asimetría antes:  ", [f"{v:+.3f}" for v in skewness(z).tolist()])
print("asimetría después:", [f"{v:+.3f}" for v in skewness(out).tolist()])
print(f"máx |PyTorch - a mano| = {(out - by_hand).abs().max():.2e}")
assert (out - by_hand).abs().max() < 1e-5
assert out.mean(dim=dims).abs().max() < 1e-5
assert (out.var(dim=dims, unbiased=False) - 1).abs().max() < 1e-3
assert torch.allclose(skewness(out), skewness(z), atol=1e-3)
assert torch.allclose(bn.running_mean, 0.1 * mean.flatten(), atol=1e-6)

# %% [markdown]
# ## 4. Las dos LeNet
#
# `lenet5` construye la red de los apuntes: convoluciones de 5×5 con 6 y 16 canales,
# submuestreo por promedio (average pooling) de 2×2, capas densas de 120 y 84 unidades,
# sigmoides en todas partes e inicialización de Xavier. Con `batchnorm=True` hay una
# BatchNorm después de cada convolución y de cada capa densa oculta, **antes** de la
# sigmoide: la posición que proponen Ioffe y Szegedy (§3.2) y la misma de la `LeNet_Norm` de
# los apuntes, así que aquí los apuntes aciertan. Cada BatchNorm añade dos parámetros por
# canal ($\gamma$ y $\beta$); sus estadísticas móviles son buffers, no parámetros.

# %%
net_plain = lenet5(bundle.num_classes, 1, batchnorm=False, image_size=28)
print(net_bn)
norms = [m for m in net_bn if isinstance(m, BATCHNORMS)]
for m in norms:
    print(f"{m}: {param_formula(m)}")
print(f"parámetros: {count_params(net_plain):,} sin BatchNorm, "
      f"{count_params(net_bn):,} con BatchNorm")
assert count_params(net_bn) - count_params(net_plain) == 2 * (6 + 16 + 120 + 84)
assert all(isinstance(net_bn[i - 1], nn.Conv2d | nn.Linear)
           and isinstance(net_bn[i + 1], nn.Sigmoid)
           for i, m in enumerate(net_bn) if isinstance(m, BATCHNORMS))
assert [type(m) for m in net_bn if not isinstance(m, BATCHNORMS)] == [type(m) for m in net_plain]

# %% [markdown]
# Las capas de los apuntes dejan `bias=True` en cada convolución y capa densa a la que sigue
# una BatchNorm. Ese sesgo no sirve para nada: BatchNorm resta la media del lote, lo que
# elimina cualquier constante sumada a un canal, así que el sesgo no cambia la salida y su
# gradiente es cero ($\beta$ ya hace ese trabajo). Por eso las convoluciones de ResNet se
# construyen con `bias=False`. Una sola pasada hacia atrás lo muestra:

# %%
y = train_set.labels[:BATCH_SIZE]


def bias_to_weight_gradients(net: nn.Sequential) -> list[float]:
    """||dL/d sesgo|| / ||dL/d peso|| de cada capa conv/lineal salvo la clasificadora."""
    net.zero_grad()
    nn.functional.cross_entropy(net(x), y).backward()
    layers = [m for m in net if isinstance(m, nn.Conv2d | nn.Linear)][:-1]
    return [float(m.bias.grad.norm() / m.weight.grad.norm()) for m in layers]


ratios_bn, ratios_plain = bias_to_weight_gradients(net_bn), bias_to_weight_gradients(net_plain)
print("gradiente sesgo/peso, con BatchNorm:", [f"{r:.1e}" for r in ratios_bn])
print("gradiente sesgo/peso, sin BatchNorm:", [f"{r:.1e}" for r in ratios_plain])
assert max(ratios_bn) < 1e-4
assert min(ratios_plain) > 1e-3

# %% [markdown]
# ## 5. El experimento de los apuntes: SGD con tasa de aprendizaje 1.0
#
# `run_experiment("batchnorm", ...)` entrena las dos LeNet con la misma inicialización y los
# mismos lotes (SGD simple, lote de 100) y mide la exactitud en prueba después de **cada**
# paso, con la red con BatchNorm en modo de evaluación. Devuelve todos los números en
# `result.results` (también los escribe en `results.json`, junto con la figura propia del
# laboratorio). Lo ejecutamos una vez por cada tasa de `LRS`; esta sección mira la tasa de los
# apuntes, 1.0.
#
# El hecho clave que comprobamos: la red con BatchNorm llega al 70 % de exactitud en prueba
# (tanto en los dígitos como en Fashion-MNIST) mucho antes; exigimos que tarde como mucho la
# mitad de pasos que la red sin BatchNorm, o que esta no llegue nunca.

# %%
runs = {}
for lr in LRS:
    result, lab_dir = run_experiment(
        "batchnorm", out_dir=OUT / f"lab-lr{lr:g}", quick=QUICK, seed=SEED,
        data=bundle.name, data_dir=None if data_root is None else str(data_root),
        iterations=ITERATIONS, lr=lr, batch_size=BATCH_SIZE)
    runs[lr] = result.results
    print(f"tasa de aprendizaje {lr:g} ({lab_dir}):", *result.verdict, sep="\n  ")


def with_and_without(results: dict) -> tuple[dict, dict]:
    """Las curvas (con BatchNorm, sin ella) de una ejecución, elegidas por la marca
    `batchnorm` y no por el nombre."""
    curves = list(results["models"].values())
    return (next(c for c in curves if c["batchnorm"]),
            next(c for c in curves if not c["batchnorm"]))


# %%
bn_curve, plain_curve = with_and_without(runs[LR_NOTES])
steps = range(1, ITERATIONS + 1)
fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
for curve, label, color in ((bn_curve, "con BatchNorm", "tab:green"),
                            (plain_curve, "sin BatchNorm", "tab:gray")):
    ax_acc.plot(steps, [100 * a for a in curve["test_accuracy"]], color=color, lw=1.2,
                label=label)
    ax_loss.plot(steps, curve["train_loss"], color=color, lw=1.2, label=label)
    first = curve["first_iteration_above_70"]
    if first is not None:
        ax_acc.plot(first, 100 * curve["test_accuracy"][first - 1], "s", color=color, mfc="none",
                    ms=8)
ax_acc.axhline(70, color="black", lw=0.7, ls=":")
ax_acc.set(xlabel="paso de SGD", ylabel="exactitud en prueba (%)", ylim=(0, 100),
           title="exactitud en prueba tras cada paso (□: primera vez sobre el 70 %)")
ax_loss.set(xlabel="paso de SGD", ylabel="entropía cruzada del lote",
            title="pérdida de entrenamiento")
for ax in (ax_acc, ax_loss):
    ax.grid(alpha=0.3)
    ax.legend()
fig.suptitle(f"LeNet-5 (sigmoide) en {bundle.name}, SGD con tasa {LR_NOTES:g}, "
             f"lote de {BATCH_SIZE}")
fig.savefig(OUT / "batchnorm_lr1.png", dpi=100)
plt.show()

bn70, plain70 = bn_curve["first_iteration_above_70"], plain_curve["first_iteration_above_70"]
print(f"primer paso por encima del 70 %: {bn70} con BatchNorm, {plain70 or 'nunca'} sin ella "
      f"(en {ITERATIONS} pasos)")
assert len(bn_curve["test_accuracy"]) == len(plain_curve["test_accuracy"]) == ITERATIONS
assert not bn_curve["diverged"]
assert bn70 is not None
assert plain70 is None or plain70 >= 2 * bn70, (bn70, plain70)

# %% [markdown]
# Qué dicen las curvas: la red sigmoide sin BatchNorm se queda en el azar (10 %) durante sus
# primeros pasos —la señal que llega a sus capas profundas está mal escalada y sus primeros
# gradientes son diminutos— y después sube despacio. Con BatchNorm cada capa recibe desde el
# primer paso entradas de media 0 y varianza 1, las sigmoides trabajan en su zona útil y la
# red sale del azar casi de inmediato. En el subconjunto de 1.003 imágenes de Fashion-MNIST
# con el que se escribió esta lección, las dos redes terminan cerca de la misma exactitud en
# prueba (alrededor del 80 %), aunque la red con BatchNorm lleva su pérdida de entrenamiento
# casi a cero: con tan pocas imágenes de entrenamiento el límite lo ponen los datos, no el
# optimizador. (En los apuntes la red sin BatchNorm pasó más de 1.500 pasos en el 10 %; los
# apuntes usan la inicialización por defecto de PyTorch en lugar de la de Xavier y no barajan
# los lotes, lo que cambia *cuándo* sale del azar, no *si* sale.)
#
# ## 6. Comparación de tasas de aprendizaje
#
# Ioffe y Szegedy (§3.3) escriben que BatchNorm "permite tasas de aprendizaje más altas". Las
# mismas ejecuciones con otras tasas muestran la otra cara de esa afirmación: ¿cuánto importa
# elegir bien la tasa de aprendizaje en cada red?

# %%
colors = {0.1: "tab:blue", 1.0: "tab:green", 3.0: "tab:red"}
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained", sharey=True)
print(f"{'tasa':>5} | {'con BatchNorm: >70 % en, final':>32} | {'sin ella: >70 % en, final':>26}")
for lr in LRS:
    bn_c, plain_c = with_and_without(runs[lr])
    for ax, curve in zip(axes, (bn_c, plain_c), strict=True):
        ax.plot(steps, [100 * a for a in curve["test_accuracy"]], lw=1, alpha=0.85,
                color=colors.get(lr, "tab:purple"), label=f"tasa {lr:g}")
    print(f"{lr:>5g} | {bn_c['first_iteration_above_70'] or 'nunca':>20}, "
          f"{100 * bn_c['final_test_accuracy']:6.1f} % | "
          f"{plain_c['first_iteration_above_70'] or 'nunca':>14}, "
          f"{100 * plain_c['final_test_accuracy']:6.1f} %")
for ax, title in zip(axes, ("con BatchNorm", "sin BatchNorm"), strict=True):
    ax.axhline(70, color="black", lw=0.7, ls=":")
    ax.set(xlabel="paso de SGD", title=title, ylim=(0, 100))
    ax.grid(alpha=0.3)
    ax.legend(title="tasa de aprendizaje de SGD")
axes[0].set_ylabel("exactitud en prueba (%)")
axes[1].tick_params(labelleft=True)
fig.suptitle(f"LeNet-5 (sigmoide) en {bundle.name}: las mismas ejecuciones con varias tasas")
fig.savefig(OUT / "batchnorm_learning_rates.png", dpi=100)
plt.show()

firsts = [with_and_without(runs[lr])[0]["first_iteration_above_70"] for lr in LRS]
for lr in LRS:
    bn_c, plain_c = with_and_without(runs[lr])
    bn70, plain70 = bn_c["first_iteration_above_70"], plain_c["first_iteration_above_70"]
    assert bn70 is not None, lr
    assert plain70 is None or plain70 >= 2 * bn70, (lr, bn70, plain70)
assert max(firsts) <= 3 * min(firsts), firsts

# %% [markdown]
# Con BatchNorm la tasa de aprendizaje apenas importa: la red pasa del 70 % tras más o menos
# los mismos pasos con 0.1, 1.0 y 3.0. Sin BatchNorm la tasa lo decide todo: en
# Fashion-MNIST, con 0.1 la red sigmoide se queda en el azar unos 400 pasos y sigue por
# debajo del 70 % tras mil; el 1.0 de los apuntes es la más rápida de las tres, y con 3.0
# vuelve a ir más lenta: la red sin BatchNorm necesita una tasa bien ajustada y la red con
# BatchNorm no. Con BatchNorm la salida de una capa ya no depende de la escala de sus pesos
# (escalar $W$ escala $\mu$ y $\sigma$ por el mismo factor), así que un paso grande no puede
# disparar las activaciones que llegan a las sigmoides, y cada capa empieza en un régimen bien
# escalado sea cual sea la tasa.
#
# ## 7. Modo de entrenamiento frente a modo de evaluación: el error de los apuntes
#
# Los apuntes miden la exactitud en prueba con la red todavía en **modo de entrenamiento**
# (nunca llaman a `model.eval()`). Entonces BatchNorm normaliza cada lote de prueba con las
# estadísticas de *ese* lote, y eso tiene tres consecuencias:
#
# - la predicción para una imagen depende de las otras 99 imágenes de su lote;
# - cada lote de prueba sobrescribe las estadísticas móviles: los datos de prueba se cuelan
#   en el modelo;
# - una imagen sola no se puede clasificar (una BatchNorm densa necesita más de un valor por
#   canal).
#
# Lo correcto: `model.eval()` para evaluar (BatchNorm usa sus estadísticas móviles; dentro de
# `torch.no_grad()`) y `model.train()` para seguir entrenando, que es lo que hace el
# laboratorio tras cada paso. Entrenamos unos pasos una LeNet con BatchNorm y comprobamos los
# tres hechos.

# %%
torch.manual_seed(SEED)
model = lenet5(bundle.num_classes, 1, batchnorm=True, image_size=28)
optimizer = torch.optim.SGD(model.parameters(), lr=LR_NOTES)
loader = InMemoryLoader(train_set, BATCH_SIZE, shuffle=True, drop_last=True, seed=SEED)
batches = (batch for epoch in itertools.count() for batch in loader.iter_from(epoch))
for xb, yb in itertools.islice(batches, DEMO_ITERATIONS):
    train_step(model, optimizer, xb, yb)

test_x = normalize(test_set.images, test_set.mean, test_set.std)
test_y = test_set.labels
batch_a = test_x[:BATCH_SIZE]  # la imagen 0 con 99 compañeras...
batch_b = torch.cat([test_x[:1], test_x[-(BATCH_SIZE - 1):]])  # ...y con otras 99


def accuracy(net: nn.Module) -> float:
    """Exactitud top-1 en el conjunto de prueba, en lotes de BATCH_SIZE como en los apuntes."""
    with torch.no_grad():
        hits = sum(int((net(xs).argmax(1) == ys).sum())
                   for xs, ys in zip(test_x.split(BATCH_SIZE), test_y.split(BATCH_SIZE),
                                     strict=True))
    return hits / len(test_y)


model.eval()  # lo correcto
with torch.no_grad():
    eval_a, eval_b = model(batch_a)[0], model(batch_b)[0]
eval_accuracy = accuracy(model)
before = model[1].running_mean.clone()

model.train()  # lo que hacen los apuntes
with torch.no_grad():
    train_a, train_b = model(batch_a)[0], model(batch_b)[0]
train_accuracy = accuracy(model)
leaked = float((model[1].running_mean - before).abs().max())
try:
    with torch.no_grad():
        model(test_x[:1])
    single_image_error = None
except ValueError as exc:
    single_image_error = str(exc)

print(f"modo evaluación: la imagen 0 recibe los mismos logits en los dos lotes "
      f"(diferencia máxima {(eval_a - eval_b).abs().max():.1e})")
print(f"modo entrenamiento: los logits de la imagen 0 cambian con sus compañeras "
      f"(diferencia máxima {(train_a - train_b).abs().max():.2f})")
print(f"modo entrenamiento: evaluar movió la media móvil de la primera BatchNorm hasta "
      f"{leaked:.1e}")
print(f"modo entrenamiento, una imagen sola: ValueError: {single_image_error}")
print(f"exactitud en prueba tras {DEMO_ITERATIONS} pasos: {100 * eval_accuracy:.1f} % en modo "
      f"evaluación, {100 * train_accuracy:.1f} % en modo entrenamiento (la cifra de los apuntes)")
assert torch.allclose(eval_a, eval_b, atol=1e-5)
assert (train_a - train_b).abs().max() > 1e-3
assert leaked > 0
assert single_image_error is not None

# %% [markdown]
# Las dos exactitudes suelen parecerse —un lote de 100 tiene estadísticas cercanas a las de
# toda la población—, y por eso el error pasa desapercibido; pero una cifra que depende de
# cómo se corte el conjunto de prueba en lotes, y un modelo que cambia mientras se le mide, no
# son una evaluación. (Al principio del entrenamiento la cifra en modo evaluación puede ser la
# más baja: las estadísticas móviles son un promedio con momento 0.1 y van por detrás durante
# las primeras decenas de pasos.)
#
# ## Resumen
#
# - BatchNorm estandariza cada canal sobre el lote (y las posiciones) y luego lo reescala con
#   $\gamma, \beta$ aprendidos; fija la media y la varianza, no la forma de la distribución.
# - Va entre la convolución (o la capa densa) y la activación; la capa anterior no necesita
#   sesgo.
# - En la LeNet sigmoide de los apuntes hace que el entrenamiento arranque enseguida y que la
#   tasa de aprendizaje sea mucho menos crítica.
# - Evalúa con `model.eval()`: en modo de entrenamiento las predicciones de una red con
#   BatchNorm dependen del lote y sus estadísticas móviles absorben los datos de prueba.
#
# **Para practicar:** pon la BatchNorm *después* de la sigmoide (la otra costumbre que
# mencionan los apuntes) editando una copia de `lenet5`; entrena con tasa 10; o evalúa el
# modelo entrenado en modo de entrenamiento con lotes de 2 y mira cómo se hunde la exactitud.
