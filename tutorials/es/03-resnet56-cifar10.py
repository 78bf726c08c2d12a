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
# # 03 · ResNet-56 en CIFAR-10
#
# El cuaderno del curso de la nota 001 empieza una **ResNet-56** para CIFAR-10 y se queda en un
# bloque residual (que además no funciona). Aquí terminamos el trabajo con `resnetlab`:
# construimos la red que describe el artículo, la entrenamos y miramos qué ha aprendido.
#
# 1. ResNet-56 es una red "6n + 2" (He et al. 2015, §4.2): qué significa, comprobado sobre el
#    modelo, y qué habría construido en su lugar el bloque de la nota 001;
# 2. la entrenamos con `rl.train` con un presupuesto de tiempo (time budget);
# 3. curvas de aprendizaje a partir del `metrics.csv` de la ejecución;
# 4. evaluación en la partición de prueba (test): exactitud (accuracy), exactitud por clase y
#    matriz de confusión;
# 5. una galería de errores, con la clase verdadera y la predicha.
#
# **Tiempo.** Modo rápido (`RESNETLAB_QUICK=1`): unos 10 s, unas pocas decenas de pasos de
# entrenamiento sobre los dígitos de 8×8 incluidos en la biblioteca. Modo completo: unos
# 5 minutos en la CPU de un portátil, `TIME_BUDGET` segundos de entrenamiento (4 minutos por
# defecto) sobre CIFAR-10 desde `DATA_DIR/cifar-10-batches-py` (se descarga, 170 MB, si falta;
# sin conexión lo avisa y entrena con los dígitos). Unos minutos de CPU quedan muy lejos de las
# 64,000 iteraciones del artículo: espera una red claramente mejor que el azar, no el 6.97 % de
# error del artículo.

# %% tags=["parameters"]
import os
from pathlib import Path

QUICK = os.environ.get("RESNETLAB_QUICK") == "1"
DATA_DIR = Path(os.environ.get("RESNETLAB_DATA_DIR", "data"))
OUT = Path(os.environ.get("RESNETLAB_TUTORIAL_OUT", "outputs")) / "03"
OUT.mkdir(parents=True, exist_ok=True)
SEED = 0
os.environ.setdefault("RESNETLAB_LANG", "es")

TIME_BUDGET = float(os.environ.get("RESNETLAB_TIME_BUDGET", "240"))  # modo completo: segundos
QUICK_STEPS = 48  # modo rápido: pasos del optimizador sobre los dígitos
LR, BATCH = 0.02, 32  # tasa de aprendizaje máxima y tamaño de lote, en ambos modos (sección 3)
TEST_IMAGES = 2000  # modo completo: como mucho tantas imágenes de prueba (las primeras)
GALLERY = 12  # cuántos errores mostrar

# %%
import csv
from dataclasses import replace

import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import MaxNLocator

import resnetlab as rl
from resnetlab.analysis import count_params
from resnetlab.analysis.render import image_for_display
from resnetlab.analysis.residual import block_names
from resnetlab.deploy.predict import predict_tensors
from resnetlab.errors import ResnetlabError

torch.manual_seed(SEED)
if QUICK:
    # Con imágenes de 8×8 cada operación es diminuta: un segundo hilo cuesta más en esperas de
    # lo que aporta.
    torch.set_num_threads(1)

# %% [markdown]
# ## 1. Qué significa "ResNet-56"
#
# Para las imágenes de 32×32 de CIFAR-10 el artículo no usa el diseño para ImageNet de la
# lección 02. La red es una convolución 3×3 de 16 canales, luego tres etapas de $n$
# `BasicBlock` sobre mapas de 32×32, 16×16 y 8×8 con 16, 32 y 64 canales, y al final un promedio
# global (global average pooling) y una capa lineal hacia las 10 clases. Cada bloque tiene dos
# convoluciones, así que la profundidad es $1 + 2 \cdot 3n + 1 = 6n + 2$: con $n = 9$ salen 56
# capas con pesos. Los atajos (shortcuts) son de la **opción A** (lección 01): la identidad, o
# submuestreo más canales de ceros donde empieza una etapa, de modo que la red residual tiene
# exactamente los parámetros de su gemela plana (plain); el artículo da 0.85 M (tabla 6).
#
# El `residual_block` de la nota 001 usa por defecto `change_size=True`, lo que pone una
# proyección 1×1 en **todos** los bloques (opción C), y su `conv_k_3` conserva un sesgo (bias)
# delante de cada normalización por lotes (batch normalization, lección 01). Las dos cosas
# cuestan parámetros que el artículo no tiene; contémoslos.

# %%
with torch.device("meta"):  # solo formas: para contar no hacen falta pesos
    net_a = rl.create_model("resnet56", num_classes=10)
    net_c = rl.create_model("resnet56", num_classes=10, shortcut="C")
    plain = rl.create_model("plain56", num_classes=10)

layers = [m for m in net_a.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
blocks = block_names(net_a)
biases = sum(m.out_channels for m in net_c.modules() if isinstance(m, torch.nn.Conv2d))
print(f"ResNet-56: {len(blocks)} bloques ({blocks[0]} … {blocks[-1]}), "
      f"{len(layers)} capas con pesos")
print(f"opción A (artículo):          {count_params(net_a):>9,} parámetros")
print(f"plain-56 (sin atajos):        {count_params(plain):>9,} parámetros")
print(f"opción C (nota 001):          {count_params(net_c):>9,} parámetros")
print(f"opción C + sesgos de las conv: {count_params(net_c) + biases:>8,} parámetros")
assert len(blocks) == 27 and len(layers) == 6 * 9 + 2
assert count_params(net_a) == count_params(plain)
assert round(count_params(net_a) / 1e6, 2) == 0.85
assert count_params(net_c) > count_params(net_a)

# %% [markdown]
# ## 2. Los datos
#
# El modo completo lee los lotes oficiales de CIFAR-10: 60,000 imágenes en color de 32×32 en
# diez clases (Krizhevsky 2009); la copia compartida del curso es un subconjunto de unas 4,000
# imágenes de entrenamiento y 1,000 de prueba, en el mismo formato. El modo rápido usa los
# dígitos manuscritos de 8×8 que trae `resnetlab` (1,797 imágenes, también diez clases), para
# que el cuaderno funcione en cualquier sitio en segundos.

# %%
if QUICK:
    bundle = rl.data.load("digits")
else:
    try:
        bundle = rl.data.load("cifar10", root=DATA_DIR / "cifar-10-batches-py", download=True)
    except ResnetlabError as err:
        print(err)
        print("-> entrenamos en su lugar con los dígitos incluidos")
        bundle = rl.data.load("digits")

if len(bundle.test) > TEST_IMAGES:  # las 10,000 oficiales: basta una parte para medir ±1 %
    bundle = replace(bundle, test=bundle.test.subset(slice(0, TEST_IMAGES)))
train_set, test = bundle.train, bundle.test
chance = 1 / bundle.num_classes
print(f"{bundle.name}: {len(train_set)} imágenes de entrenamiento y {len(test)} de prueba de "
      f"{'×'.join(map(str, train_set.input_size))}, clases {', '.join(train_set.classes)}")
print(f"imágenes de prueba por clase: {test.class_counts().tolist()}; azar: {chance:.0%}")

# %% [markdown]
# ## 3. El entrenamiento
#
# `rl.train` recibe el nombre del modelo, los datos y una duración, y completa todo lo demás con
# su receta **fast**: SGD con momento de Nesterov, un calentamiento (warm-up) de la tasa de
# aprendizaje (learning rate) seguido de un descenso lineal, suavizado de etiquetas (label
# smoothing) y un calendario ajustado a la duración de la ejecución. En modo completo la
# duración es un **presupuesto de tiempo**: el entrenador mide su propia velocidad y se
# replanifica para terminar a tiempo. En modo rápido es un número fijo de pasos.
#
# Cambiamos dos decisiones de la receta. Unos pocos minutos es muy poco entrenamiento para una
# red de 56 capas: con la tasa máxima de la receta, 0.1, y lotes de 128, ResNet-56 apenas
# aprende en tres épocas del subconjunto de CIFAR-10 (`docs/benchmarks.md`). Una tasa máxima más
# baja (0.02) y lotes pequeños de 32 (cuatro veces más actualizaciones con las mismas imágenes
# vistas) hacen que aprenda ya en la primera época: 25 % de exactitud de prueba tras una época
# del subconjunto, donde el azar da un 10 %.
#
# Todo queda en un directorio de la ejecución (run directory): `config.json`, `metrics.csv`
# (una fila por época), los puntos de control (checkpoints) y el `model.safetensors` final con
# su `model.json`.

# %%
run_dir = OUT / "run"
if QUICK:
    run = rl.train("resnet56", bundle, out_dir=run_dir, overwrite=True, seed=SEED, quiet=True,
                   overrides={"iterations": QUICK_STEPS, "lr": LR}, batch_size=BATCH)
else:
    run = rl.train("resnet56", bundle, out_dir=run_dir, overwrite=True, seed=SEED,
                   time_budget=TIME_BUDGET, overrides={"lr": LR}, batch_size=BATCH)

print(f"directorio de la ejecución: {run.run_dir}")
print(f"{run.metrics['steps']} pasos, {run.metrics['epochs']} épocas, "
      f"{run.metrics['train_seconds']:.0f} s de entrenamiento")
print("archivos:", ", ".join(sorted(p.name for p in run.run_dir.iterdir())))
assert (run.run_dir / "model.safetensors").is_file()
assert (run.run_dir / "model.json").is_file() and (run.run_dir / "metrics.csv").is_file()

# %% [markdown]
# ## 4. Curvas de aprendizaje
#
# `metrics.csv` tiene una fila por época: la pérdida (loss) y la exactitud de entrenamiento
# (promediadas sobre la época, con imágenes aumentadas) y la pérdida y la exactitud de prueba
# medidas al final de la época. La última época puede ser más corta que las demás (la ejecución
# se detiene tras el número de pasos planificado), así que dibujamos frente al número de pasos.

# %%
with open(run.run_dir / "metrics.csv", newline="") as f:
    rows = list(csv.DictReader(f))


def column(name: str, scale: float = 1.0) -> list[float]:
    """Una columna de metrics.csv como números; NaN donde la ejecución no la midió (con un
    presupuesto de tiempo se salta la prueba de la última época: la sustituye la evaluación
    final)."""
    return [scale * float(r[name]) if r[name] else float("nan") for r in rows]


steps = [int(r["step"]) for r in rows]  # las épocas pueden durar distinto: frente a los pasos
for r in rows:
    test_part = (f"pérdida de prueba {float(r['test_loss']):.3f}  "
                 f"exactitud de prueba {float(r['test_acc']):.1%}"
                 if r["test_acc"] else "prueba: ver la evaluación final")
    print(f"época {r['epoch']:>2}  paso {r['step']:>5}  "
          f"pérdida de entrenamiento {float(r['train_loss']):.3f}  {test_part}")
print(f"exactitud de prueba final (el modelo guardado): {run.metrics['test_top1']:.1%}")
assert len(rows) == run.metrics["epochs"] and int(rows[-1]["step"]) == run.metrics["steps"]

fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
ax_loss.plot(steps, column("train_loss"), "o-", label="entrenamiento")
ax_loss.plot(steps, column("test_loss"), "s--", label="prueba")
ax_loss.set(xlabel="paso (final de cada época)", ylabel="pérdida de entropía cruzada",
            title="Pérdida")
ax_acc.plot(steps, column("train_acc", 100), "o-", label="entrenamiento")
ax_acc.plot(steps, column("test_acc", 100), "s--", label="prueba")
ax_acc.plot(steps[-1:], [100 * run.metrics["test_top1"]], "*", ms=12, color="tab:red",
            label="modelo final")
ax_acc.axhline(100 * chance, color="grey", lw=1, ls=":", label="azar")
ax_acc.set(xlabel="paso (final de cada época)", ylabel="exactitud (%)", title="Exactitud",
           ylim=(0, 100))
for ax in (ax_loss, ax_acc):
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
fig.suptitle(f"ResNet-56 en {bundle.name}: {run.metrics['steps']} pasos", fontsize=11)
fig.savefig(OUT / "curves.png", dpi=100)
plt.show()

# %% [markdown]
# ## 5. Evaluación
#
# `rl.evaluate` vuelve a leer el modelo guardado en el directorio de la ejecución, con la
# normalización con la que se entrenó, y lo mide sobre la partición de prueba (en modo completo
# con el CIFAR-10 oficial, sobre sus primeras `TEST_IMAGES` imágenes). La **matriz de
# confusión** tiene una fila por clase verdadera y una columna por clase predicha: en la
# diagonal están los aciertos y en cada una de las demás celdas, un tipo de error.

# %%
ev = rl.evaluate(run.run_dir, test)
# "Mejor que el azar por un margen": quien adivina a ciegas acierta de media `chance`, y supera
# chance + 5 desviaciones típicas de su acierto (binomial) menos de una vez en un millón.
threshold = chance + 5 * (chance * (1 - chance) / ev.n) ** 0.5
print(f"exactitud top-1 {ev.top1:.1%} (azar {chance:.0%}; quien adivina se queda por debajo "
      f"de {threshold:.1%}), top-5 {ev.top5:.1%}, pérdida {ev.loss:.3f}, "
      f"sobre {ev.n} imágenes de prueba")
for name, acc in ev.per_class.items():
    print(f"   {name:>10}: {acc:6.1%}")
assert ev.n == len(test) and int(ev.confusion.sum()) == len(test)
assert ev.top1 >= threshold
assert abs(ev.top1 - run.metrics["test_top1"]) <= 2 / ev.n

# %%
k = len(ev.classes)
rates = ev.confusion.double() / ev.confusion.sum(dim=1, keepdim=True).clamp_min(1)
fig, ax = plt.subplots(figsize=(6.8, 6.2), layout="constrained")
image = ax.imshow(rates.numpy(), cmap="Blues", vmin=0, vmax=1)
for i in range(k):
    for j in range(k):
        if ev.confusion[i, j]:
            ax.text(j, i, int(ev.confusion[i, j]), ha="center", va="center", fontsize=8,
                    color="white" if rates[i, j] > 0.5 else "black")
ax.set_xticks(range(k), labels=ev.classes, rotation=45, ha="right")
ax.set_yticks(range(k), labels=ev.classes)
ax.set(xlabel="clase predicha", ylabel="clase verdadera",
       title=f"Matriz de confusión ({ev.n} imágenes de prueba, exactitud {ev.top1:.1%})")
fig.colorbar(image, ax=ax, shrink=0.8, label="fracción de la clase verdadera")
fig.savefig(OUT / "confusion.png", dpi=100)
plt.show()

# %% [markdown]
# ## 6. Los errores
#
# ¿Qué imágenes clasifica mal la red? Clasificamos cada imagen de prueba con el camino de
# predicción de `resnetlab` (el mismo que usan `resnetlab predict` y el servidor), nos quedamos
# con las respuestas equivocadas y mostramos primero las más seguras: suelen ser las más
# instructivas (una imagen ambigua, una clase que se parece a otra, a veces una etiqueta
# discutible).

# %%
model, meta = rl.load_model(run.run_dir)
guesses = predict_tensors(model, meta, list(test.images), top_k=1)
predicted = torch.tensor([g[0].index for g in guesses])
confidence = torch.tensor([g[0].probability for g in guesses])
wrong = (predicted != test.labels).nonzero().flatten()
wrong = wrong[confidence[wrong].argsort(descending=True)]
accuracy = float((predicted == test.labels).float().mean())
print(f"{len(wrong)} errores de {len(test)}; exactitud del camino de predicción "
      f"{accuracy:.1%} (rl.evaluate: {ev.top1:.1%})")
assert len(wrong) == len(test) - int((predicted == test.labels).sum())
assert abs(accuracy - ev.top1) <= 2 / ev.n

shown = wrong[:GALLERY].tolist()
cols = 6
fig, axes = plt.subplots(2, cols, figsize=(2.0 * cols, 4.9), layout="constrained")
for ax in axes.flat:
    ax.axis("off")
for ax, i in zip(axes.flat, shown, strict=False):
    ax.imshow(image_for_display(test.images[i]), cmap="gray", interpolation="nearest")
    ax.set_title(f"verdadera: {test.classes[int(test.labels[i])]}\n"
                 f"predicha: {test.classes[int(predicted[i])]} ({float(confidence[i]):.0%})",
                 fontsize=9)
fig.suptitle("Los errores más seguros en la partición de prueba", fontsize=11)
fig.savefig(OUT / "mistakes.png", dpi=100)
plt.show()

# %% [markdown]
# ## Resumen
#
# - ResNet-56 es $6n + 2$ con $n = 9$: 27 bloques básicos en tres etapas (16, 32 y 64 canales)
#   y atajos de la opción A, 0.85 M parámetros, exactamente tantos como su gemela plana. El
#   bloque de la nota 001, con una proyección en cada bloque y sesgos antes de la normalización
#   por lotes, construiría una red más grande que la del artículo.
# - `rl.train` con un presupuesto de tiempo la entrena en un portátil en minutos y deja todo en
#   el directorio de la ejecución: las curvas salen de su `metrics.csv`, la evaluación de su
#   `model.safetensors`.
# - La red entrenada supera claramente al azar; la matriz de confusión y la galería muestran qué
#   clases sigue confundiendo. Para acercarse al 6.97 % de error del artículo hay que entrenar
#   mucho más tiempo con el CIFAR-10 completo: `resnetlab train --model resnet56 --data cifar10
#   --data-dir DIR --recipe he2016` sigue el calendario del artículo (64,000 iteraciones; horas
#   en una GPU, días en una CPU).
#
# Próxima lección: la normalización por lotes, el otro ingrediente que permite entrenar redes
# profundas.
