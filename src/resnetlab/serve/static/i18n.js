// Every visible string of the explorer page, in English and Spanish, and the number formats
// of each language. The Spanish is written for university students: a technical term appears
// in Spanish with the English one in parentheses the first time the page uses it.
"use strict";

window.RESNETLAB_I18N = {
  en: {
    page_title: "ResNet explorer",
    skip_to_content: "Skip to content",
    title: "ResNet explorer",
    tagline: "Look inside a residual network: its layers, what it predicts, where it looks and " +
      "what each block adds.",
    model_label: "Model",
    loading: "Loading…",
    language_label: "Language",
    nav_label: "Sections",
    nav_model: "Model",
    nav_image: "Image",
    nav_residual: "Residual block",
    nav_training: "Training",
    untrained: "untrained",
    option_untrained: "{name} (untrained)",
    option_trained: "{name}",

    model_heading: "Model card",
    untrained_note: "This model is untrained: its weights are random, so its predictions, " +
      "Grad-CAM maps and feature maps show the architecture at work, not anything learned.",
    card_source: "Id",
    card_status: "Weights",
    card_trained: "trained",
    card_untrained: "untrained (random weights)",
    card_architecture: "Architecture",
    card_description: "Description",
    card_family: "Family",
    card_params: "Parameters",
    card_macs: "MACs per image (multiply–accumulates)",
    card_input: "Input size (C × H × W)",
    card_classes: "Classes",
    card_norm: "Input normalisation (mean / std)",
    card_paper: "Paper",
    card_reported: "Reported result (reference weights)",
    card_default_size: "At its default size ({size}, {classes} classes) the {name} card " +
      "lists {params} parameters and {macs} MACs.",
    card_none: "No model card for this architecture.",
    classes_more: "{shown}, … ({count} in all)",

    layers_heading: "Layers, stage by stage",
    layers_caption: "Every row is one layer call, in the order the network runs them; an " +
      "italic row closes each residual block (its layers are the rows above it). The " +
      "parameter count is written as its formula: a convolution has out channels × in " +
      "channels × kernel height × kernel width weights; a BatchNorm layer learns a scale γ " +
      "and a shift β per channel, hence channels × 2.",
    expand_all: "Expand all",
    collapse_all: "Collapse all",
    col_layer: "Layer",
    col_type: "Type",
    col_output: "Output shape",
    col_params: "Parameters",
    col_macs: "MACs",
    stage_stem: "Stem",
    stage_head: "Head (classifier)",
    stage_n: "Stage {n}",
    stage_other: "Other layers",
    stage_summary: "{layers} layers · {params} parameters",
    layer_totals: "Total: {params} parameters, {macs} MACs per image of {size}.",

    image_heading: "Try an image",
    drop_hint: "Drop an image here, or",
    choose_file: "Choose an image…",
    drop_formats: "PNG or JPEG; the server resizes it to the model's input size.",
    drop_active: "Drop it!",
    samples_heading: "Or pick a test image",
    samples_more: "Other test images",
    sample_alt: "Test image {i}",
    sample_button: "Use test image {i}",
    input_alt: "The image being analysed",
    input_caption_file: "Your image: {name}",
    input_caption_sample: "Test image {i} of this run's dataset",

    topk_heading: "Top predictions",
    topk_empty: "Choose an image to see what the model predicts.",
    topk_untrained: "Untrained model: its weights are random, so these probabilities mean " +
      "nothing yet.",
    topk_caption: "Softmax probabilities of the most likely classes. Click a bar to see the " +
      "Grad-CAM map of that class.",
    topk_bar_label: "{label}: {pct}. Show the Grad-CAM map of this class.",
    latency: "Answered in {ms} ms.",

    gradcam_heading: "Grad-CAM: where the model looks",
    gradcam_empty: "The map appears once an image has been classified.",
    gradcam_caption: "Grad-CAM weights the channels of the last stage by the gradient of the " +
      "chosen class score and keeps the positive part: warm colours mark the regions that " +
      "pushed the network towards that class.",
    gradcam_label: "Class shown: {label}",
    gradcam_alt: "Grad-CAM map of class {label} laid over the input image",

    features_heading: "Feature maps, stage by stage",
    features_caption: "Each tile is one channel of a stage's output, for the image above. " +
      "Early stages keep the spatial detail (strokes, edges); each later stage usually halves " +
      "the resolution and doubles the channels, trading where for what.",
    features_empty: "Choose an image to see its feature maps.",
    features_stage: "{name}: {channels} channels of {h} × {w}",
    features_alt: "Grid of the first channels of the output of {name}",

    residual_heading: "Anatomy of a residual block",
    residual_caption: "A residual block does not learn its output H(x) directly: it learns the " +
      "residual F(x) = H(x) − x and adds it to its input through the skip connection, " +
      "output = ReLU(F(x) + S(x)). S is the shortcut: the identity when shapes match, a " +
      "projection (1×1 convolution) when the block changes resolution or channels.",
    block_label: "Block",
    residual_run: "Show anatomy",
    residual_empty: "Choose an image first, then a block.",
    residual_panels: "Panels, left to right: x (block input), F(x) (residual branch), S(x) " +
      "(shortcut), F(x) + S(x), output. A few channels, on one colour scale.",
    residual_alt: "Anatomy of block {block}: x, F(x), S(x), F(x) + S(x) and the output",
    max_diff: "Max difference",
    allclose: "Same as the block's own output?",
    allclose_yes: "yes (allclose)",
    allclose_no: "no: the block does not compute post(F(x) + S(x))",
    norm_ratio: "‖F‖ / ‖S‖",
    ratio_none: "— (no shortcut)",
    residual_stats_caption: "The server rebuilds the output from the two branches, " +
      "ReLU(F(x) + S(x)) (the sum alone in a pre-activation block), and compares it with " +
      "what the block itself returned: the maximum " +
      "absolute difference is 0, or rounding (≤ 10⁻⁶). ‖F‖/‖S‖ compares the size of what the " +
      "block adds with what it lets through: well below 1, the block is close to the identity " +
      "and only refines its input.",

    training_heading: "Training",
    curves_none: "This model has no training curves.",
    curves_untrained: "This model is untrained: there are no training curves.",
    curves_caption: "The training loss should fall epoch after epoch while the accuracy on " +
      "test images (never used for training) rises. The learning rate is the schedule the " +
      "recipe followed; with a step schedule, accuracy often jumps right after each drop.",
    curves_png_alt: "Training curves of this run (curves.png)",
    chart_loss: "Training loss",
    chart_acc: "Accuracy",
    chart_lr: "Learning rate",
    series_train_loss: "training",
    series_test_acc: "test",
    series_val_acc: "validation",
    series_lr: "learning rate",
    axis_epoch: "epoch",
    chart_summary: "{title}, {n} epochs; last value {last}.",
    figures_heading: "Lab figures of this run",
    figure_alt: "Lab figure {name}",
    figure_open: "Open full size",

    footer: "resnetlab — a residual network explorer. Everything runs on this server; your " +
      "images go nowhere else.",
    token_heading: "Access token",
    token_text: "This server needs a token. It is kept only in this browser tab " +
      "(sessionStorage).",
    token_wrong: "That token was refused; try again.",
    token_label: "Token",
    token_submit: "Continue",
    token_needed: "This server needs an access token: reload the page to enter it.",

    status_loading_model: "Loading {name}…",
    status_predicting: "Classifying the image…",
    status_analysing: "Computing Grad-CAM, feature maps and the residual block…",
    status_gradcam: "Computing Grad-CAM…",
    status_residual: "Dissecting {block}…",
    error_network: "The server could not be reached ({message}).",
    error_server: "The server answered {status}: {message}",
    error_not_image: "“{name}” is not an image: choose a PNG or JPEG file.",
    error_no_models: "The server serves no models: start it with a run directory or a model name.",
  },

  es: {
    page_title: "Explorador de ResNet",
    skip_to_content: "Saltar al contenido",
    title: "Explorador de ResNet",
    tagline: "Mira por dentro una red residual: sus capas, qué predice, en qué se fija y qué " +
      "aporta cada bloque.",
    model_label: "Modelo",
    loading: "Cargando…",
    language_label: "Idioma",
    nav_label: "Secciones",
    nav_model: "Modelo",
    nav_image: "Imagen",
    nav_residual: "Bloque residual",
    nav_training: "Entrenamiento",
    untrained: "sin entrenar",
    option_untrained: "{name} (sin entrenar)",
    option_trained: "{name}",

    model_heading: "Ficha del modelo (model card)",
    untrained_note: "Este modelo está sin entrenar: sus pesos son aleatorios, así que sus " +
      "predicciones, sus mapas Grad-CAM y sus mapas de características muestran cómo trabaja " +
      "la arquitectura, no algo aprendido.",
    card_source: "Identificador (id)",
    card_status: "Pesos",
    card_trained: "entrenados",
    card_untrained: "sin entrenar (pesos aleatorios)",
    card_architecture: "Arquitectura",
    card_description: "Descripción",
    card_family: "Familia",
    card_params: "Parámetros",
    card_macs: "MACs por imagen (multiplicaciones-acumulaciones)",
    card_input: "Tamaño de entrada (C × H × W)",
    card_classes: "Clases",
    card_norm: "Normalización de la entrada (media / desviación típica)",
    card_paper: "Artículo",
    card_reported: "Resultado publicado (pesos de referencia)",
    card_default_size: "Con su tamaño por defecto ({size}, {classes} clases), la ficha de " +
      "{name} indica {params} parámetros y {macs} MACs.",
    card_none: "No hay ficha para esta arquitectura.",
    classes_more: "{shown}, … ({count} en total)",

    layers_heading: "Capas, etapa por etapa",
    layers_caption: "Cada fila es una llamada a una capa, en el orden en que la red las " +
      "ejecuta; una fila en cursiva cierra cada bloque residual (sus capas son las filas de " +
      "arriba). El número de parámetros aparece con su fórmula: una convolución tiene canales " +
      "de salida × canales de entrada × alto × ancho del filtro (kernel) pesos; una capa de " +
      "normalización por lotes (BatchNorm) aprende una escala γ y un desplazamiento β por " +
      "canal, de ahí canales × 2.",
    expand_all: "Desplegar todo",
    collapse_all: "Plegar todo",
    col_layer: "Capa",
    col_type: "Tipo",
    col_output: "Forma de la salida",
    col_params: "Parámetros",
    col_macs: "MACs",
    stage_stem: "Entrada (stem)",
    stage_head: "Cabeza (clasificador)",
    stage_n: "Etapa {n}",
    stage_other: "Otras capas",
    stage_summary: "{layers} capas · {params} parámetros",
    layer_totals: "Total: {params} parámetros y {macs} MACs por imagen de {size}.",

    image_heading: "Prueba con una imagen",
    drop_hint: "Arrastra aquí una imagen, o",
    choose_file: "Elige una imagen…",
    drop_formats: "PNG o JPEG; el servidor la redimensiona al tamaño de entrada del modelo.",
    drop_active: "¡Suéltala!",
    samples_heading: "O elige una imagen de test",
    samples_more: "Otras imágenes de test",
    sample_alt: "Imagen de test {i}",
    sample_button: "Usar la imagen de test {i}",
    input_alt: "La imagen que se está analizando",
    input_caption_file: "Tu imagen: {name}",
    input_caption_sample: "Imagen de test {i} del conjunto de datos de este entrenamiento",

    topk_heading: "Predicciones más probables (top-k)",
    topk_empty: "Elige una imagen para ver qué predice el modelo.",
    topk_untrained: "Modelo sin entrenar: sus pesos son aleatorios, así que estas " +
      "probabilidades todavía no significan nada.",
    topk_caption: "Probabilidades softmax de las clases más probables. Pulsa una barra para " +
      "ver el mapa Grad-CAM de esa clase.",
    topk_bar_label: "{label}: {pct}. Ver el mapa Grad-CAM de esta clase.",
    latency: "Respuesta en {ms} ms.",

    gradcam_heading: "Grad-CAM: en qué se fija el modelo",
    gradcam_empty: "El mapa aparece en cuanto se clasifica una imagen.",
    gradcam_caption: "Grad-CAM pondera los canales de la última etapa con el gradiente de la " +
      "puntuación de la clase elegida y se queda con la parte positiva: los colores cálidos " +
      "señalan las zonas que empujaron a la red hacia esa clase.",
    gradcam_label: "Clase mostrada: {label}",
    gradcam_alt: "Mapa Grad-CAM de la clase {label} superpuesto a la imagen de entrada",

    features_heading: "Mapas de características (feature maps), etapa por etapa",
    features_caption: "Cada recuadro es un canal de la salida de una etapa para la imagen de " +
      "arriba. Las primeras etapas conservan el detalle espacial (trazos, bordes); cada etapa " +
      "siguiente suele reducir la resolución a la mitad y duplicar los canales: cambia el " +
      "«dónde» por el «qué».",
    features_empty: "Elige una imagen para ver sus mapas de características.",
    features_stage: "{name}: {channels} canales de {h} × {w}",
    features_alt: "Cuadrícula con los primeros canales de la salida de {name}",

    residual_heading: "Anatomía de un bloque residual",
    residual_caption: "Un bloque residual no aprende directamente su salida H(x): aprende el " +
      "residuo F(x) = H(x) − x y lo suma a su entrada mediante la conexión residual (skip " +
      "connection): salida = ReLU(F(x) + S(x)). S es el atajo (shortcut): la identidad " +
      "cuando las dimensiones coinciden y una proyección (convolución 1×1) cuando el bloque " +
      "cambia la resolución o el número de canales.",
    block_label: "Bloque",
    residual_run: "Ver la anatomía",
    residual_empty: "Primero elige una imagen y después un bloque.",
    residual_panels: "Paneles, de izquierda a derecha: x (entrada del bloque), F(x) (rama " +
      "residual), S(x) (atajo), F(x) + S(x) y la salida. Unos pocos canales, con una misma " +
      "escala de color.",
    residual_alt: "Anatomía del bloque {block}: x, F(x), S(x), F(x) + S(x) y la salida",
    max_diff: "Diferencia máxima",
    allclose: "¿Coincide con la salida del propio bloque?",
    allclose_yes: "sí (allclose)",
    allclose_no: "no: el bloque no calcula post(F(x) + S(x))",
    norm_ratio: "‖F‖ / ‖S‖",
    ratio_none: "— (sin atajo)",
    residual_stats_caption: "El servidor reconstruye la salida a partir de las dos ramas, " +
      "ReLU(F(x) + S(x)) (solo la suma en un bloque de preactivación), y la compara con lo " +
      "que devolvió el propio bloque: la diferencia " +
      "absoluta máxima es 0 o un error de redondeo (≤ 10⁻⁶). ‖F‖/‖S‖ compara el tamaño de lo " +
      "que el bloque añade con lo que deja pasar: muy por debajo de 1, el bloque está cerca " +
      "de la identidad y solo retoca su entrada.",

    training_heading: "Entrenamiento",
    curves_none: "Este modelo no tiene curvas de entrenamiento.",
    curves_untrained: "Este modelo está sin entrenar: no hay curvas de entrenamiento.",
    curves_caption: "La pérdida (loss) de entrenamiento debería bajar época a época mientras " +
      "sube la precisión (accuracy) en las imágenes de test, que nunca se usan para entrenar. " +
      "La tasa de aprendizaje (learning rate) es la planificación que siguió la receta; si " +
      "baja por escalones, la precisión suele dar un salto justo después de cada bajada.",
    curves_png_alt: "Curvas de entrenamiento de este entrenamiento (curves.png)",
    chart_loss: "Pérdida de entrenamiento",
    chart_acc: "Precisión",
    chart_lr: "Tasa de aprendizaje",
    series_train_loss: "entrenamiento",
    series_test_acc: "test",
    series_val_acc: "validación",
    series_lr: "tasa de aprendizaje",
    axis_epoch: "época",
    chart_summary: "{title}, {n} épocas; último valor {last}.",
    figures_heading: "Figuras del laboratorio de este entrenamiento",
    figure_alt: "Figura del laboratorio {name}",
    figure_open: "Abrir a tamaño completo",

    footer: "resnetlab — un explorador de redes residuales. Todo se calcula en este servidor; " +
      "tus imágenes no van a ningún otro sitio.",
    token_heading: "Token de acceso",
    token_text: "Este servidor pide un token. Solo se guarda en esta pestaña del navegador " +
      "(sessionStorage).",
    token_wrong: "El servidor ha rechazado ese token; prueba otra vez.",
    token_label: "Token",
    token_submit: "Continuar",
    token_needed: "Este servidor pide un token de acceso: recarga la página para introducirlo.",

    status_loading_model: "Cargando {name}…",
    status_predicting: "Clasificando la imagen…",
    status_analysing: "Calculando Grad-CAM, los mapas de características y el bloque residual…",
    status_gradcam: "Calculando Grad-CAM…",
    status_residual: "Diseccionando {block}…",
    error_network: "No se ha podido contactar con el servidor ({message}).",
    error_server: "El servidor respondió {status}: {message}",
    error_not_image: "«{name}» no es una imagen: elige un archivo PNG o JPEG.",
    error_no_models: "El servidor no sirve ningún modelo: arráncalo con un directorio de " +
      "entrenamiento o un nombre de modelo.",
  },
};

// Number formats: English groups thousands with commas and writes a decimal point; Spanish
// groups with a (non-breaking) space, as the RAE recommends, and writes a decimal comma.
window.RESNETLAB_FORMAT = (function () {
  const SEP = { en: { group: ",", decimal: "." }, es: { group: "\u00a0", decimal: "," } };
  const SUPERSCRIPT = { "-": "⁻", 0: "⁰", 1: "¹", 2: "²", 3: "³", 4: "⁴", 5: "⁵", 6: "⁶",
    7: "⁷", 8: "⁸", 9: "⁹" };

  function group(digits, sep) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, sep);
  }

  function fixed(lang, x, digits) {
    const s = SEP[lang] || SEP.en;
    const [whole, frac] = Math.abs(x).toFixed(digits).split(".");
    const sign = x < 0 && Number(Math.abs(x).toFixed(digits)) !== 0 ? "−" : "";
    return sign + group(whole, s.group) + (frac ? s.decimal + frac : "");
  }

  return {
    int: (lang, n) => fixed(lang, Math.round(n), 0),
    fixed,
    percent: (lang, p, digits = 1) => fixed(lang, 100 * p, digits) + "\u00a0%",
    // 2.4e-7 -> "2.4 × 10⁻⁷": how a course writes a tolerance, not how a computer prints it.
    scientific(lang, x, digits = 2) {
      if (x === 0) return "0";
      if (!Number.isFinite(x)) return String(x);
      const [mantissa, exponent] = x.toExponential(digits).split("e");
      const power = String(Number(exponent)).split("").map((c) => SUPERSCRIPT[c]).join("");
      return fixed(lang, Number(mantissa), digits) + " × 10" + power;
    },
    // A number short enough for a chart axis: 0.1, 0.004, 1.2 × 10⁻⁴.
    compact(lang, x) {
      if (x === 0) return "0";
      const a = Math.abs(x);
      if (a >= 1e-3 && a < 1e5) {
        const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : Math.min(6, 2 - Math.floor(Math.log10(a)));
        return fixed(lang, Number(x.toFixed(digits)), digits).replace(/([.,]\d*?)0+$/, "$1").replace(/[.,]$/, "");
      }
      return this.scientific(lang, x, 1);
    },
    // The server writes formulas with English thousands separators ("= 9,408").
    formula(lang, text) {
      if (lang === "en") return text;
      return text.replace(/\d{1,3}(?:,\d{3})+/g, (m) => m.replace(/,/g, SEP[lang].group));
    },
  };
})();
