// papier — relecture. Vanilla JS, no build step, no outside resource. Keyboard first.
// Every request carries the per-run token: ?t= on GET (images too), the X-Papier-Token header on POST.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("t") || "";
const $ = (sel) => document.querySelector(sel);
const GROUP_ORDER = ["amount", "famille", "digits", "mark", "text"];
const STATUS_LABEL = { auto: "lu par la machine", review: "à vérifier", verified: "vérifié" };

const state = {
  reviewer: localStorage.getItem("papier.reviewer") || "",
  buffer: [],            // queue items held here, head = current
  skipped: JSON.parse(sessionStorage.getItem("papier.skipped") || "[]"),
  counts: { left: 0, done: 0 },
  groups: [],
  settings: {},
  focus: null,           // a single item opened from the page view: {item, back}
  pending: null,         // value waiting for a "confirm anyway" (validation warning)
  sel: -1,               // selected suggestion / alternative
  choice: null,          // current selection for marks
  last: null,            // last decision (for Ctrl+Z)
  suggestions: [],
  loading: false,
  sessionDone: 0,
};

// --- tiny DOM helper (textContent only: values from paper never become HTML) --------------------------------------
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "style") el.style.cssText = v;  // CSSOM: allowed by the page's CSP
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}
const svgNS = "http://www.w3.org/2000/svg";
function s(tag, attrs, text) {
  const el = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

// --- server -----------------------------------------------------------------------------------------------------
function url(path, params) {
  const q = new URLSearchParams(params || {});
  q.set("t", TOKEN);
  return path + "?" + q.toString();
}
async function get(path, params) {
  const r = await fetch(url(path, params), { headers: { "X-Papier-Token": TOKEN } });
  const body = await r.json().catch(() => ({ error: "réponse illisible du serveur" }));
  if (!r.ok) throw Object.assign(new Error(body.error || r.statusText), { status: r.status, body });
  return body;
}
async function post(path, data) {
  const r = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Papier-Token": TOKEN },
    body: JSON.stringify(data),
  });
  const body = await r.json().catch(() => ({ error: "réponse illisible du serveur" }));
  if (!r.ok) throw Object.assign(new Error(body.error || r.statusText), { status: r.status, body });
  return body;
}
function img(kind, id, extra) {
  return url(`/img/${kind}/${id}`, extra);
}

let toastTimer = null;
function toast(msg, kind) {
  const t = $("#toast");
  t.textContent = msg;
  t.className = "show " + (kind || "");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (t.className = ""), kind === "error" ? 6000 : 2500);
}

// --- formatting -----------------------------------------------------------------------------------------------
function fmtDigits(meta, v) {
  if (v === null || v === undefined) return "—";
  if (v === "") return "(vide)";
  if (meta.semantic === "amount_cents") {
    const p = v.padStart(3, "0");
    const euros = String(parseInt(p.slice(0, -2), 10));
    return euros.replace(/\B(?=(\d{3})+(?!\d))/g, "\u202f") + "," + p.slice(-2) + " €";
  }
  const groups = meta.groups || [];
  if (groups.length > 1 && v.length === meta.length) {
    let i = 0;
    const parts = groups.map((g) => { const p = v.slice(i, i + g); i += g; return p; });
    return parts.join(meta.separator === "h" ? " h " : meta.separator || " ");
  }
  return v;
}
function optLabel(meta, v) {
  const o = (meta.options || []).find((o) => o.value === v);
  return o ? o.label : v;
}
function fmtValue(meta, v) {
  if (!meta) return v === null ? "—" : String(v);
  switch (meta.type) {
    case "digits": return fmtDigits(meta, v);
    case "choice": return v ? optLabel(meta, v) : "aucune case";
    case "multi": return v && v.length ? v.map((x) => optLabel(meta, x)).join(", ") : "aucune case";
    case "checkbox": return v === true ? "cochée" : v === false ? "non cochée" : "—";
    default: return v === null || v === undefined ? "—" : v;
  }
}
function pct(c) { return c === null || c === undefined ? "?" : Math.round(c * 100) + " %"; }

// --- reviewer name --------------------------------------------------------------------------------------------
function askName() {
  const d = $("#name-dialog");
  d.hidden = false;
  const inp = $("#name-input");
  inp.value = state.reviewer;
  setTimeout(() => inp.focus(), 0);
}
function setupName() {
  $("#name-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const v = $("#name-input").value.trim().replace(/\s+/g, " ");
    if (!v) return;
    state.reviewer = v;
    localStorage.setItem("papier.reviewer", v);
    $("#name-dialog").hidden = true;
    $("#who-name").textContent = v;
    state.buffer = [];
    route().then(() => { const inp = $("#v"); if (inp) { inp.focus(); inp.select(); } });
  });
  $("#who-change").addEventListener("click", askName);
  $("#who-name").textContent = state.reviewer || "?";
}

// --- progress -------------------------------------------------------------------------------------------------
function showCounts() {
  $("#n-done").textContent = state.counts.done;
  $("#n-left").textContent = state.counts.left;
  const total = state.counts.done + state.counts.left;
  $("#bar-fill").style.width = (total ? (100 * state.counts.done) / total : 100) + "%";
  const g = $("#groups");
  if (!g) return;
  g.replaceChildren(...state.groups.map((x) =>
    h("span", { class: "chip" + (x.count ? "" : " empty") + (current() && current().group === x.key ? " on" : "") },
      x.label, " ", h("b", { text: x.count }))));
}
function setProblems(n) {
  const b = $("#pb-count");
  b.hidden = !n;
  b.textContent = n;
}

// --- queue ----------------------------------------------------------------------------------------------------
function current() { return state.focus ? state.focus.item : state.buffer[0]; }

async function fill(force) {
  if (state.loading) return;
  if (!force && state.buffer.length >= 12) return;
  state.loading = true;
  try {
    const exclude = state.buffer.map((x) => x.id).concat(state.skipped);
    const q = await get("/api/queue", { reviewer: state.reviewer, limit: 30, exclude: exclude.join(",") });
    const have = new Set(state.buffer.map((x) => x.id));
    for (const it of q.items) if (!have.has(it.id)) state.buffer.push(it);
    state.counts = { left: q.left, done: q.done };
    state.groups = q.groups;
    state.settings = q.settings;
    setProblems(q.page_problems);
    prefetch();
  } catch (e) {
    toast(e.message, "error");
  } finally {
    state.loading = false;
  }
}
function prefetch() {
  for (const it of state.buffer.slice(1, 4)) {
    if (it.snippet) new Image().src = img("snippet", it.id);
    if (it.line) new Image().src = img("line", it.id);
  }
}

async function showQueue() {
  state.focus = null;
  if (!state.buffer.length) await fill(true);
  renderItem();
}

function resetItemState() {
  state.pending = null;
  state.sel = -1;
  state.suggestions = [];
  const it = current();
  state.choice = null;
  if (it && ["choice", "multi", "checkbox"].includes(it.type)) {
    state.choice = it.type === "multi" ? [...(it.value || [])] : it.value;
  }
}

function renderItem(message) {
  showCounts();
  const area = $("#item-area");
  const it = current();
  resetItemState();
  if (!it) {
    const kids = [h("h2", { text: "Rien à vérifier pour le moment" })];
    if (state.skipped.length) {
      kids.push(h("p", { text: `${state.skipped.length} valeur(s) passée(s) avec Tab attendent encore.` }),
        h("button", { type: "button", class: "primary", id: "revisit", onclick: revisit }, "Les revoir (Entrée)"));
    } else {
      kids.push(h("p", { text: "Toutes les valeurs douteuses ont été traitées. Vérifiez aussi l'onglet « Pages »." }));
    }
    area.replaceChildren(h("div", { class: "card done" }, kids));
    return;
  }
  const c = it.context;
  const meta = it.meta;
  const printed = Object.entries(c.printed || {}).map(([k, v]) => `${k === "quittance" ? "Quittance n°" : k === "fiche" ? "Fiche n°" : k} ${v}`);
  const where = [
    c.form_title,
    c.serial ? `page ${c.serial}` + (c.copy ? ` (copie ${c.copy})` : "") : null,
    c.kind === "page" ? "pied de page" : `ligne ${c.row}`,
    ...printed,
  ].filter(Boolean).join(" · ");

  const snippet = it.snippet
    ? h("img", { class: "snippet", src: img("snippet", it.id), alt: "Ce qui est écrit dans la case" })
    : h("div", { class: "snippet none", text: "pas d'extrait d'image pour ce champ" });

  let line = null;
  if (it.line) {
    const L = it.line;
    const box = `left:${(100 * (L.field.x - L.crop.x)) / L.crop.w}%;top:${(100 * (L.field.y - L.crop.y)) / L.crop.h}%;` +
      `width:${(100 * L.field.w) / L.crop.w}%;height:${(100 * L.field.h) / L.crop.h}%`;
    const lineImg = h("img", { src: img("line", it.id), alt: "La ligne entière" });
    const wrap = h("div", { class: "line" }, lineImg, h("div", { class: "hl", style: box }));
    lineImg.addEventListener("error", () => { wrap.replaceChildren(h("div", { class: "muted small", text: "Ligne entière indisponible (page impossible à caler) — voir la page." })); });
    line = wrap;
  }

  const verified = it.status === "verified";
  const guess = h("div", { class: "guess" },
    h("span", { class: "lbl", text: verified ? "Valeur vérifiée : " : "Lecture machine : " }),
    h("b", { class: "mv", text: it.value === null && it.type === "text" ? "à transcrire" : fmtValue(meta, it.value) }),
    h("span", { class: "conf " + (it.confidence < 0.5 ? "low" : "") }, " confiance ", pct(it.confidence)),
    it.reason && !verified ? h("span", { class: "reason", text: " — " + it.reason }) : null,
    verified && JSON.stringify(it.machine_value) !== JSON.stringify(it.value)
      ? h("span", { class: "lbl", text: ` (machine : ${fmtValue(meta, it.machine_value)})` }) : null);

  const alts = it.alternatives && it.alternatives.length
    ? h("div", { class: "alts" }, h("span", { class: "lbl", text: "Autres lectures (↑ ↓) : " }),
      it.alternatives.map((a, i) => h("button", { type: "button", class: "alt", "data-i": i, onclick: () => pickAlt(i) }, fmtValue(meta, a))))
    : null;

  const editor = renderEditor(it);

  const dbl = it.double && it.double.on
    ? h("div", { class: "double" + (it.double.disputed ? " dispute" : "") },
      it.double.disputed
        ? ["Désaccord entre relecteurs : ", Object.entries(it.double.others).map(([w, v]) => `${w} a saisi ${fmtValue(meta, v)}`).join(" ; "),
          ". Saisissez ce que vous lisez : il faut deux saisies identiques."]
        : `Double saisie : ${it.double.entries} saisie(s) enregistrée(s) ; validé quand deux personnes saisissent la même valeur.`)
    : null;

  const sib = (it.siblings || []).filter((x) => x.value !== null && x.value !== "" && !(Array.isArray(x.value) && !x.value.length) && x.value !== false);
  const siblings = sib.length
    ? h("div", { class: "siblings" }, h("span", { class: "lbl", text: "Sur la même ligne : " }),
      sib.map((x) => h("span", { class: "sib " + x.status, title: STATUS_LABEL[x.status] || "" },
        h("i", { text: x.label + " " }), x.meta ? fmtValue(x.meta, x.value) : String(x.value))))
    : null;

  const actions = h("div", { class: "actions" },
    h("button", { type: "button", class: "primary", id: "btn-ok", onclick: confirmItem }, "Valider ", h("kbd", { text: "Entrée" })),
    state.focus ? h("button", { type: "button", onclick: leaveFocus }, "Retour ", h("kbd", { text: "Échap" }))
      : h("button", { type: "button", id: "btn-skip", onclick: skip }, "Passer ", h("kbd", { text: "Tab" })),
    h("button", { type: "button", id: "btn-illegible", onclick: () => decide("illegible") }, "Illisible ", h("kbd", { text: "Ctrl+I" })),
    h("button", { type: "button", id: "btn-blank", onclick: () => decide("blank") }, "Rien d'écrit ", h("kbd", { text: "Ctrl+Suppr" })),
    c.page_id ? h("a", { class: "button", href: `#/page/${c.page_id}` }, "Voir la page ", h("kbd", { text: "Ctrl+P" })) : null,
    state.last ? h("button", { type: "button", class: "quiet", onclick: undoLast }, "Annuler la dernière ", h("kbd", { text: "Ctrl+Z" })) : null);

  const card = h("div", { class: "card item", "data-id": it.id, "data-group": it.group },
    h("div", { class: "head" },
      h("span", { class: "group", text: it.group_label }),
      h("h2", { text: (meta.section ? `${meta.section} — ` : "") + meta.label }),
      h("div", { class: "where", text: where })),
    snippet, line, guess, alts, siblings, dbl,
    h("div", { id: "msg", class: "msg" + (message ? " " + message.kind : ""), role: "alert", text: message ? message.text : "" }),
    editor, actions);
  area.replaceChildren(card);
  const inp = $("#v");
  if (inp && $("#name-dialog").hidden) { inp.focus(); inp.select(); }
  if (it.type === "text") refreshSuggestions();
}

function renderEditor(it) {
  const meta = it.meta;
  if (it.type === "digits") {
    const n = meta.length;
    const inp = h("input", { id: "v", class: "digits", inputmode: "numeric", autocomplete: "off", spellcheck: "false",
      maxlength: n ? n + 4 : 40, value: it.value || "", "aria-label": meta.label });
    const preview = h("span", { id: "preview", class: "preview" });
    const show = () => { preview.textContent = "= " + fmtDigits(meta, inp.value.replace(/[^0-9]/g, "")); };
    inp.addEventListener("input", () => { state.pending = null; clearMsg(); show(); });
    show();
    const hint = [n ? `${n} case(s)` : null, meta.semantic === "amount_cents" ? "montant : chiffres des cases, centimes compris (12,50 € → 1250)" : null,
      meta.semantic && meta.semantic.startsWith("date") ? "date : jour mois année" : null,
      meta.check === "luhn" ? "dernier chiffre = clé de contrôle" : null, meta.check === "ean13" ? "code-barres EAN-13" : null]
      .filter(Boolean).join(" · ");
    return h("div", { class: "editor" }, h("label", { for: "v", text: "Valeur : " }), inp, preview, h("div", { class: "hint", text: hint }));
  }
  if (it.type === "text") {
    const inp = h("input", { id: "v", class: "text", autocomplete: "off", spellcheck: "false", maxlength: 500,
      value: it.value || "", placeholder: "Tapez ce qui est écrit", "aria-label": meta.label });
    inp.addEventListener("input", () => { state.pending = null; clearMsg(); state.sel = -1; refreshSuggestions(); });
    return h("div", { class: "editor" }, h("label", { for: "v", text: "Texte : " }), inp,
      h("ul", { id: "sugg", class: "sugg" }),
      h("div", { class: "hint", text: it.suggest_source ? `Suggestions : ${it.suggest_source} (↑ ↓ pour choisir)` : "" }));
  }
  // marks
  const opts = it.type === "checkbox"
    ? [{ value: true, label: "Cochée", key: "1" }, { value: false, label: "Non cochée", key: "0" }]
    : (meta.options || []).map((o, i) => ({ value: o.value, label: o.label, key: String(i + 1) }));
  if (it.type === "choice") opts.push({ value: null, label: "Aucune case", key: "0" });
  const list = h("div", { class: "options", id: "options" },
    opts.map((o) => h("button", { type: "button", class: "opt", "data-key": o.key, "data-v": JSON.stringify(o.value),
      onclick: () => pickOption(o.key) }, h("kbd", { text: o.key }), " ", o.label)));
  setTimeout(markOptions, 0);
  return h("div", { class: "editor" }, list,
    h("div", { class: "hint", text: it.type === "multi" ? "Chiffres : cocher / décocher ; Entrée pour valider" : "Chiffre pour choisir, Entrée pour valider" }));
}

function markOptions() {
  const it = current();
  if (!it) return;
  for (const b of document.querySelectorAll("#options .opt")) {
    const v = JSON.parse(b.dataset.v);
    const on = it.type === "multi" ? (state.choice || []).includes(v) : state.choice === v;
    b.classList.toggle("on", on);
  }
}
function pickOption(key) {
  const it = current();
  const b = document.querySelector(`#options .opt[data-key="${key}"]`);
  if (!it || !b) return;
  const v = JSON.parse(b.dataset.v);
  if (it.type === "multi") {
    const set = new Set(state.choice || []);
    set.has(v) ? set.delete(v) : set.add(v);
    state.choice = (it.meta.options || []).map((o) => o.value).filter((x) => set.has(x));
  } else {
    state.choice = v;
  }
  state.pending = null;
  clearMsg();
  markOptions();
}
function pickAlt(i) {
  const it = current();
  if (!it || !it.alternatives.length) return;
  const n = it.alternatives.length;
  state.sel = ((i % n) + n) % n;
  const a = it.alternatives[state.sel];
  if (["choice", "multi", "checkbox"].includes(it.type)) {
    state.choice = it.type === "multi" ? [].concat(a) : a;
    markOptions();
  } else {
    const inp = $("#v");
    inp.value = a;
    inp.dispatchEvent(new Event("input"));
    inp.focus();
  }
  document.querySelectorAll(".alt").forEach((b) => b.classList.toggle("on", Number(b.dataset.i) === state.sel));
}

let suggTimer = null;
function refreshSuggestions() {
  const it = current();
  if (!it || it.type !== "text" || !it.suggest_source) return;
  clearTimeout(suggTimer);
  suggTimer = setTimeout(async () => {
    const q = ($("#v") || {}).value || "";
    try {
      const r = await get("/api/suggest", { field: it.id, q });
      if (current() !== it) return;
      state.suggestions = r.suggestions;
      drawSuggestions();
    } catch (e) { /* suggestions are optional */ }
  }, 60);
}
function drawSuggestions() {
  const ul = $("#sugg");
  if (!ul) return;
  ul.replaceChildren(...state.suggestions.map((sg, i) =>
    h("li", { class: (i === state.sel ? "on " : "") + (sg.sure ? "sure" : ""), onclick: () => { state.sel = i; takeSuggestion(); } },
      h("span", { class: "v", text: sg.value }), h("span", { class: "hint", text: sg.hint }))));
}
function takeSuggestion() {
  const sg = state.suggestions[state.sel];
  if (!sg) return;
  const inp = $("#v");
  inp.value = sg.value;
  state.pending = null;
  clearMsg();
  drawSuggestions();
}

function clearMsg() {
  const m = $("#msg");
  if (m) { m.textContent = ""; m.className = "msg"; }
}
function showMsg(text, kind) {
  const m = $("#msg");
  if (m) { m.textContent = text; m.className = "msg " + (kind || ""); }
}

function currentValue(it) {
  if (["choice", "multi", "checkbox"].includes(it.type)) return state.choice;
  const inp = $("#v");
  return inp ? inp.value : null;
}
function sameValue(it, v) {
  if (it.type === "digits") return (v || "").replace(/[^0-9]/g, "") === (it.value || "") && !/,/.test(v || "");
  if (it.type === "text") return (v || "").trim() === (it.value || "") && it.value !== null;
  return JSON.stringify(v) === JSON.stringify(it.value);
}

function confirmItem() {
  const it = current();
  if (!it) { if (state.skipped.length) revisit(); return; }
  if (it.type === "text" && state.sel >= 0 && state.suggestions[state.sel] && $("#v").value !== state.suggestions[state.sel].value) {
    takeSuggestion();
    return;
  }
  const v = currentValue(it);
  if (it.type === "text" && !(v || "").trim()) {
    showMsg("Tapez le texte lu, ou Ctrl+I s'il est illisible, ou Ctrl+Suppr s'il n'y a rien d'écrit.", "warn");
    return;
  }
  decide(sameValue(it, v) ? "accept" : "set", v);
}

async function decide(action, value) {
  const it = current();
  if (!it || state.busy) return;
  if (!state.reviewer) { askName(); return; }
  const key = JSON.stringify([action, value]);
  const force = state.pending === key;
  state.busy = true;
  try {
    const r = await post("/api/decide", { field_id: it.id, rev: it.rev, action, value, reviewer: state.reviewer, force });
    if (!r.ok) {
      state.pending = key;
      showMsg("⚠ " + r.warnings.join(" ; ") + " — Entrée pour confirmer quand même, ou corrigez.", "warn");
      return;
    }
    state.last = { id: it.id, rev: r.rev, item: it };
    if (r.message) toast(r.message);
    else toast(action === "illegible" ? "Marqué illisible" : action === "blank" ? "Marqué vide" : "Validé", "ok");
    state.sessionDone++;
    if (r.status === "verified") { state.counts.done++; }
    state.counts.left = Math.max(0, state.counts.left - 1);
    const g = state.groups.find((x) => x.key === it.group);
    if (g) g.count = Math.max(0, g.count - 1);
    next(it);
  } catch (e) {
    if (e.status === 409 && e.body && e.body.item) {
      replaceCurrent(e.body.item);
      get("/api/queue", { reviewer: state.reviewer, limit: 0 }).then((q) => {
        state.counts = { left: q.left, done: q.done }; state.groups = q.groups; showCounts();
      }).catch(() => {});
      renderItem({ text: e.body.error + (e.body.item.status === "verified" ? " (déjà vérifié : Tab pour passer)" : ""), kind: "conflict" });
    } else {
      showMsg(e.message, "error");
    }
  } finally {
    state.busy = false;
  }
}
function replaceCurrent(fresh) {
  if (state.focus) state.focus.item = fresh; else state.buffer[0] = fresh;
}
function next(doneItem) {
  if (state.focus) {
    const back = state.focus.back;
    state.focus = null;
    location.hash = back;
    return;
  }
  state.buffer = state.buffer.filter((x) => x.id !== doneItem.id);
  renderItem();
  if (state.buffer.length < 12) fill().then(() => { if (!$("#item-area .item")) renderItem(); else showCounts(); });
}
function leaveFocus() {
  const back = state.focus ? state.focus.back : "#/file";
  state.focus = null;
  location.hash = back;
}
function skip() {
  const it = current();
  if (!it || state.focus) return;
  state.skipped.push(it.id);
  sessionStorage.setItem("papier.skipped", JSON.stringify(state.skipped));
  state.buffer.shift();
  renderItem();
  if (state.buffer.length < 12) fill().then(() => { if (!$("#item-area .item")) renderItem(); });
}
async function revisit() {
  state.skipped = [];
  sessionStorage.removeItem("papier.skipped");
  state.buffer = [];
  await fill(true);
  renderItem();
}
async function undoLast() {
  const l = state.last;
  if (!l) return;
  try {
    await post("/api/undo", { field_id: l.id, rev: l.rev, reviewer: state.reviewer });
    state.last = null;
    const fresh = await get(`/api/item/${l.id}`, { reviewer: state.reviewer });
    state.buffer = state.buffer.filter((x) => x.id !== l.id);
    state.buffer.unshift(fresh);
    state.counts.left++;
    state.counts.done = Math.max(0, state.counts.done - 1);
    toast("Décision annulée : le champ revient dans la file");
    renderItem();
  } catch (e) { toast(e.message, "error"); }
}

// --- keyboard -------------------------------------------------------------------------------------------------
function onKey(e) {
  if (!$("#name-dialog").hidden) return;
  const view = currentView();
  if (view !== "queue") return;
  const it = current();
  if (e.key === "Enter") { e.preventDefault(); confirmItem(); return; }
  if (e.key === "Tab" && !e.shiftKey) { e.preventDefault(); skip(); return; }
  if (e.key === "Escape") {
    if (state.focus) { e.preventDefault(); leaveFocus(); return; }
    state.pending = null; clearMsg(); return;
  }
  if (e.ctrlKey && (e.key === "i" || e.key === "I")) { e.preventDefault(); decide("illegible"); return; }
  if (e.ctrlKey && e.key === "Delete") { e.preventDefault(); decide("blank"); return; }
  if (e.ctrlKey && (e.key === "z" || e.key === "Z") && !(document.activeElement && document.activeElement.id === "v" && document.activeElement.value !== ((it && it.value) || ""))) {
    e.preventDefault(); undoLast(); return;
  }
  if (e.ctrlKey && (e.key === "p" || e.key === "P")) { if (it && it.context.page_id) { e.preventDefault(); location.hash = `#/page/${it.context.page_id}`; } return; }
  if (!it) return;
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    const d = e.key === "ArrowDown" ? 1 : -1;
    if (it.type === "text" && state.suggestions.length) {
      e.preventDefault();
      const n = state.suggestions.length;
      state.sel = state.sel < 0 ? (d > 0 ? 0 : n - 1) : (state.sel + d + n) % n;
      drawSuggestions();
      return;
    }
    if (it.alternatives && it.alternatives.length) {
      e.preventDefault();
      pickAlt(state.sel < 0 ? (d > 0 ? 0 : -1) : state.sel + d);
    }
    return;
  }
  if (["choice", "multi", "checkbox"].includes(it.type) && /^[0-9]$/.test(e.key) && !e.ctrlKey && !e.altKey) {
    e.preventDefault();
    pickOption(e.key);
  }
}

// --- pages: problems and sheets -------------------------------------------------------------------------------
async function showPages() {
  const v = $("#view-pages");
  v.replaceChildren(h("p", { class: "muted", text: "Chargement…" }));
  try {
    const [pb, pages] = await Promise.all([get("/api/problems"), get("/api/pages")]);
    setProblems(pb.problems.length);
    const probs = h("div", { class: "problems" }, pb.problems.length ? pb.problems.map(problemCard)
      : h("p", { class: "muted", text: pb.blank ? "Aucun problème de page : les autres images ont été identifiées."
        : "Aucun problème de page : toutes les images ont été identifiées." }));
    const blank = pb.blank ? h("p", { class: "muted blank-pages", text: `${pb.blank} page(s) blanche(s), sans QR code ni écriture (les versos d'une numérisation recto verso ?) : images gardées, rien à faire.` }) : null;
    const rows = pages.pages.map((p) => h("tr", { class: p.status === "superseded" ? "old" : "" },
      h("td", {}, h("a", { href: `#/page/${p.page_id}`, text: p.form_title })),
      h("td", { text: p.serial ?? "" }), h("td", { text: p.copy ?? "" }),
      h("td", { class: p.review ? "warn" : "", text: p.review }), h("td", { text: p.verified }),
      h("td", { text: p.status === "primary" ? "" : p.status === "conflict" ? "en conflit" : p.status === "superseded" ? "écartée" : p.status || "" }),
      h("td", { class: "mono small", text: p.page_key })));
    v.replaceChildren(
      h("h2", { text: "Pages à traiter" }), probs, ...(blank ? [blank] : []),
      h("h2", { text: "Feuilles lues" }),
      h("table", { class: "sheets" },
        h("thead", {}, h("tr", {}, ["Registre", "Page", "Copie", "À vérifier", "Vérifiés", "État", "Clé"].map((t) => h("th", { text: t })))),
        h("tbody", {}, rows)));
  } catch (e) { v.replaceChildren(h("p", { class: "error", text: e.message })); }
}

function problemCard(p) {
  const act = (page_id, a) => h("button", { type: "button", class: a.action.startsWith("keep") ? "primary" : "", "data-action": a.action,
    onclick: () => pageAction(page_id, a.action) }, a.label);
  if (p.kind === "unidentified") {
    return h("div", { class: "card problem" },
      h("div", { class: "thumb" }, h("a", { href: img("original", p.page_id), target: "_blank" },
        h("img", { src: img("page", p.page_id), alt: "Image non identifiée" }))),
      h("div", { class: "body" },
        h("h3", { text: "Page non identifiée" }),
        h("p", {}, h("b", { text: p.source }), ` — image ${p.index}`),
        h("p", { class: "reason", text: p.reason || "" }),
        h("div", { class: "actions" }, p.actions.map((a) => act(p.page_id, a)))));
  }
  const side = (x, name) => x ? h("div", { class: "side" },
    h("a", { href: `#/page/${x.page_id}` }, h("img", { src: img("page", x.page_id), alt: `Image ${name}` })),
    h("p", {}, h("b", { text: name + " : " }), `${x.source} — image ${x.index}`),
    h("p", { class: "small muted", text: `${x.fields_with_ink} valeur(s) écrite(s), ${x.review} à vérifier` }))
    : h("div", { class: "side muted", text: `${name} : image non lue` });
  return h("div", { class: "card problem conflict" },
    h("div", { class: "body" },
      h("h3", { text: `Deux images différentes de la même page : ${p.form_title}` }),
      h("p", { class: "small" }, "clé ", h("span", { class: "mono", text: p.page_key }), p.copy ? ` · copie ${p.copy}` : ""),
      p.reason ? h("p", { class: "reason", text: p.reason }) : null,
      h("div", { class: "pair" }, side(p.a, "A (première)"), side(p.b, "B (nouvelle)")),
      h("div", { class: "actions" }, p.actions.map((a) => act(p.page_id, a)))));
}

async function pageAction(page_id, action) {
  if (!state.reviewer) { askName(); return; }
  try {
    await post("/api/page-action", { page_id, action, reviewer: state.reviewer });
    toast("Enregistré", "ok");
    state.buffer = [];
  } catch (e) { toast(e.message, "error"); }
  showPages();
}

// --- page view ------------------------------------------------------------------------------------------------
const COLORS = { auto: "#1565c0", review: "#d84315", verified: "#2e7d32" };

async function showPage(id) {
  const v = $("#view-page");
  v.replaceChildren(h("p", { class: "muted", text: "Chargement de la page…" }));
  let p;
  try { p = await get(`/api/page/${id}`); } catch (e) { v.replaceChildren(h("p", { class: "error", text: e.message })); return; }
  let aligned = false, src = null;
  if (p.has_image) {
    const r = await fetch(img("page", id));
    if (r.ok) { aligned = r.headers.get("X-Papier-Aligned") === "1"; src = URL.createObjectURL(await r.blob()); }
  }
  const title = p.sheet ? `${p.sheet.form_title} — page ${p.sheet.serial ?? "?"}${p.copy ? ` (copie ${p.copy})` : ""}` : "Page non identifiée";
  const left = h("div", { class: "pageimg" });
  if (src && aligned && p.size_mm) {
    const [W, H] = p.size_mm;
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "overlay", role: "img", "aria-label": "Page avec les valeurs lues" });
    svg.append(s("image", { href: src, x: 0, y: 0, width: W, height: H }));
    for (const e of p.entries) for (const f of e.fields) drawField(svg, f, id);
    left.append(svg);
  } else if (src) {
    left.append(h("p", { class: "warn", text: "Page impossible à caler automatiquement : image d'origine ci-dessous, valeurs à droite." }),
      h("img", { src, alt: "Image d'origine", class: "orig" }));
  } else {
    left.append(h("p", { class: "muted", text: "Pas d'image pour cette page." }));
  }
  const list = h("div", { class: "fieldlist" },
    p.entries.map((e) => [e, e.fields.filter((f) => f.has_ink || f.status !== "auto")])
      .filter(([e, fs]) => fs.length).map(([e, fs]) => h("div", { class: "entry" },
        h("h4", { text: (e.kind === "page" ? "Pied de page" : `Ligne ${e.row}`) + Object.values(e.printed || {}).map((x) => ` · n° ${x}`).join("") }),
        h("ul", {}, fs.map((f) =>
          h("li", { class: f.status },
            h("a", { href: `#/item/${f.id}` },
              h("i", { text: (f.meta.section ? f.meta.section.replace(/ \(.*\)$/, "") + " — " : "") + f.label + " : " }),
              h("b", { text: fmtValue(f.meta, f.value) })),
            h("span", { class: "st", text: " " + (STATUS_LABEL[f.status] || f.status) })))))));
  const info = h("div", { class: "pageinfo small muted" },
    `${p.source || ""} — image ${p.index ?? ""}`, p.residual_mm !== null && p.residual_mm !== undefined ? ` · calage ${p.residual_mm} mm` : "",
    p.reason ? h("div", { class: "reason", text: p.reason }) : null);
  const legend = h("div", { class: "legend" }, Object.entries(COLORS).map(([k, c]) =>
    h("span", {}, h("i", { style: `background:${c}` }), STATUS_LABEL[k])));
  v.replaceChildren(h("div", { class: "pagehead" },
    h("a", { href: "#/pages", class: "button", text: "← Pages" }), h("h2", { text: title }), legend),
  h("div", { class: "pagegrid" }, left, h("div", { class: "side" }, info, list)));
}

function drawField(svg, f, pageId) {
  const g = f.geom;
  if (!g) return;
  const inked = f.has_ink || (f.value !== null && f.value !== "" && f.value !== false && !(Array.isArray(f.value) && !f.value.length));
  if (!inked && f.status === "auto") return;
  const color = COLORS[f.status] || "#555";
  const a = s("a", { href: `#/item/${f.id}`, class: "fld " + f.status });
  a.append(s("title", {}, `${f.label} : ${fmtValue(f.meta, f.value)} (${STATUS_LABEL[f.status] || f.status})`));
  const z = g.zone;
  if (f.type === "choice" || f.type === "multi") {
    const vals = f.type === "multi" ? (f.value || []) : [f.value];
    for (const o of g.options || []) {
      if (vals.includes(o.value)) a.append(s("circle", { cx: o.cx, cy: o.cy, r: o.r + 0.9, fill: "none", stroke: color, "stroke-width": 0.7 }));
    }
    if (f.status === "review") a.append(s("rect", { x: z.x - 1, y: z.y - 1, width: z.w + 2, height: z.h + 2, fill: color, "fill-opacity": 0.10, stroke: color, "stroke-width": 0.4, "stroke-dasharray": "1.2 0.8", rx: 1 }));
  } else if (f.type === "checkbox") {
    const b = g.box || z;
    a.append(s("rect", { x: b.x - 0.8, y: b.y - 0.8, width: b.w + 1.6, height: b.h + 1.6, fill: "none", stroke: color, "stroke-width": f.value ? 0.8 : 0.3, rx: 0.5 }));
  } else {
    a.append(s("rect", { x: z.x - 0.5, y: z.y - 0.5, width: z.w + 1, height: z.h + 1, fill: color, "fill-opacity": f.status === "review" ? 0.10 : 0.04, stroke: color, "stroke-width": 0.35, rx: 0.6 }));
    const text = f.value === null ? (f.type === "text" ? "à transcrire" : "?") : fmtValue(f.meta, f.value);
    const fs = 2.6;
    const w = Math.min(z.w + 20, text.length * fs * 0.56 + 2);
    a.append(s("rect", { x: z.x, y: z.y - fs - 0.9, width: w, height: fs + 1, fill: "#fff", "fill-opacity": 0.92, stroke: color, "stroke-width": 0.25, rx: 0.5 }));
    a.append(s("text", { x: z.x + 1, y: z.y - 1.3, "font-size": fs, fill: color, "font-weight": "bold" }, text));
  }
  svg.append(a);
}

async function showFocus(id) {
  try {
    const it = await get(`/api/item/${id}`, { reviewer: state.reviewer });
    state.focus = { item: it, back: `#/page/${it.context.page_id}` };
    renderItem(it.status !== "review" ? { text: `Ce champ est « ${STATUS_LABEL[it.status] || it.status} » ; vous pouvez le corriger.`, kind: "info" } : null);
  } catch (e) { toast(e.message, "error"); }
}

// --- settings and log -----------------------------------------------------------------------------------------
const ACTION_LABEL = { accept: "accepté", set: "corrigé", illegible: "illisible", blank: "vide", entry: "saisie (double)",
  double_ok: "double saisie concordante", reopen: "rouvert", setting: "réglage", not_papier: "pas une page papier",
  rescan: "à rescanner", keep_a: "garder A", keep_b: "garder B" };
async function showSettings() {
  const v = $("#view-settings");
  try {
    const [st, hist] = await Promise.all([get("/api/settings"), get("/api/history", { limit: 100 })]);
    const cb = h("input", { type: "checkbox", id: "double-entry", checked: !!st.double_entry });
    cb.addEventListener("change", async () => {
      if (!state.reviewer) { askName(); cb.checked = !cb.checked; return; }
      try { await post("/api/settings", { key: "double_entry", value: cb.checked, reviewer: state.reviewer }); toast("Réglage enregistré", "ok"); state.buffer = []; }
      catch (e) { toast(e.message, "error"); cb.checked = !cb.checked; }
    });
    const rows = hist.history.map((r) => h("tr", {},
      h("td", { class: "small", text: (r.at || "").replace("T", " ").slice(0, 19) }),
      h("td", { text: r.reviewer }),
      h("td", { text: ACTION_LABEL[r.action] || r.action }),
      h("td", {}, r.field_id ? h("a", { href: `#/item/${r.field_id}`, text: r.field || r.field_id })
        : r.page_id ? h("a", { href: `#/page/${r.page_id}`, text: `page ${r.page_id}` }) : ""),
      h("td", { class: "mono", text: r.old_value === null ? "" : JSON.stringify(r.old_value) }),
      h("td", { class: "mono", text: r.new_value === null ? "" : JSON.stringify(r.new_value) }),
      h("td", { class: "small", text: r.note || "" })));
    const head = h("thead", {}, h("tr", {}, ["Quand", "Qui", "Quoi", "Champ", "Avant", "Après", "Note"].map((t) => h("th", { text: t }))));
    v.replaceChildren(
      h("div", { class: "card" }, h("h2", { text: "Réglages (communs à tous les relecteurs)" }),
        h("label", { class: "check" }, cb, " Double saisie des montants et de l'état civil : deux personnes différentes doivent saisir la même valeur.")),
      h("div", { class: "card" }, h("h2", { text: "Journal des décisions (100 dernières)" }),
        h("table", { class: "log" }, head, h("tbody", {}, rows))));
  } catch (e) { v.replaceChildren(h("p", { class: "error", text: e.message })); }
}

// --- routing --------------------------------------------------------------------------------------------------
function currentView() {
  const hsh = location.hash || "#/file";
  if (hsh.startsWith("#/file") || hsh.startsWith("#/item/")) return "queue";
  if (hsh.startsWith("#/pages")) return "pages";
  if (hsh.startsWith("#/page/")) return "page";
  if (hsh.startsWith("#/reglages")) return "settings";
  return "queue";
}
async function route() {
  const view = currentView();
  for (const [k, el] of [["queue", "#view-queue"], ["pages", "#view-pages"], ["page", "#view-page"], ["settings", "#view-settings"]]) {
    $(el).hidden = k !== view;
  }
  $("#nav-file").classList.toggle("on", view === "queue");
  $("#nav-pages").classList.toggle("on", view === "pages" || view === "page");
  $("#nav-settings").classList.toggle("on", view === "settings");
  if (!state.reviewer) { askName(); }
  const hsh = location.hash;
  if (hsh.startsWith("#/item/")) { await showFocus(parseInt(hsh.slice(7), 10)); return; }
  if (view === "queue") await showQueue();
  else if (view === "pages") await showPages();
  else if (view === "page") await showPage(parseInt(hsh.slice(7), 10));
  else if (view === "settings") await showSettings();
}

document.addEventListener("DOMContentLoaded", () => {
  if (!TOKEN) { document.body.replaceChildren(h("p", { class: "error", text: "Adresse sans jeton : utilisez celle affichée par « papier review »." })); return; }
  setupName();
  get("/api/queue", { reviewer: state.reviewer, limit: 0 }).then((q) => {
    state.counts = { left: q.left, done: q.done };
    state.groups = q.groups;
    setProblems(q.page_problems);
    showCounts();
  }).catch(() => {});
  document.addEventListener("keydown", onKey);
  window.addEventListener("hashchange", route);
  route();
});
