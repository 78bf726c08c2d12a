// The ResNet explorer: one model at a time, over the JSON API of `resnetlab serve`
// (the routes are listed in docs/serve.md). Plain DOM code, no framework and no build step.
"use strict";

(function () {
  const STRINGS = window.RESNETLAB_I18N;
  const FORMAT = window.RESNETLAB_FORMAT;
  const CHARTS = window.RESNETLAB_CHARTS;
  const TOKEN_KEY = "resnetlab-token";
  const LANG_KEY = "resnetlab-lang";
  const TOP_K = 5;
  const SAMPLES_SHOWN = 8;

  const $ = (id) => document.getElementById(id);

  const state = {
    lang: "en",
    models: [],
    model: null, // the /v1/models/{id} answer of the chosen model
    image: null, // {blob, url, name, sample}
    // Bumped on every new model (modelRun) or new image (imageRun): answers that arrive for
    // an older one are dropped.
    modelRun: 0,
    imageRun: 0,
    trainingReady: false,
    top: null, // the predict answer
    camClass: null,
    cam: null,
    features: null,
    residual: null,
    curves: null,
    curvesPng: null,
    figures: [], // [{name, url}]
    sampleOffset: 0,
    sampleUrls: new Map(),
    openStages: new Set(),
  };

  // ---------------------------------------------------------------- language

  function t(key, params) {
    const table = STRINGS[state.lang] || STRINGS.en;
    let text = key in table ? table[key] : STRINGS.en[key];
    if (text === undefined) return key;
    for (const [k, v] of Object.entries(params || {})) text = text.split(`{${k}}`).join(v);
    return text;
  }

  const fmtInt = (n) => FORMAT.int(state.lang, n);
  // A probability that rounds to 0.0 % is still not zero: "< 0.1 %".
  const fmtPct = (p) => (p > 0 && p < 0.0005
    ? `< ${FORMAT.percent(state.lang, 0.001)}` : FORMAT.percent(state.lang, p));
  const fmtShape = (shape) => shape.join(" × ");

  function initialLang() {
    const saved = localStorage.getItem(LANG_KEY);
    if (saved && saved in STRINGS) return saved;
    const wanted = [...(navigator.languages || []), navigator.language,
      document.documentElement.lang];
    for (const tag of wanted) {
      const base = String(tag || "").toLowerCase().split("-")[0];
      if (base in STRINGS) return base;
    }
    return "en";
  }

  function applyStaticStrings() {
    document.documentElement.lang = state.lang;
    document.title = t("page_title");
    for (const node of document.querySelectorAll("[data-i18n]")) {
      node.textContent = t(node.dataset.i18n);
    }
    for (const node of document.querySelectorAll("[data-i18n-attr]")) {
      for (const pair of node.dataset.i18nAttr.split(";")) {
        const [attr, key] = pair.split(":");
        node.setAttribute(attr, t(key));
      }
    }
    for (const button of document.querySelectorAll(".lang")) {
      button.setAttribute("aria-pressed", String(button.dataset.lang === state.lang));
    }
  }

  function setLang(lang) {
    state.lang = lang;
    localStorage.setItem(LANG_KEY, lang);
    applyStaticStrings();
    renderAll();
  }

  // ---------------------------------------------------------------- server

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  let tokenPrompt = null; // one dialog for every request refused at the same time

  function askToken(wasRefused) {
    if (!tokenPrompt) {
      tokenPrompt = new Promise((resolve, reject) => {
        const dialog = $("token-dialog");
        const input = $("token-input");
        $("token-error").hidden = !wasRefused;
        input.value = "";
        const done = (ok) => {
          dialog.removeEventListener("close", onClose);
          tokenPrompt = null;
          ok ? resolve() : reject(new ApiError(401, t("token_needed")));
        };
        const onClose = () => {
          const token = input.value.trim();
          if (token) sessionStorage.setItem(TOKEN_KEY, token);
          done(Boolean(token));
        };
        dialog.addEventListener("close", onClose);
        dialog.showModal();
        input.focus();
      });
    }
    return tokenPrompt;
  }

  async function api(path, options = {}) {
    const headers = new Headers(options.headers || {});
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.set("Authorization", `Bearer ${token}`);
    let response;
    try {
      response = await fetch(path, { ...options, headers });
    } catch (err) {
      throw new ApiError(0, t("error_network", { message: err.message }));
    }
    if (response.status === 401) {
      if (token) sessionStorage.removeItem(TOKEN_KEY);
      await askToken(Boolean(token));
      return api(path, options);
    }
    if (!response.ok) {
      let message = response.statusText;
      try {
        message = (await response.json()).error || message;
      } catch (_) { /* not JSON: keep the status text */ }
      throw new ApiError(response.status,
        t("error_server", { status: response.status, message }));
    }
    return response;
  }

  const getJson = async (path) => (await api(path)).json();
  const getBlobUrl = async (path) => URL.createObjectURL(await (await api(path)).blob());

  function postImage(path) {
    const blob = state.image.blob;
    return api(path, {
      method: "POST",
      headers: { "Content-Type": blob.type || "application/octet-stream" },
      body: blob,
    }).then((r) => r.json());
  }

  const modelPath = (suffix = "") =>
    `/v1/models/${encodeURIComponent(state.model.id)}${suffix}`;

  // ---------------------------------------------------------------- messages

  let statusDepth = 0;

  async function withStatus(text, work) {
    const box = $("status");
    statusDepth += 1;
    box.textContent = text;
    box.hidden = false;
    document.body.setAttribute("aria-busy", "true");
    try {
      return await work();
    } finally {
      statusDepth -= 1;
      if (statusDepth === 0) {
        box.hidden = true;
        document.body.removeAttribute("aria-busy");
      }
    }
  }

  function showError(err) {
    const box = $("error");
    box.textContent = err instanceof ApiError || err instanceof Error ? err.message : String(err);
    box.hidden = false;
  }

  function clearError() {
    $("error").hidden = true;
    $("error").textContent = "";
  }

  function make(tag, attrs = {}, children = []) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "text") node.textContent = v;
      else if (k === "className") node.className = v;
      else if (v !== null && v !== undefined && v !== false) node.setAttribute(k, v);
    }
    for (const child of children) if (child) node.appendChild(child);
    return node;
  }

  // ---------------------------------------------------------------- models

  // "digits-run · resnet20": the id names the run, the name the architecture.
  function modelLabel(m) {
    const name = !m.name || m.id.includes(m.name) ? m.id : `${m.id} · ${m.name}`;
    return t(m.trained ? "option_trained" : "option_untrained", { name });
  }

  function renderModelSelect() {
    const select = $("model-select");
    const chosen = state.model ? state.model.id : select.value;
    select.replaceChildren(...state.models.map((m) =>
      make("option", { value: m.id, text: modelLabel(m) })));
    if (chosen) select.value = chosen;
    select.disabled = state.models.length === 0;
  }

  async function loadModels() {
    const answer = await getJson("/v1/models");
    state.models = answer.models || [];
    renderModelSelect();
    if (!state.models.length) throw new Error(t("error_no_models"));
    const fromHash = decodeURIComponent(location.hash.replace(/^#model=/, ""));
    const first = state.models.find((m) => m.id === fromHash) ||
      state.models.find((m) => m.trained) || state.models[0];
    await chooseModel(first.id);
  }

  async function chooseModel(id) {
    clearError();
    const summary = state.models.find((m) => m.id === id);
    const detail = await withStatus(t("status_loading_model", { name: summary ? summary.name : id }),
      () => getJson(`/v1/models/${encodeURIComponent(id)}`));
    state.modelRun += 1;
    state.model = detail;
    // The first stage starts open, so its formulas are in view without a click.
    const firstRow = ((detail.summary && detail.summary.rows) || [])[0];
    state.openStages = new Set(firstRow ? [firstRow.stage || "#0"] : []);
    state.top = state.cam = state.features = state.residual = null;
    state.curves = state.curvesPng = null;
    state.figures = [];
    state.trainingReady = false;
    state.sampleOffset = 0;
    state.sampleUrls = new Map();
    $("model-select").value = id;
    renderAll();
    loadTraining(state.modelRun);
    if (state.image) analyse(); // the same image, seen by the new model
  }

  // ---------------------------------------------------------------- model card

  function cardItem(term, value, options = {}) {
    const dd = make("dd", { text: value, lang: options.lang || null });
    return make("div", { className: options.wide ? "wide" : "" }, [make("dt", { text: term }), dd]);
  }

  function renderCard() {
    const m = state.model;
    const dl = $("model-card");
    if (!m) return;
    $("model-name").textContent = m.name || m.id;
    $("untrained-badge").hidden = m.trained;
    $("untrained-note").hidden = m.trained;
    const card = m.card;
    const meta = m.meta || {};
    const summary = m.summary || {};
    const size = meta.input_size || (card && card.input_size) || [];
    const items = [];
    items.push(cardItem(t("card_source"), m.id));
    items.push(cardItem(t("card_status"), t(m.trained ? "card_trained" : "card_untrained")));
    if (card) items.push(cardItem(t("card_architecture"), card.name));
    if (summary.total_params !== undefined) {
      items.push(cardItem(t("card_params"), fmtInt(summary.total_params)));
    }
    if (summary.total_macs !== undefined) {
      items.push(cardItem(t("card_macs"), fmtInt(summary.total_macs)));
    }
    if (size.length) items.push(cardItem(t("card_input"), fmtShape(size)));
    const classes = meta.classes || [];
    if (classes.length) {
      const shown = classes.slice(0, 12).join(", ");
      items.push(cardItem(t("card_classes"), classes.length > 12
        ? t("classes_more", { shown, count: fmtInt(classes.length) })
        : `${shown} (${fmtInt(classes.length)})`, { wide: classes.length > 12 }));
    }
    if (meta.mean && meta.std) {
      const f = (v) => v.map((x) => FORMAT.fixed(state.lang, x, 3)).join(state.lang === "es" ? "; " : ", ");
      items.push(cardItem(t("card_norm"), `${f(meta.mean)} / ${f(meta.std)}`));
    }
    if (card) {
      if (card.family) items.push(cardItem(t("card_family"), card.family));
      // The card texts are data written in English: marked so a screen reader reads them so.
      if (card.description) {
        items.push(cardItem(t("card_description"), card.description, { wide: true, lang: "en" }));
      }
      if (card.paper) items.push(cardItem(t("card_paper"), card.paper, { wide: true, lang: "en" }));
      if (card.reported) {
        items.push(cardItem(t("card_reported"), card.reported, { wide: true, lang: "en" }));
      }
    }
    let note = "";
    if (!card) note = t("card_none");
    else if (card.params && summary.total_params !== card.params) {
      note = t("card_default_size", {
        size: fmtShape(card.input_size), classes: fmtInt(card.num_classes),
        name: card.name, params: fmtInt(card.params), macs: fmtInt(card.macs),
      });
    }
    $("card-note").textContent = note;
    $("card-note").hidden = !note;
    dl.replaceChildren(...items);
  }

  // ---------------------------------------------------------------- layer table

  function stageTitle(stage) {
    if (!stage) return t("stage_other");
    const layer = /^layer(\d+)$/.exec(stage);
    if (layer) return `${t("stage_n", { n: layer[1] })} (${stage})`;
    if (stage === "stem") return t("stage_stem");
    if (stage === "head") return t("stage_head");
    return stage;
  }

  function groupByStage(rows) {
    const groups = [];
    for (const row of rows) {
      const stage = row.stage || "";
      const last = groups[groups.length - 1];
      if (last && last.stage === stage) last.rows.push(row);
      else groups.push({ stage, rows: [row] });
    }
    return groups;
  }

  function layerTable(rows) {
    const head = make("tr", {}, ["col_layer", "col_type", "col_output", "col_params", "col_macs"]
      .map((key) => make("th", { scope: "col", text: t(key),
        className: key === "col_params" || key === "col_macs" ? "num" : "" })));
    const body = rows.map((row) => {
      const formula = row.formula ? FORMAT.formula(state.lang, row.formula) : fmtInt(row.params);
      // A block row closes its layers' rows (torchsummary's BasicBlock-11): set apart, no count.
      return make("tr", { className: row.block ? "block-row" : "" }, [
        make("th", { scope: "row", "data-label": t("col_layer"), className: "mono" },
          [document.createTextNode(row.name || "—")]),
        make("td", { "data-label": t("col_type"), text: row.type }),
        make("td", { "data-label": t("col_output"), className: "shape",
          text: row.output_shape && row.output_shape.length ? fmtShape(row.output_shape) : "—" }),
        make("td", { "data-label": t("col_params"), className: "num formula", text: formula }),
        make("td", { "data-label": t("col_macs"), className: "num", text: fmtInt(row.macs || 0) }),
      ]);
    });
    return make("table", { className: "layers" },
      [make("thead", {}, [head]), make("tbody", {}, body)]);
  }

  function renderLayers() {
    const box = $("layer-stages");
    const summary = state.model && state.model.summary;
    if (!summary) { box.replaceChildren(); return; }
    const rows = summary.rows || [];
    const groups = groupByStage(rows);
    box.replaceChildren(...groups.map((group, i) => {
      const key = group.stage || `#${i}`;
      const params = group.rows.reduce((sum, r) => sum + (r.params || 0), 0);
      const details = make("details", { className: "stage", open: state.openStages.has(key) ? "" : null }, [
        make("summary", {}, [
          make("span", { className: "stage-name", text: stageTitle(group.stage) }),
          make("span", { className: "stage-info", text: t("stage_summary", {
            layers: fmtInt(group.rows.filter((r) => !r.block).length),
            params: fmtInt(params) }) }),
        ]),
        make("div", { className: "table-wrap" }, [layerTable(group.rows)]),
      ]);
      details.addEventListener("toggle", () => {
        if (details.open) state.openStages.add(key);
        else state.openStages.delete(key);
      });
      return details;
    }));
    const size = (state.model.meta && state.model.meta.input_size) || [];
    $("layer-totals").textContent = t("layer_totals", {
      params: fmtInt(summary.total_params || 0), macs: fmtInt(summary.total_macs || 0),
      size: fmtShape(size),
    });
  }

  function setAllStages(open) {
    for (const details of $("layer-stages").querySelectorAll("details")) details.open = open;
  }

  // ---------------------------------------------------------------- image input

  function renderSamples() {
    const m = state.model;
    const count = (m && m.samples) || 0;
    $("samples-block").hidden = count === 0;
    const list = $("samples");
    if (!count) { list.replaceChildren(); return; }
    const shown = Math.min(SAMPLES_SHOWN, count);
    const indices = Array.from({ length: shown }, (_, k) => (state.sampleOffset + k) % count);
    const run = state.modelRun;
    const items = indices.map((i) => {
      const img = make("img", { alt: "", width: "56", height: "56" });
      const chosen = state.image && state.image.sample === i;
      const button = make("button", { type: "button", className: "sample",
        "aria-label": t("sample_button", { i }), "aria-pressed": String(chosen),
        "data-index": String(i) }, [img]);
      const known = state.sampleUrls.get(i);
      if (known) img.src = known;
      else {
        getBlobUrl(modelPath(`/samples/${i}`)).then((url) => {
          if (run !== state.modelRun) return;
          state.sampleUrls.set(i, url);
          img.src = url;
        }).catch(showError);
      }
      button.addEventListener("click", () => useSample(i));
      return make("li", {}, [button]);
    });
    if (count > shown) {
      const more = make("button", { type: "button", className: "secondary more",
        text: t("samples_more") });
      more.addEventListener("click", () => {
        state.sampleOffset = (state.sampleOffset + shown) % count;
        renderSamples();
        $("samples").querySelector("button").focus();
      });
      items.push(make("li", { className: "more-item" }, [more]));
    }
    list.replaceChildren(...items);
  }

  async function useSample(i) {
    clearError();
    try {
      const blob = await (await api(modelPath(`/samples/${i}`))).blob();
      setImage({ blob, name: null, sample: i });
    } catch (err) {
      showError(err);
    }
  }

  function useFile(file) {
    clearError();
    if (!file) return;
    if (file.type && !file.type.startsWith("image/")) {
      showError(new Error(t("error_not_image", { name: file.name })));
      return;
    }
    setImage({ blob: file, name: file.name, sample: null });
  }

  function setImage(image) {
    if (state.image && state.image.url) URL.revokeObjectURL(state.image.url);
    state.image = { ...image, url: URL.createObjectURL(image.blob) };
    for (const button of $("samples").querySelectorAll(".sample")) {
      button.setAttribute("aria-pressed", String(Number(button.dataset.index) === image.sample));
    }
    analyse();
  }

  function renderInput() {
    const image = state.image;
    $("input-figure").hidden = !image;
    if (!image) return;
    const img = $("input-image");
    if (img.src !== image.url) img.src = image.url;
    img.alt = t("input_alt");
    $("input-caption").textContent = image.sample !== null && image.sample !== undefined
      ? t("input_caption_sample", { i: image.sample })
      : t("input_caption_file", { name: image.name || "" });
  }

  // ---------------------------------------------------------------- analysis

  async function analyse() {
    const run = ++state.imageRun;
    state.top = state.cam = state.features = state.residual = null;
    state.camClass = null;
    renderImageResults();
    try {
      const top = await withStatus(t("status_predicting"),
        () => postImage(modelPath(`/predict?top_k=${TOP_K}`)));
      if (run !== state.imageRun) return;
      state.top = top;
      state.camClass = top.top.length ? top.top[0].index : null;
      renderTopk();
      await withStatus(t("status_analysing"), () => Promise.all([
        loadGradcam(run, state.camClass),
        postImage(modelPath("/features")).then((answer) => {
          if (run !== state.imageRun) return;
          state.features = answer;
          renderFeatures();
        }),
        loadResidual(run),
      ]));
    } catch (err) {
      if (run === state.imageRun) showError(err);
    }
  }

  async function loadGradcam(run, classIndex) {
    const query = classIndex === null || classIndex === undefined ? "" : `?class_index=${classIndex}`;
    const answer = await postImage(modelPath(`/gradcam${query}`));
    if (run !== state.imageRun || classIndex !== state.camClass) return;
    state.cam = answer;
    renderGradcam();
  }

  async function chooseCamClass(index) {
    if (!state.image) return;
    state.camClass = index;
    renderTopk();
    clearError();
    try {
      await withStatus(t("status_gradcam"), () => loadGradcam(state.imageRun, index));
    } catch (err) {
      showError(err);
    }
  }

  async function loadResidual(run) {
    const block = $("block-select").value;
    if (!block || !state.image) return;
    // The figure's labels follow the page's language (the server draws them).
    const answer = await postImage(
      modelPath(`/residual?block=${encodeURIComponent(block)}&lang=${state.lang}`));
    if (run !== state.imageRun || block !== $("block-select").value) return;
    state.residual = answer;
    renderResidual();
  }

  async function runResidual() {
    if (!state.image) return;
    clearError();
    const block = $("block-select").value;
    try {
      await withStatus(t("status_residual", { block }), () => loadResidual(state.imageRun));
    } catch (err) {
      showError(err);
    }
  }

  function renderTopk() {
    const list = $("topk");
    const answer = state.top;
    $("topk-empty").hidden = Boolean(answer);
    $("topk-untrained").hidden = !answer || state.model.trained;
    $("latency").textContent = answer && answer.latency_ms !== undefined
      ? t("latency", { ms: FORMAT.fixed(state.lang, answer.latency_ms, 1) }) : "";
    if (!answer) { list.replaceChildren(); return; }
    // One label column for every bar, as wide as the longest label (long ImageNet names end in …).
    const longest = Math.max(1, ...answer.top.map((item) => String(item.label).length));
    list.style.setProperty("--label-width", `${Math.min(22, longest) + 1}ch`);
    list.replaceChildren(...answer.top.map((item) => {
      const pct = fmtPct(item.probability);
      const bar = make("span", { className: "bar-fill" });
      bar.style.width = `${Math.max(0.5, 100 * item.probability).toFixed(2)}%`;
      const button = make("button", {
        type: "button", className: "bar",
        "aria-pressed": String(item.index === state.camClass),
        "aria-label": t("topk_bar_label", { label: item.label, pct }),
        "data-index": String(item.index), "data-probability": String(item.probability),
      }, [
        make("span", { className: "bar-label", text: item.label, title: item.label }),
        make("span", { className: "bar-track" }, [bar]),
        make("span", { className: "bar-value", text: pct }),
      ]);
      button.addEventListener("click", () => chooseCamClass(item.index));
      return make("li", {}, [button]);
    }));
  }

  function renderGradcam() {
    const cam = state.cam;
    $("gradcam-empty").hidden = Boolean(cam);
    $("gradcam-figure").hidden = !cam;
    if (!cam) return;
    $("gradcam-figure").dataset.classIndex = String(cam.class_index);
    const img = $("gradcam-image");
    if (img.getAttribute("src") !== cam.overlay) img.src = cam.overlay;
    img.alt = t("gradcam_alt", { label: cam.label });
    $("gradcam-label").textContent = t("gradcam_label", { label: cam.label });
  }

  function renderFeatures() {
    const answer = state.features;
    $("features-empty").hidden = Boolean(answer);
    const box = $("features");
    if (!answer) { box.replaceChildren(); return; }
    box.replaceChildren(...answer.stages.map((stage) => make("figure", { className: "feature" }, [
      make("img", { src: stage.image, alt: t("features_alt", { name: stage.name }),
        "data-stage": stage.name }),
      make("figcaption", { text: t("features_stage", {
        name: stage.name, channels: fmtInt(stage.channels),
        h: stage.size[0], w: stage.size[1] }) }),
    ])));
  }

  function renderBlocks() {
    const select = $("block-select");
    const blocks = (state.model && state.model.blocks) || [];
    const chosen = select.value;
    select.replaceChildren(...blocks.map((b) => make("option", { value: b, text: b })));
    if (blocks.includes(chosen)) select.value = chosen;
    select.disabled = blocks.length === 0;
  }

  function renderResidual() {
    const r = state.residual;
    const hasImage = Boolean(state.image);
    $("block-select").disabled = !(state.model && state.model.blocks && state.model.blocks.length);
    $("residual-run").disabled = !hasImage || $("block-select").disabled;
    $("residual-empty").hidden = Boolean(r);
    $("residual-result").hidden = !r;
    if (!r) return;
    $("residual-result").dataset.block = r.block;
    const img = $("residual-image");
    if (img.getAttribute("src") !== r.image) img.src = r.image;
    img.alt = t("residual_alt", { block: r.block });
    const diff = $("residual-diff");
    diff.dataset.value = String(r.max_abs_diff);
    diff.textContent = FORMAT.scientific(state.lang, r.max_abs_diff);
    const close = $("residual-allclose");
    close.dataset.value = String(r.allclose);
    close.textContent = t(r.allclose ? "allclose_yes" : "allclose_no");
    close.className = r.allclose ? "ok" : "bad";
    const ratio = $("residual-ratio");
    ratio.dataset.value = r.norm_ratio_f_s === null ? "" : String(r.norm_ratio_f_s);
    ratio.textContent = r.norm_ratio_f_s === null || r.norm_ratio_f_s === undefined
      ? t("ratio_none") : FORMAT.fixed(state.lang, r.norm_ratio_f_s, 3);
  }

  function renderImageResults() {
    renderInput();
    renderTopk();
    renderGradcam();
    renderFeatures();
    renderResidual();
  }

  // ---------------------------------------------------------------- training

  async function loadTraining(run) {
    const m = state.model;
    const jobs = [];
    if (m.has_curves) {
      jobs.push(getJson(modelPath("/curves")).then((curves) => {
        if (run === state.modelRun) state.curves = curves;
      }).catch(() => getBlobUrl(modelPath("/curves.png")).then((url) => {
        if (run === state.modelRun) state.curvesPng = url;
      })).catch(() => { /* no curves after all: the "no curves" note stays */ }));
    }
    for (const name of m.figures || []) {
      jobs.push(getBlobUrl(modelPath(`/figures/${encodeURIComponent(name)}`)).then((url) => {
        if (run === state.modelRun) state.figures.push({ name, url });
      }).catch(showError));
    }
    await Promise.all(jobs);
    if (run !== state.modelRun) return;
    state.trainingReady = true;
    const order = m.figures || [];
    state.figures.sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
    renderTraining();
  }

  function chartCell(spec) {
    const legend = make("ul", { className: "legend", "aria-hidden": "true" }, spec.series.map(
      (s, i) => make("li", {}, [make("span", { className: `swatch swatch-${i}` }),
        document.createTextNode(s.name)])));
    return make("figure", { className: "chart-cell" }, [
      make("figcaption", { text: spec.title }), CHARTS.lineChart(spec), legend]);
  }

  function lastValue(values) {
    for (let i = values.length - 1; i >= 0; i -= 1) {
      if (values[i] !== null && values[i] !== undefined && Number.isFinite(values[i])) return values[i];
    }
    return null;
  }

  function renderTraining() {
    const m = state.model;
    const c = state.curves;
    const box = $("curves");
    const hasPng = Boolean(state.curvesPng);
    $("curves-empty").hidden = Boolean(c) || hasPng || !state.trainingReady;
    $("curves-empty").textContent = t(m && !m.trained ? "curves_untrained" : "curves_none");
    $("curves-caption").hidden = !c && !hasPng;
    $("curves-png-figure").hidden = !hasPng || Boolean(c);
    if (hasPng) $("curves-png").src = state.curvesPng;
    if (!c) { box.replaceChildren(); } else {
      const epochs = c.epochs || [];
      const num = (v) => (v === null || v === undefined || v === "" ? null : Number(v));
      const series = (key) => (c[key] || []).map(num);
      const pct = (v) => FORMAT.fixed(state.lang, 100 * v, 0) + "\u00a0%";
      const compact = (v) => FORMAT.compact(state.lang, v);
      const charts = [];
      const summary = (title, values, format) => t("chart_summary", {
        title, n: epochs.length, last: lastValue(values) === null ? "—" : format(lastValue(values)),
      });
      const loss = series("train_loss");
      charts.push({ title: t("chart_loss"), series: [{ name: t("series_train_loss"), values: loss }],
        yMin: 0, yFormat: compact, summary: summary(t("chart_loss"), loss, compact) });
      const acc = [{ name: t("series_test_acc"), values: series("test_acc") },
        { name: t("series_val_acc"), values: series("val_acc") }]
        .filter((s) => s.values.some((v) => v !== null && !Number.isNaN(v)));
      if (acc.length) {
        charts.push({ title: t("chart_acc"), series: acc, yMin: 0, yMax: 1, yFormat: pct,
          summary: summary(t("chart_acc"), acc[0].values, pct) });
      }
      const lr = series("lr");
      charts.push({ title: t("chart_lr"), series: [{ name: t("series_lr"), values: lr }],
        yMin: 0, yFormat: compact, summary: summary(t("chart_lr"), lr, compact) });
      box.replaceChildren(...charts.map((spec) => chartCell({
        ...spec, x: epochs.map(Number), xLabel: t("axis_epoch") })));
    }
    // The run's own curves.png shows the same numbers as the charts drawn above.
    const figures = state.figures.filter((f) => !(c && f.name === "curves.png"));
    $("figures-block").hidden = figures.length === 0;
    $("figures").replaceChildren(...figures.map((f) => make("figure", { className: "lab-figure" }, [
      make("a", { href: f.url, target: "_blank", rel: "noopener",
        title: t("figure_open") }, [make("img", { src: f.url, alt: t("figure_alt", { name: f.name }) })]),
      make("figcaption", { className: "mono", text: f.name }),
    ])));
  }

  // ---------------------------------------------------------------- wiring

  function renderAll() {
    renderModelSelect();
    renderCard();
    renderLayers();
    renderBlocks();
    renderSamples();
    renderImageResults();
    if (state.model) renderTraining();
  }

  function wireDropzone() {
    const zone = $("dropzone");
    const hint = zone.querySelector("[data-i18n='drop_hint']");
    let depth = 0;
    zone.addEventListener("dragenter", (e) => {
      e.preventDefault();
      depth += 1;
      zone.classList.add("dragging");
      hint.textContent = t("drop_active");
    });
    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
    });
    const leave = () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) {
        zone.classList.remove("dragging");
        hint.textContent = t("drop_hint");
      }
    };
    zone.addEventListener("dragleave", leave);
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      depth = 1;
      leave();
      useFile(e.dataTransfer.files[0]);
    });
    // A file dropped next to the zone would make the browser navigate away from the page.
    for (const type of ["dragover", "drop"]) {
      window.addEventListener(type, (e) => { if (!zone.contains(e.target)) e.preventDefault(); });
    }
  }

  function wire() {
    for (const button of document.querySelectorAll(".lang")) {
      button.addEventListener("click", () => setLang(button.dataset.lang));
    }
    $("model-select").addEventListener("change", (e) => {
      history.replaceState(null, "", `#model=${encodeURIComponent(e.target.value)}`);
      chooseModel(e.target.value).catch(showError);
    });
    $("file-input").addEventListener("change", (e) => {
      useFile(e.target.files[0]);
      e.target.value = ""; // choosing the same file again still triggers a change
    });
    $("block-select").addEventListener("change", runResidual);
    $("residual-run").addEventListener("click", runResidual);
    $("expand-all").addEventListener("click", () => setAllStages(true));
    $("collapse-all").addEventListener("click", () => setAllStages(false));
    wireDropzone();
  }

  function start() {
    state.lang = initialLang();
    applyStaticStrings();
    wire();
    renderImageResults();
    loadModels().catch(showError);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
