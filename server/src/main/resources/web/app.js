// ctrlab's dashboard: a read-only page over the server's JSON API (docs/dashboard.md). No build step, no CDN:
// this file, app.css and the vendored uPlot are all served from the server's jar.
"use strict";

const TOKEN_KEY = "ctrlab-token";
const POLL_MS = 2000;     // a live run page asks for new epochs this often (only new ones are sent)
const BOX_POLL_MS = 3000;
const main = document.getElementById("main");
let timers = [];          // the current view's polls, stopped when the view changes
let gen = 0;              // the current view's number: an answer that arrives after the view changed is dropped
let me = null;

// ---- helpers --------------------------------------------------------------------------------------------------

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

// Replaces a node's children, leaving out absent ones (null, undefined, false).
function fill(node, ...kids) {
  node.replaceChildren(...kids.flat().filter((k) => k !== null && k !== undefined && k !== false));
}

// The page's content setter for a view started now: once another view has started, it does nothing (an answer
// still in flight when the reader moved on must not draw over the new view).
function view(mine) {
  return (...kids) => { if (mine === gen) fill(main, ...kids); };
}

// A number for a chart, or null: the API writes a non-number (a NaN AUC) as the string "NaN".
function val(v) {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

function num(x, digits) {
  if (x === null || x === undefined || x === "NaN" || Number.isNaN(Number(x))) return "–";
  return Number(x).toFixed(digits === undefined ? 4 : digits);
}

function when(ms) {
  if (!ms) return "–";
  const d = new Date(Number(ms));
  return d.toISOString().replace("T", " ").slice(0, 19);
}

// A span of time for people, as the CLI's show prints it: seconds under two minutes, minutes under two hours.
function span(seconds) {
  const x = Math.round(Number(seconds));
  if (x < 120) return x.toFixed(0) + " s";
  if (x < 7200) return (x / 60).toFixed(1) + " min";
  return (x / 3600).toFixed(1) + " h";
}

function stateTag(s) {
  return el("span", { class: "state " + s }, s);
}

// Runs fn every ms while view `mine` is the current one: the next call is scheduled when the last has finished (no
// two overlap), nothing is asked while the tab is hidden, a refused token leads to the sign-in, and any other failure
// is shown above the page while the polls go on (a server restart ends it).
function every(ms, fn, mine) {
  const tick = async () => {
    if (mine !== gen) return;
    try {
      if (!document.hidden) await fn();
      const note = document.getElementById("poll-error");
      if (note) note.remove();
    } catch (e) {
      if (mine !== gen) return;
      if (e instanceof Unauthorized) { signIn("The server no longer takes this token: " + e.message); return; }
      const note = document.getElementById("poll-error") || main.insertBefore(el("p", { class: "error",
        id: "poll-error" }), main.firstChild);
      note.textContent = "Could not refresh (" + e.message + "); trying again.";
    }
    if (mine === gen) timers.push(setTimeout(tick, ms));
  };
  timers.push(setTimeout(tick, ms));
}

function hashQuery() {
  const h = location.hash.slice(1);
  const i = h.indexOf("?");
  return new URLSearchParams(i < 0 ? "" : h.slice(i + 1));
}

function runLink(id) {
  return el("a", { href: "#/run/" + id }, id);
}

class Unauthorized extends Error {}

async function api(path) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers["Authorization"] = "Bearer " + token;
  const r = await fetch("/api/" + path, { headers, cache: "no-store" });
  if (r.status === 401) throw new Unauthorized((await r.json()).error);
  if (!r.ok) {
    let msg = r.statusText;
    try { msg = (await r.json()).error; } catch (e) { /* not JSON */ }
    throw new Error(r.status + ": " + msg);
  }
  const type = r.headers.get("Content-Type") || "";
  return type.startsWith("application/json") ? r.json() : r.text();
}

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// ---- charts (uPlot) -------------------------------------------------------------------------------------------

const COLORS = ["#2463a6", "#c2410c", "#15803d", "#7c3aed", "#b91c1c", "#0e7490", "#a16207", "#be185d",
  "#4d7c0f", "#1e40af"];

// A chart whose data can grow in place: new points keep the reader's zoom (a drag zooms, a double click resets).
function chart(title, seriesLabels, opts) {
  opts = opts || {};
  const box = el("div", { class: "chart", "data-chart": title, "data-points": "0" }, el("h3", {}, title));
  let zoomed = false;
  const series = [{ label: "epoch" }].concat(seriesLabels.map((s, i) => Object.assign({
    label: s, stroke: COLORS[i % COLORS.length], width: 1.5, points: { show: true, size: 4 },
    value: (u, v) => v === null || v === undefined ? "–" : v.toFixed(4),
  }, (opts.series || [])[i] || {})));
  // A series on scale "r" (the regulariser, often far larger than the losses) gets its own axis on the right.
  const right = series.some((s) => s.scale === "r");
  const u = new uPlot({
    width: opts.width || 420, height: opts.height || 240, series, bands: opts.bands || [],
    scales: { x: { time: false } }, legend: { live: true },
    axes: [{ label: "epoch", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500] }, { size: 60 }]
      .concat(right ? [{ scale: "r", side: 1, size: 60, grid: { show: false } }] : []),
    hooks: { setSelect: [(u) => { if (u.select.width > 0) zoomed = true; }] },
  }, [[]].concat(seriesLabels.map(() => [])), box);
  u.over.addEventListener("dblclick", () => { zoomed = false; });
  return {
    el: box,
    set(data) {
      u.setData(data, !zoomed);
      box.setAttribute("data-points", String(data[0].length));
    },
  };
}

// ---- sign-in --------------------------------------------------------------------------------------------------

function signIn(message) {
  stop();
  const input = el("input", { type: "password", id: "token", placeholder: "your ctrlab token",
    autocomplete: "off" });
  const form = el("form", { class: "signin", onsubmit: (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    me = null;
    route();
  } }, el("h1", {}, "Sign in"),
    el("p", {}, "This server needs a token: the one ", el("code", {}, "ctrlab"), " uses (",
      el("code", {}, "ctrlab-server token add USER"), " made it). It is kept in this tab only."),
    input, el("button", { type: "submit", id: "signin" }, "Sign in"),
    message ? el("p", { class: "error" }, message) : null);
  fill(main, form);
  input.focus();
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  me = null;
  fill(document.getElementById("who"));
  if (location.hash !== "#/runs") location.hash = "#/runs"; // routes on hashchange
  else route();
}

// ---- runs table -----------------------------------------------------------------------------------------------

const LABELS = { run_id: "run", rating_weight: "λr", queue_position: "queue", best_epoch: "best ep.",
  valid_auc: "valid AUC", test_auc: "test AUC", test_logloss: "test LogLoss", seconds_per_epoch: "s/epoch",
  created_ms: "created", started_ms: "started", finished_ms: "finished" };
const NUMERIC = new Set(["rating_weight", "seed", "queue_position", "epochs", "best_epoch", "valid_auc", "test_auc",
  "test_logloss", "seconds_per_epoch", "attempt"]);
const FILTERS = ["owner", "state", "tag", "backbone", "head", "dataset", "study", "q"];

function cell(col, v) {
  if (col === "run_id") return el("td", {}, runLink(v));
  if (col === "study") return el("td", {}, v ? el("a", { href: "#/study/" + v }, v) : "");
  if (col === "state") return el("td", {}, stateTag(v));
  if (col.endsWith("_ms")) return el("td", {}, when(v));
  if (col === "valid_auc" || col === "test_auc" || col === "test_logloss") return el("td", { class: "num" }, num(v));
  if (col === "seconds_per_epoch") return el("td", { class: "num" }, num(v, 2));
  if (col === "tags") return el("td", {}, (v || []).join(", "));
  if (NUMERIC.has(col)) return el("td", { class: "num" }, v === null ? "–" : v);
  return el("td", { title: v || "" }, v === null ? "–" : String(v).slice(0, 60));
}

async function runsView(mine) {
  const show = view(mine);
  const q = hashQuery();
  const params = new URLSearchParams();
  for (const f of FILTERS.concat(["sort", "order", "offset", "limit"])) if (q.get(f)) params.set(f, q.get(f));
  const hideShared = q.get("all_columns") !== "1";
  const selected = new Set((q.get("selected") || "").split(",").filter(Boolean));

  const go = (changes) => {
    const n = new URLSearchParams(q);
    for (const [k, v] of Object.entries(changes)) { if (v === "" || v === null) n.delete(k); else n.set(k, v); }
    location.hash = "#/runs?" + n.toString();
  };

  const inputs = {};
  const filterBar = el("form", { class: "filters", onsubmit: (ev) => {
    ev.preventDefault();
    const ch = { offset: "" };
    for (const f of FILTERS) ch[f] = inputs[f].value.trim();
    go(ch);
  } });
  for (const f of FILTERS) {
    let input;
    if (f === "state") {
      input = el("select", { name: f }, ["", "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]
        .map((s) => el("option", { value: s, selected: (q.get(f) || "") === s }, s || "any")));
    } else if (f === "head") {
      input = el("select", { name: f }, ["", "BINARY", "RATING"]
        .map((s) => el("option", { value: s, selected: (q.get(f) || "") === s }, s || "any")));
    } else {
      input = el("input", { name: f, value: q.get(f) || "", placeholder: f === "q" ? "id, name, tag…" : "",
        size: f === "q" ? 18 : 10 });
    }
    inputs[f] = input;
    filterBar.append(el("label", {}, f === "q" ? "search" : f, input));
  }
  filterBar.append(el("button", { type: "submit", id: "apply" }, "Apply"));
  filterBar.append(el("button", { type: "button", onclick: () => location.hash = "#/runs" }, "Clear"));

  const data = await api("runs?" + params.toString());
  const shown = data.columns.filter((c) => !(hideShared && c in data.shared));
  const sort = q.get("sort") || "created_ms";
  const asc = q.get("order") === "asc";

  const head = el("tr", {}, el("th", {}, ""), shown.map((c) => el("th", {
    class: "sortable" + (c === sort ? " sorted" + (asc ? " asc" : "") : "") + (NUMERIC.has(c) ? " num" : ""),
    "data-col": c, onclick: () => go({ sort: c, order: c === sort && !asc ? "asc" : "", offset: "" }),
  }, LABELS[c] || c)));
  const body = el("tbody", {}, data.rows.map((r) => el("tr", { "data-run": r.run_id },
    el("td", {}, el("input", { type: "checkbox", checked: selected.has(r.run_id), onchange: (ev) => {
      if (ev.target.checked) selected.add(r.run_id); else selected.delete(r.run_id);
      compareBtn.disabled = selected.size < 1;
      compareBtn.textContent = "Compare " + selected.size;
    } })),
    shown.map((c) => cell(c, r[c])))));
  const compareBtn = el("button", { id: "compare", disabled: selected.size < 1,
    onclick: () => { location.hash = "#/compare/" + [...selected].join(","); } }, "Compare " + selected.size);

  const offset = data.offset;
  const limit = Math.min(Number(q.get("limit") || 100), 1000); // the server's largest page
  const exportAs = async (format) => {
    const p = new URLSearchParams(params);
    p.delete("offset"); p.delete("limit"); p.set("format", format);
    const text = await api("runs?" + p.toString());
    download("ctrlab-runs." + format, format === "csv" ? "text/csv" : "application/json",
      format === "csv" ? text : JSON.stringify(text.rows, null, 1));
  };
  const sharedNames = Object.keys(data.shared);
  show(
    el("h1", {}, "Runs"), filterBar,
    el("div", { class: "bar" },
      el("span", { id: "total" }, data.total === 0 ? "no runs" : `${offset + 1}–${offset + data.rows.length} of `
        + data.total.toLocaleString("en") + " runs"),
      el("button", { disabled: offset === 0, onclick: () => go({ offset: Math.max(0, offset - limit) }) }, "‹ prev"),
      el("button", { disabled: offset + data.rows.length >= data.total,
        onclick: () => go({ offset: offset + limit }) }, "next ›"),
      el("label", {}, el("input", { type: "checkbox", id: "hide-shared", checked: hideShared,
        onchange: (ev) => go({ all_columns: ev.target.checked ? "" : "1" }) }), " hide columns all runs share"),
      compareBtn,
      el("button", { onclick: () => exportAs("csv") }, "Export CSV"),
      el("button", { onclick: () => exportAs("json") }, "Export JSON")),
    hideShared && sharedNames.length ? el("div", { class: "shared", id: "shared" }, "All " + data.total
      + " share: " + sharedNames.filter((c) => data.shared[c] !== null && data.shared[c] !== "")
        .map((c) => (LABELS[c] || c) + " = " + (c.endsWith("_ms") ? when(data.shared[c]) : data.shared[c]))
        .join(" · ")) : null,
    el("div", { class: "table-wrap" }, el("table", { id: "runs" }, el("thead", {}, head), body)));
}

// ---- one run, live --------------------------------------------------------------------------------------------

async function runView(id, mine) {
  const show = view(mine);
  const first = await api("runs/" + id);
  const run = first.run;
  const rating = run.resolved.head === "RATING";
  // The backbones with a regulariser R (METHOD.md); a stored epoch says so too.
  const withReg = (run.epochs || []).some((e) => e.regularizer !== undefined)
    || ["DCNV2", "xDeepFM", "EulerNet"].includes(run.resolved.backbone);
  // With a regulariser, the objective (which includes it) and R are far larger than BCE and CE: both go on the
  // right-hand axis, so the data losses stay readable on the left.
  const lossLabels = [withReg ? "objective (right)" : "objective", "BCE"].concat(rating ? ["CE"] : [])
    .concat(withReg ? ["regulariser (right)"] : []);
  const lossChart = chart("Training loss", lossLabels, { series: lossLabels.map((l) => l.endsWith("(right)")
    ? { scale: "r" } : {}) });
  const aucChart = chart("Validation AUC", ["valid AUC"]);
  const llChart = chart("Validation LogLoss", ["valid LogLoss"]);
  const cols = { x: [], loss: [], bce: [], ce: [], reg: [], auc: [], ll: [] };
  let last = 0;
  const add = (epochs) => {
    for (const e of epochs) {
      cols.x.push(e.epoch); cols.loss.push(val(e.train_loss)); cols.bce.push(val(e.bce_loss));
      cols.ce.push(val(e.ce_loss)); cols.reg.push(val(e.regularizer));
      cols.auc.push(val(e.valid_auc)); cols.ll.push(val(e.valid_logloss));
      last = Math.max(last, e.epoch);
    }
    const lossData = [cols.x, cols.loss, cols.bce].concat(rating ? [cols.ce] : []).concat(withReg ? [cols.reg] : []);
    lossChart.set(lossData);
    aucChart.set([cols.x, cols.auc]);
    llChart.set([cols.x, cols.ll]);
  };

  const status = el("div", { class: "bar", id: "status" });
  const setStatus = (state, progress, position, message) => {
    fill(status, stateTag(state),
      state === "QUEUED" ? el("span", {}, position === 0 ? "starts next" : position + " run(s) start before it") : null,
      progress ? el("span", {}, `epoch ${progress.epoch}, batch ${progress.batch}/${progress.batches} `,
        el("span", { class: "progress" }, el("span", { style: `width:${Math.round(100 * progress.batch
          / Math.max(1, progress.batches))}%` }))) : null,
      message ? el("span", { class: "muted" }, message) : null);
  };
  setStatus(run.state, first.progress, run.queue_position || 0, run.message);

  const r = run.resolved;
  const facts = el("dl", { class: "kv" },
    ...[["owner", run.owner], ["name", run.request.name || "–"], ["tags", (run.request.tags || []).join(", ") || "–"],
      ["dataset", r.dataset], ["backbone", r.backbone], ["head", r.head || "BINARY"],
      ["λr", rating ? r.rating_weight : "–"], ["seed", r.seed], ["created", when(run.created_unix_ms)],
      ["started", when(run.started_unix_ms)], ["finished", when(run.finished_unix_ms)],
      ["worker", run.worker || "–"], ["attempt", run.attempt || 0], ["device", run.device || "–"],
      ...(run.job_id ? [["cluster job", run.job_id + (run.state === "RUNNING" && run.job_state ? " ("
        + run.job_state + ")" : "")]] : []),
      ...(run.queued_seconds ? [["in the cluster's queue", span(run.queued_seconds) + ", not counted against its"
        + " limit"]] : []),
      ["parameters", run.parameters ? Number(run.parameters).toLocaleString("en") : "–"],
      ["s/epoch", num(run.seconds_per_epoch, 2)], ["best epoch", run.best_epoch || "–"],
      ["valid AUC (best)", num(run.valid && run.valid.auc)], ["test AUC", num(run.test && run.test.auc)],
      ["test LogLoss", num(run.test && run.test.logloss)]]
      .flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-key": k }, v)]));
  const params = el("table", {}, el("tbody", {}, Object.entries(first.params)
    .map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v)))));
  const events = el("div", { class: "events", id: "events" });
  let nextEvent = 0;
  const loadEvents = async () => {
    const ev = await api(`runs/${id}/events?from=${nextEvent}&limit=500`);
    for (const e of ev.events) {
      nextEvent = Number(e.index) + 1;
      const what = e.state ? "state " + e.state.state + (e.state.message ? ": " + e.state.message : "")
        : e.epoch ? `epoch ${e.epoch.epoch}: valid AUC ${num(e.epoch.valid_auc)}, LogLoss ${num(e.epoch.valid_logloss)}`
          + (e.epoch.best ? " (best)" : "") : e.log || "";
      events.append(el("div", {}, when(e.unix_ms) + "  " + what));
    }
  };
  const norms = el("div", { id: "norms" }, el("button", { onclick: async () => {
    try {
      const n = await api(`runs/${id}/norms`);
      const groups = Object.keys(n.weight_norms || {});
      fill(norms, 
        el("p", {}, "Weight L2 norms of the best checkpoint: ", groups.map((g) => g + " " + num(n.weight_norms[g]))
          .join(" · ")),
        el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "epoch"),
          (n.epochs[0] ? n.epochs[0].gradient : []).map((g) => el("th", { class: "num" }, "‖∇" + g.group + "‖ mean / max")))),
        el("tbody", {}, n.epochs.map((e) => el("tr", {}, el("td", {}, e.epoch), e.gradient.map((g) =>
          el("td", { class: "num" }, num(g.mean, 3) + " / " + num(g.max, 3))))))));
    } catch (e) { norms.append(el("p", { class: "error" }, e.message)); }
  } }, "Show gradient and weight norms"));

  show(
    el("h1", {}, "Run ", el("code", {}, id), run.request.name ? " · " + run.request.name : ""), status,
    el("div", { class: "charts", id: "charts" }, lossChart.el, aucChart.el, llChart.el),
    el("div", { class: "charts" }, el("div", {}, el("h2", {}, "Run"), facts),
      el("div", {}, el("h2", {}, "Hyperparameters"), params)),
    el("h2", {}, "Norms"), norms,
    el("h2", {}, "Events"), events);
  add(run.epochs || []);
  await loadEvents();

  if (run.state === "QUEUED" || run.state === "RUNNING") {
    every(POLL_MS, async () => {
      const u = await api(`runs/${id}/epochs?after=${last}`);
      if (u.epochs.length) add(u.epochs);
      setStatus(u.state, u.progress, u.queue_position, u.message);
      await loadEvents();
      if (u.state !== "QUEUED" && u.state !== "RUNNING" && mine === gen) {
        route(); // the final record: test metrics, times
      }
    }, mine);
  }
}

// ---- compare --------------------------------------------------------------------------------------------------

async function compareView(ids, mine) {
  const show = view(mine);
  const c = await api("compare?ids=" + encodeURIComponent(ids));
  const labels = c.runs.map((r) => r.run_id + " " + r.row.head + (r.row.rating_weight !== null ? " λr="
    + r.row.rating_weight : "") + " s" + r.row.seed);
  const xs = [...new Set(c.runs.flatMap((r) => r.epochs.map((e) => e.epoch)))].sort((a, b) => a - b);
  const column = (r, f) => xs.map((x) => { const e = r.epochs.find((e) => e.epoch === x); return e ? val(e[f]) : null; });
  const auc = chart("Validation AUC", labels, { width: 620 });
  const ll = chart("Validation LogLoss", labels, { width: 620 });
  const loss = chart("Training BCE", labels, { width: 620 });
  const diff = Object.entries(c.differing);
  show(el("h1", {}, "Compare " + c.runs.length + " runs"),
    el("div", { class: "charts" }, auc.el, ll.el, loss.el),
    el("h2", {}, diff.length ? "Settings that differ" : "No setting differs"),
    el("table", { id: "differing" },
      el("thead", {}, el("tr", {}, el("th", {}, ""), c.runs.map((r) => el("th", {}, runLink(r.run_id))))),
      el("tbody", {}, diff.map(([k, vs]) => el("tr", {}, el("td", {}, k), vs.map((v) => el("td", {}, v ?? "–")))),
        el("tr", {}, el("td", {}, "test AUC"), c.runs.map((r) => el("td", { class: "num" }, num(r.row.test_auc)))),
        el("tr", {}, el("td", {}, "best valid AUC"), c.runs.map((r) => el("td", { class: "num" }, num(r.row.valid_auc)))),
        el("tr", {}, el("td", {}, "state"), c.runs.map((r) => el("td", {}, stateTag(r.row.state)))))));
  auc.set([xs].concat(c.runs.map((r) => column(r, "valid_auc"))));
  ll.set([xs].concat(c.runs.map((r) => column(r, "valid_logloss"))));
  loss.set([xs].concat(c.runs.map((r) => column(r, "bce_loss"))));
}

// ---- studies --------------------------------------------------------------------------------------------------

async function studiesView(mine) {
  const show = view(mine);
  const s = await api("studies?limit=200");
  show(el("h1", {}, "Studies"), s.studies.length === 0 ? el("p", { class: "muted" },
    "No studies yet: ctrlab study start, or ctrlab reproduce.") : el("table", { id: "studies" },
    el("thead", {}, el("tr", {}, ["study", "name", "owner", "dataset", "backbones", "runs", "created"]
      .map((h) => el("th", {}, h)))),
    el("tbody", {}, s.studies.map((x) => el("tr", {},
      el("td", {}, el("a", { href: "#/study/" + x.study_id }, x.study_id)), el("td", {}, x.name),
      el("td", {}, x.owner), el("td", {}, x.request.dataset || "–"),
      el("td", {}, (x.request.backbones || []).join(", ")), el("td", { class: "num" }, x.runs),
      el("td", {}, when(x.created_unix_ms)))))));
}

async function studyView(id, mine) {
  const show = view(mine);
  const d = await api("studies/" + id);
  const st = d.study;
  const rows = el("table", { id: "study-rows" },
    el("thead", {}, el("tr", {}, ["backbone", "head", "λr", "runs", "finished", "test AUC mean ± std",
      "test LogLoss mean ± std", "s/epoch", "epochs"].map((h) => el("th", {}, h)))),
    el("tbody", {}, (st.rows || []).map((r) => el("tr", {}, el("td", {}, r.backbone), el("td", {}, r.head),
      el("td", { class: "num" }, r.head === "RATING" ? r.rating_weight : "–"), el("td", { class: "num" }, r.runs || 0),
      el("td", { class: "num" }, r.finished || 0),
      el("td", { class: "num" }, num(r.auc_mean) + " ± " + num(r.auc_std)),
      el("td", { class: "num" }, num(r.logloss_mean) + " ± " + num(r.logloss_std)),
      el("td", { class: "num" }, num(r.seconds_per_epoch, 2)), el("td", { class: "num" }, num(r.epochs_mean, 1))))));
  const comps = el("table", { id: "study-comparisons" },
    el("thead", {}, el("tr", {}, ["backbone", "λr", "seed pairs", "RATING − BINARY test AUC", "95% CI"]
      .map((h) => el("th", {}, h)))),
    el("tbody", {}, (st.comparisons || []).map((c) => el("tr", {}, el("td", {}, c.backbone),
      el("td", { class: "num" }, c.rating_weight), el("td", { class: "num" }, c.pairs),
      el("td", { class: "num" }, num(c.delta_auc_mean)),
      el("td", { class: "num" }, "[" + num(c.ci95_low) + ", " + num(c.ci95_high) + "]")))));
  // Curves: per backbone, each cell's mean valid AUC over seeds with a ±1 std band.
  const charts = el("div", { class: "charts", id: "study-curves" });
  const byBackbone = {};
  for (const c of d.curves) (byBackbone[c.backbone] = byBackbone[c.backbone] || []).push(c);
  for (const [bb, cells] of Object.entries(byBackbone)) {
    const xs = [...new Set(cells.flatMap((c) => c.points.map((p) => p.epoch)))].sort((a, b) => a - b);
    const labels = [], series = [], data = [xs], bands = [];
    cells.forEach((c, i) => {
      const name = c.head + (c.head === "RATING" ? " λr=" + c.rating_weight : "");
      const at = (f) => xs.map((x) => { const p = c.points.find((p) => p.epoch === x); return p ? p[f] : null; });
      const m = at("valid_auc_mean"), s = at("valid_auc_std");
      const color = COLORS[i % COLORS.length];
      labels.push(name + " mean", name + " −std", name + " +std");
      series.push({ stroke: color }, { stroke: color + "55", width: 0.5, points: { show: false } },
        { stroke: color + "55", width: 0.5, points: { show: false } });
      data.push(m, m.map((v, j) => v === null || s[j] === null ? null : v - s[j]),
        m.map((v, j) => v === null || s[j] === null ? null : v + s[j]));
      const base = 1 + 3 * i;
      bands.push({ series: [base + 2, base + 1], fill: color + "22" });
    });
    const ch = chart(bb + ": validation AUC, mean ± std over seeds", labels, { series, bands, width: 620 });
    charts.append(ch.el);
    ch.set(data);
  }
  show(el("h1", {}, "Study ", el("code", {}, st.study_id), " · " + st.name),
    el("div", { class: "bar" }, el("span", {}, "owner " + st.owner), el("span", {}, (st.run_ids || []).length + " runs"),
      el("span", {}, st.finished ? "finished" : "in progress"),
      el("a", { href: "#/runs?study=" + st.study_id }, "its runs")),
    el("h2", {}, "Rows: test metrics over seeds"), rows,
    el("h2", {}, "Paired by seed: RATING − BINARY test AUC (the server's Student-t interval)"), comps,
    el("h2", {}, "Curves"), charts);
  if (!st.finished) every(5000, async () => { if (mine === gen) route(); }, mine);
}

// ---- the box --------------------------------------------------------------------------------------------------

async function boxView(mine) {
  const show = view(mine);
  const render = (b) => {
    show(el("h1", {}, "The box"),
      el("dl", { class: "kv", id: "box" }, ...[["device", b.device], ["ctrlab", b.version],
        ["TensorFlow", b.tensorflow + (b.onednn ? " (oneDNN)" : "")], ["bf16", b.bf16 || "no (float32 only)"],
        ["slots in use", b.busy + " of " + b.slots],
        ["visibility", b.visibility], ["you", b.user + (b.admin ? " (admin)" : "")]]
        .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])),
      el("h2", {}, "Running"),
      el("table", { id: "running" }, el("thead", {}, el("tr", {}, ["run", "owner", "backbone", "head", "dataset",
        "epoch", "batch", "worker", "attempt", "started"].map((h) => el("th", {}, h)))),
      el("tbody", {}, b.running.map((s) => el("tr", {}, el("td", {}, runLink(s.run_id)), el("td", {}, s.owner),
        el("td", {}, s.backbone), el("td", {}, s.head), el("td", {}, s.dataset),
        el("td", { class: "num" }, s.epoch + " / " + s.max_epochs),
        el("td", {}, s.batches ? el("span", { class: "progress" }, el("span", { style: `width:${Math.round(100
          * s.batch / s.batches)}%` })) : "–"),
        el("td", {}, s.worker + (s.job_state ? " (" + s.job_state + ")" : "")), el("td", { class: "num" }, s.attempt),
        el("td", {}, when(s.started_ms)))))),
      b.running.length === 0 && !b.hidden_running ? el("p", { class: "muted" }, "No run is training.") : null,
      b.hidden_running ? el("p", { class: "muted" }, b.hidden_running + " run(s) of other users") : null,
      el("h2", {}, "Queue, in the order the fair scheduler starts it"),
      el("table", { id: "queue" }, el("thead", {}, el("tr", {}, ["#", "run", "owner", "name", "backbone", "head",
        "queued"].map((h) => el("th", {}, h)))),
      el("tbody", {}, b.queue.map((e) => el("tr", {}, el("td", { class: "num" }, e.position + 1),
        el("td", {}, runLink(e.run_id)), el("td", {}, e.owner), el("td", {}, e.name), el("td", {}, e.backbone),
        el("td", {}, e.head), el("td", {}, when(e.created_ms)))))),
      b.queue.length === 0 && !b.hidden_queued ? el("p", { class: "muted" }, "Nothing is queued.") : null,
      b.hidden_queued ? el("p", { class: "muted" }, b.hidden_queued + " queued run(s) of other users") : null);
  };
  render(await api("box"));
  every(BOX_POLL_MS, async () => render(await api("box")), mine);
}

// ---- routing --------------------------------------------------------------------------------------------------

function stop() {
  timers.forEach(clearTimeout);
  timers = [];
  gen++;
}

async function route() {
  stop();
  const mine = gen;
  const h = location.hash.slice(1) || "/runs";
  const path = h.split("?")[0].split("/").filter(Boolean);
  document.querySelectorAll("header nav a").forEach((a) => a.classList.toggle("active",
    a.dataset.nav === (path[0] === "run" || path[0] === "compare" ? "runs" : path[0] === "study" ? "studies" : path[0])));
  try {
    if (!me) {
      me = await api("me");
      fill(document.getElementById("who"), me.user + (me.admin ? " (admin)" : ""),
        me.auth_required ? el("button", { style: "margin-left:8px", onclick: signOut }, "Sign out") : "");
    }
    if (mine !== gen) return;
    if (path[0] === "run" && path[1]) await runView(path[1], mine);
    else if (path[0] === "compare" && path[1]) await compareView(path[1], mine);
    else if (path[0] === "studies") await studiesView(mine);
    else if (path[0] === "study" && path[1]) await studyView(path[1], mine);
    else if (path[0] === "box") await boxView(mine);
    else await runsView(mine);
  } catch (e) {
    if (mine !== gen) return; // another view has started since
    if (e instanceof Unauthorized) {
      signIn(sessionStorage.getItem(TOKEN_KEY) ? "That token was refused: " + e.message : null);
    } else {
      fill(main, el("p", { class: "error", id: "error" }, e.message));
    }
  }
}

window.addEventListener("hashchange", route);
route();
