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
# # 06 · Aprendizaje por transferencia y Grad-CAM
#
# Una red entrenada para una tarea ya sabe mucho sobre imágenes: bordes, trazos, texturas,
# partes de objetos. El **aprendizaje por transferencia (transfer learning)** aprovecha ese
# conocimiento: se conserva el cuerpo ya entrenado de la red (la **red troncal**, *backbone*),
# se le pone encima un clasificador nuevo (la **cabeza**, *head*) para *tus* clases y se entrena
# con una carpeta pequeña de imágenes propias. Después le preguntamos a la red ajustada
# *dónde miró* para decidir, con **Grad-CAM** (Selvaraju et al. 2017).
#
# Qué vas a hacer:
#
# 1. construir una carpeta de imágenes con la estructura que esperan todas las herramientas
#    (`nombre_de_clase/*.png`);
# 2. obtener una red troncal preentrenada y ver por qué hay que sustituir su clasificador;
# 3. hacer el ajuste fino (fine-tuning) con la función de `resnetlab` (el mismo código que
#    `resnetlab finetune`): primero solo la cabeza con la red troncal congelada, luego la red
#    entera;
# 4. compararlo con entrenar la misma red desde pesos aleatorios;
# 5. explicar las predicciones con mapas de calor Grad-CAM.
#
# **Tiempo.** Modo rápido (`RESNETLAB_QUICK=1`): unos 10 s. Modo completo: de 2 a 5 minutos en
# la CPU de un portátil (descarga una sola vez los 45 MB de pesos ImageNet de ResNet-18, si hay
# conexión).

# %% tags=["parameters"]
import os
from pathlib import Path

QUICK = os.environ.get("RESNETLAB_QUICK") == "1"
DATA_DIR = Path(os.environ.get("RESNETLAB_DATA_DIR", "data"))
OUT = Path(os.environ.get("RESNETLAB_TUTORIAL_OUT", "outputs")) / "06"
OUT.mkdir(parents=True, exist_ok=True)
SEED = 0
os.environ.setdefault("RESNETLAB_LANG", "es")

MY_IMAGES = DATA_DIR / "my-images"  # tu propia carpeta: my-images/<clase>/*.png|jpg
WEIGHTS = "IMAGENET1K_V1"  # modo completo: los pesos ImageNet de ResNet-18 que publica torchvision
TRAIN_PER_CLASS = 15  # imágenes etiquetadas por clase en la carpeta de dígitos: pocas, a propósito
PRETRAIN_STEPS = 30 if QUICK else 300
FREEZE_EPOCHS = 2  # fase 1: solo la cabeza nueva
EPOCHS = 3 if QUICK else 10  # fase 2: la red entera

# %% [markdown]
# ## Qué significa "preentrenada" en este cuaderno
#
# Los apuntes cargan una red preentrenada con torchvision,
# `models.resnet50(weights='IMAGENET1K_V2')`. resnetlab lee esos mismos ficheros publicados
# (`rl.load_weights(model, "IMAGENET1K_V1")`, o `--weights IMAGENET1K_V1` en la terminal), pero
# este cuaderno tiene que funcionar también sin internet. Así que, con total franqueza:
#
# - el **modo rápido** usa como red troncal "preentrenada" una ResNet-20 que entrenamos aquí
#   mismo durante unos segundos con los dígitos **0–5** del conjunto de dígitos 8×8 que trae el
#   paquete; la tarea nueva son los dígitos **6–9**, clases que la red troncal no ha visto nunca;
# - el **modo completo** usa los pesos ImageNet reales de ResNet-18 (`IMAGENET1K_V1`: 1,28
#   millones de fotos de 1000 clases) si se pueden descargar, y tu propia carpeta
#   `DATA_DIR/my-images` si existe. Si falta alguna de las dos, lo dice y vuelve a los dígitos.

# %%
import json
import shutil

import matplotlib.pyplot as plt
import torch
from matplotlib.cm import ScalarMappable
from PIL import Image

import resnetlab as rl
from resnetlab.analysis.gradcam import grad_cam, overlay
from resnetlab.analysis.render import image_for_display
from resnetlab.data import normalize
from resnetlab.train.finetune import build_pretrained, discriminative_lr, finetune
from resnetlab.train.recipes import resolve_recipe

torch.manual_seed(SEED)

# %% [markdown]
# ## 1. Una carpeta con tus propias imágenes
#
# Es el formato de conjunto de datos más sencillo que existe, el que popularizó `ImageFolder` de
# torchvision: una subcarpeta por clase, y el nombre de la subcarpeta es el nombre de la clase.
#
# ```
# my-images/
#     gato/ 001.jpg 002.jpg ...
#     perro/ ...
# ```
#
# `rl.data.load("folder", raiz)` la carga en memoria y, si no hay subcarpetas `train/` y
# `test/`, aparta un 20 % estratificado como imágenes de prueba (siempre las mismas). Aquí
# escribimos una carpeta así a partir de los dígitos incluidos: `pretrain-images/` con los
# dígitos 0–5 para la red troncal, e `images/train/` + `images/test/` con los dígitos 6–9, con
# solo 15 imágenes etiquetadas por clase para entrenar, como con un puñado de fotos propias.

# %%
digits = rl.data.load("digits")
all_images = torch.cat([digits.train.images, digits.test.images])
all_labels = torch.cat([digits.train.labels, digits.test.labels]).tolist()
pretrain_cap = 100 if QUICK else None  # imágenes por clase para la tarea de la red troncal
test_cap = 40 if QUICK else None  # imágenes de prueba por clase de la tarea nueva

for old in ("pretrain-images", "images"):  # una ejecución anterior (rápida o completa) se borra
    shutil.rmtree(OUT / old, ignore_errors=True)
written: dict[int, int] = {}
for i, (image, label) in enumerate(zip(all_images, all_labels, strict=True)):
    n = written.get(label, 0)
    if label <= 5:
        if pretrain_cap is not None and n >= pretrain_cap:
            continue
        folder = OUT / "pretrain-images" / str(label)
    else:
        if test_cap is not None and n >= TRAIN_PER_CLASS + test_cap:
            continue
        split = "train" if n < TRAIN_PER_CLASS else "test"
        folder = OUT / "images" / split / str(label)
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image[0].numpy()).save(folder / f"{i:04d}.png")
    written[label] = n + 1
print("ficheros PNG escritos por dígito:", dict(sorted(written.items())))

# %% [markdown]
# ¿Qué imágenes usa la tarea nueva? En modo completo, tu propia carpeta si la has creado; si
# no, la carpeta de dígitos que acabamos de escribir.

# %%
if not QUICK and MY_IMAGES.is_dir():
    TARGET = MY_IMAGES
    print(f"usando tus propias imágenes: {MY_IMAGES}")
else:
    TARGET = OUT / "images"
    if not QUICK:
        print(f"no existe la carpeta {MY_IMAGES}: pon ahí una subcarpeta por clase (p. ej. "
              f"{MY_IMAGES}/gato/*.jpg) para ajustar con tus imágenes; usamos los dígitos 6-9")

# %% [markdown]
# ## 2. La red troncal preentrenada
#
# El modo completo prueba primero con lo auténtico, la ResNet-18 de ImageNet. `build_pretrained`
# es lo que llama `resnetlab finetune`: construye el modelo y carga los pesos, así que si falta
# el fichero falla aquí, con un mensaje de una línea que dice cómo arreglarlo. Si no (y siempre
# en modo rápido), preentrenamos la ResNet-20 con los dígitos 0–5 usando `rl.train`.

# %%
backbone = None
if not QUICK:
    try:
        build_pretrained("resnet18", {}, WEIGHTS, 1000)
        backbone = {"model": "resnet18", "weights": WEIGHTS, "classes": 1000,
                    "image_size": 224 if TARGET == MY_IMAGES else 112, "lr": 0.01}
        print(f"red troncal: resnet18 con los pesos ImageNet {WEIGHTS}")
    except rl.ResnetlabError as exc:
        print(f"{exc}\n-> usamos en su lugar una red troncal preentrenada aquí con los "
              "dígitos 0-5")

if backbone is None:
    # imágenes tan pequeñas: cada operación es demasiado pequeña para ganar con un segundo hilo,
    # y en una máquina compartida cada operación lo esperaría (docs/training.md, --threads)
    torch.set_num_threads(1)
    size = 8 if QUICK else 16  # los dígitos miden 8x8; el modo completo los amplía a 16x16
    pre_data = rl.data.load("folder", OUT / "pretrain-images", image_size=size)
    pre_run = rl.train("resnet20", pre_data, "fast", OUT / "pretrained", seed=SEED,
                       overrides={"iterations": PRETRAIN_STEPS, "batch_size": 64,
                                  "flip": False, "tta_flip": False},
                       quiet=True, overwrite=True, checkpoint_seconds=0)
    pre_acc = pre_run.metrics["test_top1"]
    print(f"red troncal: resnet20 entrenada {PRETRAIN_STEPS} pasos con los dígitos 0-5 "
          f"({len(pre_data.train)} imágenes): {100 * pre_acc:.1f} % en sus "
          f"{len(pre_data.test)} imágenes de prueba")
    # la red troncal aprendió su propia tarea (azar: 1/6)
    assert pre_acc > 2 / 6
    backbone = {"model": "resnet20", "weights": OUT / "pretrained", "classes": 6,
                "image_size": size, "lr": 0.05}

# %%
data = rl.data.load("folder", TARGET, image_size=backbone["image_size"])
num_classes = data.num_classes
print(f"tarea nueva: {num_classes} clases {data.classes}, {len(data.train)} imágenes de "
      f"entrenamiento y {len(data.test)} de prueba, de tamaño {tuple(data.input_size)}")
assert TARGET == MY_IMAGES or len(data.train) == TRAIN_PER_CLASS * num_classes

# %% [markdown]
# ## 3. Una cabeza nueva: por qué falla la carga estricta
#
# El `models.resnet50(weights=...)` de los apuntes devuelve una red cuya última capa, `fc`, sigue
# prediciendo las 1000 clases de ImageNet (aquí: los 6 dígitos de la red troncal). Cargar esos
# pesos en un modelo construido para *nuestras* clases falla justo en esa capa, porque una `fc`
# de 6 salidas (o de 1000) no puede convertirse en una de 4. La solución es conservarlo todo
# **menos** el clasificador, que empieza de cero: `new_head=True`.

# %%
target_model = rl.create_model(backbone["model"], num_classes=num_classes)
try:
    rl.load_weights(target_model, backbone["weights"])
    strict_failed = False
except rl.ResnetlabError as exc:
    strict_failed = True
    print("carga estricta:", exc)
report = rl.load_weights(target_model, backbone["weights"], new_head=True)
print(f"new_head=True: {report.loaded} tensores cargados, clasificador nuevo: "
      f"{report.fresh_head}")
assert strict_failed == report.fresh_head == (num_classes != backbone["classes"])
assert tuple(target_model.fc.weight.shape)[0] == num_classes

# %% [markdown]
# ## 4. Ajuste fino en dos fases
#
# `resnetlab.train.finetune.finetune` (la cara Python de `resnetlab finetune`) hace lo que
# recomienda la literatura:
#
# 1. **Red troncal congelada** (`freeze_epochs`): solo se entrena la cabeza nueva. Una cabeza
#    aleatoria manda gradientes aleatorios hacia la red troncal; entrenarla primero protege las
#    características preentrenadas.
# 2. **Ajuste fino completo** (`epochs`): se entrena todo, con *tasas de aprendizaje
#    discriminativas* (discriminative learning rates; Howard y Ruder 2018, ULMFiT): cada etapa
#    más alejada de la cabeza multiplica su tasa otra vez por `lr_decay`, porque las primeras
#    capas guardan características genéricas que necesitan cambiar menos.
#
# La tabla siguiente es esa regla aplicada a nuestro modelo (`discriminative_lr`, la que usa el
# ajuste fino).
#
# Con 60 imágenes de entrenamiento una época son solo 4 pasos de 16 imágenes, así que puede
# aparecer el aviso del bucle de entrenamiento "the training loss rose during the first epoch"
# (la pérdida subió durante la primera época): compara la pérdida media de la primera época con
# la de su primerísimo paso, y con 4 pasos eso es puro ruido. En un entrenamiento de verdad es
# la señal de una tasa de aprendizaje demasiado alta.

# %%
scales = discriminative_lr(target_model, lr_decay=0.5)
for prefix in ["fc.", *[f"{s}." for s in reversed(target_model.stage_names)], "conv1."]:
    factor = next(v for k, v in scales.items() if k.startswith(prefix))
    print(f"  {prefix:<8} lr x {factor:g}")
assert scales["fc.weight"] == 1.0 and scales["conv1.weight"] < scales["fc.weight"]

# %%
recipe = resolve_recipe("fast", {"lr": backbone["lr"], "batch_size": 16,
                                 "flip": False, "tta_flip": False})
ft_dir = OUT / "finetune"
ft_run = finetune(backbone["model"], backbone["weights"], data, recipe, ft_dir,
                  epochs=EPOCHS, freeze_epochs=FREEZE_EPOCHS, lr_decay=0.5, seed=SEED,
                  overwrite=True, quiet=True, checkpoint_seconds=0)
head_metrics = json.loads((ft_dir / "head" / "model.json").read_text())["metrics"]
frozen_acc, finetuned_acc = head_metrics["test_top1"], ft_run.metrics["test_top1"]
print(f"tras la fase 1 (solo la cabeza, {FREEZE_EPOCHS} épocas): {100 * frozen_acc:.1f} % en "
      "las imágenes de prueba")
print(f"tras la fase 2 (la red entera, {EPOCHS} épocas): {100 * finetuned_acc:.1f} %")
print("lo mismo desde una terminal:\n  resnetlab finetune --model", backbone["model"],
      "--weights", backbone["weights"], "--data folder --data-dir", TARGET,
      f"--freeze-epochs {FREEZE_EPOCHS} --epochs {EPOCHS} --lr {backbone['lr']}")

# %% [markdown]
# ## 5. ¿De verdad la fase 1 congeló la red troncal?
#
# `requires_grad=False` corta el gradiente, pero **no** congela una red en modo entrenamiento:
# cada capa de normalización por lotes (batch normalization) sigue actualizando su media y su
# varianza acumuladas con cada lote, así que la red troncal "congelada" se iría desplazando
# igualmente hacia las estadísticas de los datos nuevos. Por eso resnetlab pone además el
# momento (momentum) de BatchNorm a 0 durante la fase 1. Lo comprobamos: tras la fase 1, cada
# tensor de la red troncal (pesos *y* estadísticas de BatchNorm) es, bit a bit, el preentrenado.

# %%
before = build_pretrained(backbone["model"], {}, backbone["weights"], num_classes).state_dict()
after_head, _ = rl.load_model(ft_dir / "head")
after_full, meta = rl.load_model(ft_dir)
after, final = after_head.state_dict(), after_full.state_dict()
body = [k for k in before if not k.startswith("fc.") and not k.endswith("num_batches_tracked")]
unchanged = sum(torch.equal(before[k], after[k]) for k in body)
moved = sum(not torch.equal(before[k], final[k]) for k in body)
print(f"fase 1: {unchanged} de {len(body)} tensores de la red troncal sin cambios; "
      f"fase 2: {moved} de ellos se movieron")
assert unchanged == len(body) and moved > 0
assert not torch.equal(before["fc.weight"], after["fc.weight"])

# %% [markdown]
# ## 6. ¿Sirve de algo el preentrenamiento?
#
# La comparación honesta: la misma arquitectura y la misma receta, desde pesos aleatorios,
# durante tantas épocas como las dos fases juntas.

# %%
scratch = rl.train(backbone["model"], data, recipe.with_length(epochs=FREEZE_EPOCHS + EPOCHS),
                   OUT / "scratch", seed=SEED, quiet=True, overwrite=True, checkpoint_seconds=0)
scratch_acc = scratch.metrics["test_top1"]
evaluation = rl.evaluate(ft_dir, data.test)
chance = 1 / num_classes
print(f"exactitud en prueba: desde cero {100 * scratch_acc:.1f} %, red troncal congelada "
      f"{100 * frozen_acc:.1f} %, ajuste fino completo {100 * finetuned_acc:.1f} % "
      f"(azar {100 * chance:.0f} %)")
print("ajuste fino, por clase:", {c: f"{100 * a:.0f} %" for c, a in evaluation.per_class.items()})
assert evaluation.n == len(data.test) and abs(evaluation.top1 - finetuned_acc) < 1e-6
# muy por encima del azar en imágenes nunca vistas
assert finetuned_acc >= 2 * chance

# %%
names = ["desde cero\n(pesos aleatorios)", "red troncal congelada\n(solo la cabeza)",
         "ajuste fino completo"]
values = [100 * scratch_acc, 100 * frozen_acc, 100 * finetuned_acc]
fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
bars = ax.bar(names, values, color=["#999999", "#7fa7d9", "#2b6cb0"])
ax.bar_label(bars, fmt="%.1f %%")
ax.axhline(100 * chance, color="k", ls="--", lw=1, label=f"azar ({100 * chance:.0f} %)")
ax.set_ylim(0, 115)
ax.set_ylabel("exactitud en prueba (%)")
ax.set_title(f"{backbone['model']} con {len(data.train)} imágenes de entrenamiento, "
             f"{len(data.test)} de prueba")
ax.legend(loc="upper left", fontsize=8)
fig.savefig(OUT / "transfer.png", dpi=120)
plt.show()

# %% [markdown]
# Cómo leerlo: la cabeza sobre la red congelada solo puede ser tan buena como las
# características de la red troncal; el ajuste fino completo las adapta. Que el preentrenamiento
# gane o no al entrenamiento desde cero depende de cuánto aprendió la red troncal y de cuánto se
# parece su tarea a la tuya: con una red troncal que vio dígitos de 8×8 durante unos segundos, y
# 15 imágenes por clase de una tarea fácil, las tres barras pueden salir en cualquier orden (el
# cuaderno no lo comprueba). La medición de resnetlab sobre CIFAR-10 (docs/benchmarks.md,
# "Transfer learning") dio un ajuste fino 3,7 puntos por encima del mejor entrenamiento desde
# cero con una red troncal entrenada 40 épocas, y lo contrario con una entrenada solo 8: una red
# troncal que no ha aprendido su propia tarea no tiene nada que transferir. Con pesos de
# ImageNet y fotos reales la diferencia suele ser mucho mayor.
#
# ## 7. Grad-CAM: ¿dónde mira la red?
#
# Grad-CAM (Selvaraju et al. 2017) toma los mapas de características (feature maps) $A^k$ de una
# capa (por defecto, la última etapa) y el gradiente de la puntuación de la clase $y^c$ respecto
# a ellos. El gradiente promediado sobre las posiciones es la importancia $\alpha_k$ del canal
# $k$, y el mapa es
#
# $$L^c = \mathrm{ReLU}\Big(\sum_k \alpha_k A^k\Big), \qquad
# \alpha_k = \frac{1}{hw}\sum_{i,j} \frac{\partial y^c}{\partial A^k_{ij}},$$
#
# ampliado al tamaño de la imagen y escalado a [0, 1]. Su resolución real es la de la capa
# (`h × w`), no la de la imagen: un valor por cada posición de esa etapa.

# %%
# dos imágenes de prueba de cada clase (como mucho 8 en total)
picks = [i for c in range(num_classes)
         for i in (data.test.labels == c).nonzero().flatten()[:2].tolist()][:8]
count = len(picks)
explained = []
for i in picks:
    x = normalize(data.test.images[i : i + 1], meta["mean"], meta["std"])
    last = grad_cam(after_full, x)  # la última etapa (la capa por defecto)
    earlier = grad_cam(after_full, x, layer=after_full.stage_names[-2])
    explained.append((x, last, earlier))

stage_shapes = {row.name: tuple(row.output_shape[1:])
                for row in rl.summary(after_full, (1, *data.input_size), depth=1).rows}
for x, last, earlier in explained:
    for cam in (last, earlier):
        # ampliado a la imagen
        assert tuple(cam.cam.shape) == tuple(x.shape[-2:])
        # calculado en la capa
        assert tuple(cam.layer_shape) == stage_shapes[cam.layer]
        assert 0.0 <= float(cam.cam.min()) and float(cam.cam.max()) <= 1.0
# Grad-CAM no entrena nada
assert all(p.grad is None for p in after_full.parameters())
first = explained[0]
print(f"Grad-CAM en {first[1].layer}: calculado sobre mapas de {first[1].layer_shape}, "
      f"devuelto como {tuple(first[1].cam.shape)} (el tamaño de la imagen)")
print(f"Grad-CAM en {first[2].layer}: calculado sobre {first[2].layer_shape}")

# %%
fig, axes = plt.subplots(3, count, figsize=(1.7 * count + 1.2, 6.2), squeeze=False,
                         layout="constrained")
for col, (i, (_, last, earlier)) in enumerate(zip(picks, explained, strict=True)):
    pixels = image_for_display(data.test.images[i])
    truth = data.classes[int(data.test.labels[i])]
    guess = data.classes[last.class_index]
    axes[0, col].imshow(pixels, cmap="gray", interpolation="nearest")
    axes[0, col].set_title(f"real {truth}\npredicho {guess} ({100 * last.probability:.0f} %)",
                           fontsize=9, color="k" if truth == guess else "tab:red")
    axes[1, col].imshow(overlay(pixels, last.cam), interpolation="bilinear")
    axes[2, col].imshow(overlay(pixels, earlier.cam), interpolation="bilinear")
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
h, w = first[1].layer_shape[1:]
axes[1, 0].set_ylabel(f"{first[1].layer}\n({h}×{w} celdas)", fontsize=9)
h, w = first[2].layer_shape[1:]
axes[2, 0].set_ylabel(f"{first[2].layer}\n({h}×{w} celdas)", fontsize=9)
bar = fig.colorbar(ScalarMappable(cmap="jet"), ax=axes[1:, :], shrink=0.8)
bar.set_label("Grad-CAM (1 = su máximo)", fontsize=9)
fig.suptitle("Grad-CAM de la clase predicha: rojo = posiciones que más suben su puntuación",
             fontsize=10)
fig.savefig(OUT / "gradcam.png", dpi=100)
plt.show()

# %% [markdown]
# ## Para llevarse
#
# - Aprendizaje por transferencia = red troncal preentrenada + **cabeza nueva** para tus clases
#   (`new_head=True`; la carga estricta rechaza, con razón, un clasificador de otro tamaño).
# - Primero se entrena la cabeza con la red troncal congelada, **estadísticas de BatchNorm
#   incluidas**; después todo, con tasas más pequeñas para las primeras capas.
# - Compara siempre con un entrenamiento desde cero sobre las mismas imágenes de prueba: la
#   transferencia ayuda cuando la red troncal aprendió algo útil, no por arte de magia.
# - Grad-CAM muestra qué *posiciones de una etapa* subieron la puntuación de la clase predicha.
#   Con dígitos de 8×8 la última etapa de la ResNet-20 tiene solo 2×2 posiciones (modo rápido),
#   así que el mapa es una mancha; la etapa anterior es más fina pero distingue peor las clases.
#   En una foto de 224×224, la última etapa de una ResNet-18 tiene 7×7.
#
# **Te toca.** Pon unas cuantas decenas de fotos por clase en `data/my-images/<clase>/` y ejecuta
# este cuaderno en modo completo, o desde una terminal:
#
# ```bash
# resnetlab finetune --model resnet18 --weights IMAGENET1K_V1 --data folder \
#     --data-dir data/my-images --freeze-epochs 2 --epochs 10 --out runs/my-finetune
# resnetlab lab gradcam --weights runs/my-finetune --data folder --data-dir data/my-images
# ```
