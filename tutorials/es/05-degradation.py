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
# # 05 · Degradación y flujo del gradiente
#
# ¿Por qué no basta con apilar más capas? He et al. 2015 (arXiv:1512.03385, §4.1 y Figura 6)
# observaron que en CIFAR-10 una red *plana* (plain network: convoluciones, BatchNorm y ReLU,
# sin atajos) de 56 capas termina con un **error de entrenamiento más alto** que una de 20. Lo
# llaman el **problema de la degradación** (degradation problem): no es sobreajuste
# (overfitting), porque el error que empeora es el de entrenamiento, sino una dificultad de
# optimización. Las mismas profundidades con conexiones residuales (skip connections) no se
# degradan.
#
# Los apuntes del curso (notas 003 y 004) explican el problema como un **desvanecimiento del
# gradiente** (vanishing gradient). El artículo dice otra cosa (§4.1): con BatchNorm los
# gradientes de las redes planas tienen normas "saludables", así que considera "poco
# probable" que el desvanecimiento sea la causa. En esta lección mides las dos cosas con el
# laboratorio de resnetlab:
#
# 1. redes planas y residuales de la misma profundidad: mismas capas, mismos parámetros;
# 2. el **flujo del gradiente** (gradient flow): la norma del gradiente de cada capa, al
#    inicializar y tras unos pasos de SGD (`resnetlab lab gradient-flow`,
#    `resnetlab.analysis.gradients.gradient_norms`);
# 3. la **degradación**: el error de entrenamiento de plain-20/56 y ResNet-20/56 entrenadas
#    con la misma receta durante el mismo número de iteraciones (`resnetlab lab degradation`).
#
# **Tiempo.** Modo rápido (`RESNETLAB_QUICK=1`, los dígitos incluidos en el paquete, un paso
# de SGD y 4 iteraciones de entrenamiento): unos 12 s; comprueba que todo funciona y mide los
# gradientes, pero entrena demasiado poco para mostrar la degradación. Modo completo
# (CIFAR-10): unos 15–20 minutos en la CPU de un portátil de 2 núcleos: de 3 a 7 minutos de
# medidas de gradiente (profundidades 20, 56 y 110) y un presupuesto de 12 minutos para
# entrenar las cuatro redes.

# %% tags=["parameters"]
import os
from pathlib import Path

os.environ.setdefault("RESNETLAB_LANG", "es")
QUICK = os.environ.get("RESNETLAB_QUICK") == "1"
DATA_DIR = Path(os.environ.get("RESNETLAB_DATA_DIR", "data"))
OUT = Path(os.environ.get("RESNETLAB_TUTORIAL_OUT", "outputs")) / "05"
OUT.mkdir(parents=True, exist_ok=True)
SEED = 0
DEPTHS = (20, 56) if QUICK else (20, 56, 110)  # 6n + 2 capas
GRAD_STEPS = 1 if QUICK else 20  # pasos de SGD entre las dos medidas del gradiente
BUDGET_MINUTES = 12  # presupuesto de tiempo real del experimento de degradación (modo completo)
DEG_ITERATIONS = 4 if QUICK else None  # None: tantas iteraciones como quepan en el presupuesto

# %% [markdown]
# ## 1. Preparación

# %%
import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import MaxNLocator

import resnetlab as rl
from resnetlab.analysis import count_params
from resnetlab.analysis.gradients import gradient_norms, main_path_convs
from resnetlab.data import normalize
from resnetlab.errors import ResnetlabError
from resnetlab.lab import run_experiment
from resnetlab.lab.plotting import depth_color
from resnetlab.models.blocks import ResidualBlock

# %matplotlib inline

torch.manual_seed(SEED)

# %% [markdown]
# ## 2. Redes planas y residuales de la misma profundidad
#
# Las redes para CIFAR del artículo (§4.2) tienen $6n+2$ capas con pesos: una convolución
# inicial de 3×3, tres etapas de $n$ bloques con dos convoluciones de 3×3 cada uno (16, 32 y
# 64 canales, sobre mapas de 32×32, 16×16 y 8×8) y un clasificador denso. `plainN` y `resnetN`
# se construyen con los *mismos* bloques; la única diferencia es la suma $F(x) + x$. Donde una
# etapa reduce a la mitad la resolución y duplica los canales, el atajo (shortcut) es la opción
# A del artículo: submuestrear y rellenar con ceros los canales nuevos, sin ningún parámetro.
# Así que las dos redes tienen exactamente los mismos parámetros: se compara solo el atajo.

# %%
PAPER_PARAMS = {20: 0.27e6, 32: 0.46e6, 44: 0.66e6, 56: 0.85e6, 110: 1.7e6}  # He et al., tabla 6
print(f"{'capas':>5} | {'parám. plana':>12} | {'parám. ResNet':>13} | {'convs':>5} | bloques")
for depth in DEPTHS:
    plain_net, res_net = rl.create_model(f"plain{depth}"), rl.create_model(f"resnet{depth}")
    blocks = [m for m in res_net.modules() if isinstance(m, ResidualBlock)]
    convs = main_path_convs(res_net)
    print(f"{depth:>5} | {count_params(plain_net):>12,} | {count_params(res_net):>13,} | "
          f"{len(convs):>5} | {len(blocks)}")
    assert count_params(plain_net) == count_params(res_net)
    assert len(convs) == len(main_path_convs(plain_net)) == depth - 1
    assert len(blocks) == 3 * (depth - 2) // 6
    assert float(f"{count_params(res_net):.2g}") == PAPER_PARAMS[depth]

# %% [markdown]
# $6n+2$ capas son $6n+1$ convoluciones más el clasificador: de ahí las `depth - 1`
# convoluciones del camino principal y los $3n$ bloques. Los recuentos coinciden con la tabla 6
# del artículo (0,27 M de parámetros para 20 capas, 0,85 M para 56, 1,7 M para 110) en las
# dos cifras significativas que publica.
#
# ## 3. Los datos
#
# Modo completo: CIFAR-10, que se lee de `DATA_DIR/cifar-10-batches-py` y se descarga allí si
# falta (`download=True`, unos 170 MB). Sin conexión, `rl.data.load` lanza un
# `ResnetlabError` de una línea que dice qué hacer; lo mostramos y seguimos con los dígitos
# incluidos. El modo rápido usa los dígitos de 8×8 incluidos en el paquete.

# %%
if QUICK:
    data_name, data_root = "digits", None
else:
    try:
        data_root = DATA_DIR / "cifar-10-batches-py"
        rl.data.load("cifar10", root=data_root, download=True)
        data_name = "cifar10"
    except ResnetlabError as exc:
        print(exc)
        print("-> seguimos con los dígitos incluidos")
        data_name, data_root = "digits", None
lab_data = {"data": data_name, "data_dir": None if data_root is None else str(data_root)}
print(lab_data)

# %% [markdown]
# ## 4. El flujo del gradiente
#
# `run_experiment("gradient-flow", ...)` construye redes planas y residuales de cada
# profundidad con la misma semilla, toma un lote fijo y registra, con BatchNorm en **modo de
# entrenamiento** (como durante el entrenamiento):
#
# - la norma L2 del gradiente de los pesos de cada convolución del camino principal,
#   $\|\partial L / \partial W\|$, desde el lado de la entrada (capa 1) hasta el de la salida;
# - lo mismo tras `GRAD_STEPS` pasos de SGD (tasa de aprendizaje 0.1, momento 0.9: el
#   optimizador del artículo).
#
# Si el gradiente se desvaneciera hacia la entrada, las curvas caerían de derecha a izquierda.
# El número que hay que mirar es el cociente *primera conv / última conv*: 1 significa un
# flujo perfectamente uniforme.

# %%
# Un hilo, como lo ejecuta docs/lab.md: en una CPU pequeña dos hilos sobre todo se esperan.
gf_result, gf_dir = run_experiment("gradient-flow", out_dir=OUT / "gradient-flow", quick=QUICK,
                                   seed=SEED, threads=1, depths=DEPTHS, steps=GRAD_STEPS,
                                   **lab_data)
print(*gf_result.verdict, sep="\n")
gf = gf_result.results
nets = {(n["plain"], n["depth"]): n for n in gf["networks"].values()}

# %%
STEPS_TEXT = f"{GRAD_STEPS} paso{'s' if GRAD_STEPS != 1 else ''} de SGD"
fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), layout="constrained")
for ax, phase, title in ((axes[0], "init", "al inicializar"),
                         (axes[1], "after", f"tras {STEPS_TEXT}")):
    for (plain, depth), net in sorted(nets.items()):
        norms = net[phase]["conv_grad_norms"]
        ax.plot(range(1, len(norms) + 1), norms, color=depth_color(depth), lw=1.4,
                ls="--" if plain else "-", label=f"{'plana' if plain else 'ResNet'}-{depth}")
    ax.set(yscale="log", xlabel="capa conv (1 = junto a la entrada)",
           ylabel="||dL/dW|| de la capa", title=f"gradientes de los pesos {title}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, ncol=2, title="discontinua: plana, continua: residual",
              title_fontsize=8)
fig.suptitle(f"Flujo del gradiente en un lote de {gf['batch_size']} imágenes de {gf['data']} "
             "(BatchNorm en modo de entrenamiento)")
fig.savefig(OUT / "gradient_flow.png", dpi=100)
plt.show()

# %%
plain56, res56 = nets[(True, 56)], nets[(False, 56)]
for (plain, depth), net in nets.items():
    print(f"{'plana' if plain else 'ResNet'}-{depth}: primera/última = "
          f"{net['first_last_ratio_init']:.3g} al inicializar, "
          f"{net['first_last_ratio_after']:.3g} tras {STEPS_TEXT}")
    assert len(net["init"]["conv_grad_norms"]) == len(net["after"]["conv_grad_norms"]) == depth - 1
assert plain56["first_last_ratio_init"] > 30 * res56["first_last_ratio_init"]
assert res56["first_last_ratio_init"] < 100
assert plain56["first_last_ratio_after"] < plain56["first_last_ratio_init"] / 1000
assert plain56["first_last_ratio_after"] < res56["first_last_ratio_after"]

# %% [markdown]
# Lo que dice la medida:
#
# - **Al inicializar, los gradientes de las redes planas no se desvanecen: explotan hacia la
#   entrada.** Cada capa conv-BN-ReLU plana multiplica la señal que viaja hacia atrás por un
#   factor algo mayor que 1, así que, tras 55 capas, la primera convolución de plain-56 recibe
#   miles de veces el gradiente de la última (Yang et al. 2019, "A Mean Field Theory of Batch
#   Normalization", arXiv:1902.08129, describen esta explosión en redes profundas con
#   BatchNorm). Las redes residuales se quedan dentro de un orden de magnitud: en un bloque
#   $y = x + F(x)$ la señal hacia atrás es $g\,(1 + \partial F/\partial x)$, una suma con un
#   camino identidad y no un producto de factores.
# - **Tras unos pasos, el panorama se invierte.** Esos gradientes enormes hacen crecer los
#   primeros pesos; una convolución seguida de BatchNorm calcula lo mismo sea cual sea la
#   escala de sus pesos, así que su gradiente se reduce como $1/\|W\|$. Las primeras capas de
#   la red plana acaban con gradientes *menores* que los de las últimas —tras los 20 pasos
#   del modo completo, más de un orden de magnitud en plain-56 y más de seis en plain-110—,
#   que es lo que muestra una gráfica de "desvanecimiento del gradiente", mientras que las
#   redes residuales se mantienen dentro de uno o dos órdenes de magnitud.
#
# Así que los apuntes aciertan en que las redes planas profundas tienen un problema con el
# gradiente y en que las conexiones residuales lo arreglan, pero el problema no es el que
# describen: con BatchNorm (que también usa la ResNet de los propios apuntes) los gradientes
# empiezan explotando y después las primeras capas se estancan. En modo completo las curvas
# de 110 capas hacen los dos efectos mucho más grandes.
#
# ### La misma medida, a mano
#
# Los números del laboratorio salen de
# `resnetlab.analysis.gradients.gradient_norms(model, x, y)`: una pasada hacia delante y
# hacia atrás de la entropía cruzada sobre un lote, y la norma del gradiente de los pesos de
# cada convolución del camino principal (sin las proyecciones de los atajos, para que las
# redes planas y las residuales enumeren las mismas capas). Llamarla con las mismas redes
# recién sembradas y el mismo lote reproduce los valores del laboratorio al inicializar.

# %%
bundle = rl.data.load(data_name, root=data_root, image_size=None if QUICK else 32)
train = bundle.train
xb = normalize(train.images[:gf["batch_size"]], train.mean, train.std)
yb = train.labels[:gf["batch_size"]]
for name, net in (("plain56", plain56), ("resnet56", res56)):
    torch.manual_seed(SEED)
    model = rl.create_model(name, num_classes=bundle.num_classes, in_chans=train.input_size[0])
    report = gradient_norms(model.train(), xb, yb)
    print(f"{name}: pérdida {report.loss:.3f}, primera conv {report.conv_grad_norms[0]:.4g} "
          f"({report.conv_names[0]}), última conv {report.conv_grad_norms[-1]:.4g} "
          f"({report.conv_names[-1]}), laboratorio: {net['init']['conv_grad_norms'][0]:.4g}")
    assert report.conv_names[0] == "conv1" and len(report.conv_grad_norms) == 55
    assert abs(report.first_last_ratio / net["first_last_ratio_init"] - 1) < 1e-3

# %% [markdown]
# ## 5. Degradación (la Figura 6 del artículo)
#
# `run_experiment("degradation", ...)` entrena plain-20, plain-56, ResNet-20 y ResNet-56 con
# el sistema de entrenamiento de resnetlab y la receta del artículo (`he2016`: SGD, tasa de
# aprendizaje 0.1, momento 0.9, decaimiento de pesos (weight decay) $10^{-4}$, tasa ÷10 al
# 50 % y al 75 % del entrenamiento, lote de 128, recortes aleatorios y volteos) durante el
# **mismo número de iteraciones**. Si no se le da `iterations`, cronometra un paso de cada red
# y encaja tantas iteraciones como permita `budget_minutes`.
#
# Lee el resultado con las advertencias de la documentación del laboratorio (`docs/lab.md`):
#
# - el artículo entrena 64.000 iteraciones sobre 45.000 imágenes; un presupuesto de 12
#   minutos de CPU es un pequeño porcentaje de eso. Con presupuestos así el laboratorio
#   reproduce pronto la degradación de las redes planas (plain-56 muy por encima de
#   plain-20); el último paso del artículo tarda más: ResNet-56 arranca más despacio que
#   ResNet-20 y solo la adelanta hacia la iteración 1600. Los 25 minutos por defecto del
#   laboratorio (5007 iteraciones, `docs/lab.md`) muestran las dos afirmaciones; los 12
#   minutos de este cuaderno dan más o menos la mitad, y el veredicto puede decir entonces «no
#   concluyente»: nunca toma el ruido por un resultado;
# - las curvas tienen ruido (conjunto de prueba pequeño, pocas épocas), y en modo rápido
#   —4 iteraciones sobre 128 dígitos— todas las redes siguen cerca del azar: el modo rápido
#   solo comprueba que el experimento funciona y que las cuatro redes recibieron el mismo
#   entrenamiento; no muestra ninguna clasificación.

# %%
deg_result, deg_dir = run_experiment("degradation", out_dir=OUT / "degradation", quick=QUICK,
                                     seed=SEED, budget_minutes=BUDGET_MINUTES,
                                     iterations=DEG_ITERATIONS, **lab_data)
print(*deg_result.verdict, sep="\n")
deg = deg_result.results

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained", sharey=True)
for name, history in deg["history"].items():
    plain, depth = name.startswith("plain"), int(name.removeprefix("plain").removeprefix("resnet"))
    style = dict(color=depth_color(depth), ls="--" if plain else "-", marker=".",
                 label=f"{'plana' if plain else 'ResNet'}-{depth}")
    steps = [row["step"] for row in history]
    axes[0].plot(steps, [100 * (1 - row["train_acc"]) for row in history], **style)
    axes[1].plot(steps, [100 * (1 - row["test_acc"]) for row in history], **style)
axes[0].set(xlabel="iteración", ylabel="error (%)",
            title="error de entrenamiento (acumulado en cada época)")
axes[1].set(xlabel="iteración", title="error de prueba (tras cada época)")
axes[1].tick_params(labelleft=True)
for ax in axes:
    ax.axhline(90, color="black", lw=0.7, ls=":")  # azar: 10 clases
    ax.set(xlim=(0, 1.05 * deg["iterations"]), ylim=(0, 100))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(title="discontinua: plana, continua: residual", title_fontsize=8)
fig.suptitle(f"Degradación en {deg['data']}: {deg['iterations']} iteraciones por red, "
             f"lote de {deg['batch_size']} (punteado: azar)")
fig.savefig(OUT / "degradation.png", dpi=100)
plt.show()

final = deg["final"]
print(f"{'red':>9} | error de entrenamiento | error de prueba")
for name, row in final.items():
    print(f"{name:>9} | {100 * row['train_error']:20.1f} % | {100 * row['test_error']:13.1f} %")
assert sorted(final) == ["plain20", "plain56", "resnet20", "resnet56"]
assert all(history[-1]["step"] == deg["iterations"] for history in deg["history"].values())
assert len({len(history) for history in deg["history"].values()}) == 1
if not QUICK and deg["iterations"] >= 500:
    assert final["plain56"]["train_error"] > final["plain20"]["train_error"] + 0.05

# %% [markdown]
# Cómo leerlo (modo completo): las líneas discontinuas son redes planas y las continuas
# residuales; azul, 20 capas, y rojo, 56. Los escalones de todas las curvas son las dos
# divisiones de la tasa de aprendizaje. **La curva de plain-56 queda por encima de la de
# plain-20 en el error de entrenamiento**: la red plana más profunda ni siquiera se ajusta
# igual de bien a sus datos de entrenamiento; es degradación, no sobreajuste. Con atajos, la
# red de 56 capas entrena mucho mejor que plain-56; que además supere a ResNet-20, como en el
# artículo, depende del presupuesto: en los 25 minutos por defecto del laboratorio se adelanta
# hacia la iteración 1600 y termina 7 puntos por debajo; en una GPU, `iterations=64000` sobre el
# CIFAR-10 completo es el experimento del propio artículo. El
# assert de arriba comprueba la degradación solo en modo completo y con al menos 500
# iteraciones (el laboratorio midió diferencias de 27 y 37 puntos con 824 y 1.590
# iteraciones, `docs/lab.md`); con menos iteraciones las dos redes planas pueden seguir cerca
# del azar.
#
# ## Resumen
#
# - Las redes planas más profundas entrenan *peor*, en el propio conjunto de entrenamiento:
#   la degradación es un problema de optimización.
# - Con BatchNorm, los gradientes de una red plana profunda no se desvanecen al principio:
#   explotan hacia la entrada, y tras unos pasos las primeras capas se estancan. Las
#   conexiones residuales mantienen el flujo uniforme porque cada bloque suma un camino
#   identidad a la señal que viaja hacia atrás.
# - Las redes planas y residuales para CIFAR de la misma profundidad tienen exactamente los
#   mismos parámetros; la diferencia es solo la suma.
#
# **Para practicar:** `GRAD_STEPS = 100` muestra hasta dónde llega el estancamiento;
# `DEPTHS = (20, 32, 44, 56)` muestra lo deprisa que crece el cociente de la red plana con la
# profundidad; desde una terminal, `resnetlab lab gradient-flow --data cifar10 --data-dir DIR` y
# `resnetlab lab degradation --data-dir DIR --budget-minutes 30` ejecutan los mismos
# experimentos.
