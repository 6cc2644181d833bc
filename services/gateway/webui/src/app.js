// pdfqa's web UI: collections and uploads, streamed cited answers, the
// citation viewer, run history, fine-tune jobs and the mesh's status. Plain
// modules over the REST API; routes live in the URL's hash.
import { allChunks, apiKey, call, paths, stream, upload } from "./api.js";
import { enumName, h } from "./dom.js";

const main = document.getElementById("main");
const viewerEl = document.getElementById("viewer");
let leave = () => {}; // stops the current view's timers and streams

function toast(msg) {
  const t = document.getElementById("toast");
  t.textContent = msg;
  setTimeout(() => { if (t.textContent === msg) t.textContent = ""; }, 4000);
}

function page(title, ...children) {
  const h1 = h("h1", { tabindex: "-1" }, title);
  main.replaceChildren(h1, ...children);
  document.title = `${title} · pdfqa`;
  h1.focus({ preventScroll: true });
}

function fail(where, e) {
  return h("p", { class: "error", role: "alert" }, `${where}: ${e.message}`);
}

const card = (c) => (c ? [c.issuer, c.form_type, c.fiscal_period || c.period].filter(Boolean).join(" · ") : "");
const when = (t) => (t ? new Date(t).toLocaleString() : "");

// The viewer module (with PDF.js) loads on first use.
let viewerMod = null;
async function openViewer(items, index) {
  viewerMod = viewerMod || import("./viewer.js");
  const m = await viewerMod;
  return m.openViewer(viewerEl, items, index);
}

// ---- collections

async function collectionsView() {
  const list = h("div", { class: "table-wrap" }, h("p", {}, "Loading…"));
  const name = h("input", { id: "new-coll", name: "name", required: true, pattern: "[A-Za-z0-9._-]+", placeholder: "e.g. filings" });
  const form = h("form", { class: "row", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await call("POST", paths.collections(), { name: name.value });
      location.hash = "#/c/" + encodeURIComponent(name.value);
    } catch (err) { toast(err.message); }
  } }, h("label", { for: "new-coll" }, "New collection", name), h("button", { type: "submit" }, "Create"));
  page("Collections", form, list);
  try {
    const r = await call("GET", paths.collections());
    const cs = r.collections || [];
    list.replaceChildren(cs.length === 0 ? h("p", { class: "muted" }, "No collections yet: create one, then add PDFs.") :
      h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Documents"), h("th", {}, "Chunks"), h("th", { class: "hide-narrow" }, "Created"), h("th", {}, h("span", { class: "muted" }, "Actions")))),
        h("tbody", {}, cs.map((c) => h("tr", {},
          h("td", {}, h("a", { href: "#/c/" + encodeURIComponent(c.name) }, c.name)),
          h("td", {}, String(c.document_count || 0)), h("td", {}, String(c.chunk_count || 0)),
          h("td", { class: "hide-narrow" }, when(c.create_time)),
          h("td", {}, h("a", { href: "#/ask?collection=" + encodeURIComponent(c.name) }, "Ask"), " ",
            h("button", { type: "button", class: "danger", "aria-label": `Delete collection ${c.name}`, onclick: async () => {
              if (!confirm(`Delete collection ${c.name} and its documents?`)) return;
              try { await call("DELETE", paths.collection(c.name)); collectionsView(); } catch (err) { toast(err.message); }
            } }, "Delete")))))));
  } catch (e) { list.replaceChildren(fail("Could not list collections", e)); }
}

const STAGES = ["STORE", "PARSE", "OCR", "CHUNK", "EMBED", "INDEX"];

// uploadOne sends a file and follows its ingestion in li until READY or FAILED.
async function uploadOne(coll, file, li, bar, status, msg) {
  const set = (st, text, cls) => {
    li.dataset.state = st;
    status.textContent = st;
    status.className = "state-" + st;
    if (text !== undefined) { msg.textContent = text; msg.className = "msg " + (cls || "muted"); }
  };
  try {
    set("UPLOADING", "uploading…");
    const r = await upload(coll, file, (f) => { bar.value = 10 * f; msg.textContent = `uploading ${Math.round(100 * f)}%`; });
    const d = r.document || {};
    li.dataset.id = d.id;
    let st = enumName(d.state, "DOCUMENT_STATE_");
    if (r.duplicate) msg.textContent = "already in the collection";
    if (st !== "READY" && st !== "FAILED") {
      await stream("GET", paths.watch(coll, d.id), undefined, (ev) => {
        const stage = enumName(ev.stage, "INGESTION_STAGE_");
        st = enumName(ev.state, "DOCUMENT_STATE_");
        const k = STAGES.indexOf(stage);
        const part = ev.total ? (ev.done || 0) / ev.total : 0;
        if (k >= 0) bar.value = 10 + 90 * (k + part) / STAGES.length;
        if (st === "FAILED") set("FAILED", ev.message || "ingestion failed", "error");
        else set(st, `${stage.toLowerCase()}${ev.total ? ` ${ev.done || 0}/${ev.total}` : ""}${ev.message ? ": " + ev.message : ""}`);
      });
      if (st !== "READY" && st !== "FAILED") {
        const g = await call("GET", paths.document(coll, d.id));
        st = enumName(g.document.state, "DOCUMENT_STATE_");
        d.error = g.document.error;
      }
    }
    if (st === "FAILED") { set("FAILED", msg.textContent && li.dataset.state === "FAILED" ? msg.textContent : d.error || "ingestion failed", "error"); return; }
    bar.value = 100;
    set(st, r.duplicate ? "already in the collection" : "ready", "ok");
  } catch (e) {
    set("FAILED", e.message, "error");
  }
}

async function collectionView(coll) {
  const uploads = h("ul", { class: "uploads", "aria-label": "Uploads" });
  const docs = h("div", { class: "table-wrap", "aria-live": "polite" });
  const chunks = h("section", { "aria-label": "Chunks" });
  const input = h("input", { id: "files", type: "file", accept: "application/pdf,.pdf", multiple: true });
  let refreshing = null;
  const refresh = () => (refreshing = refreshing || listDocs(coll, docs, chunks).finally(() => { refreshing = null; }));
  const add = (files) => {
    const queue = [...files];
    const run = async () => {
      for (let f; (f = queue.shift());) {
        const bar = h("progress", { max: 100, value: 0, "aria-label": `Progress of ${f.name}` });
        const status = h("span", {}, "QUEUED");
        const msg = h("span", { class: "msg muted" });
        const li = h("li", { "data-name": f.name, "data-state": "QUEUED" }, h("span", { class: "name", title: f.name }, f.name), status, bar, msg);
        uploads.append(li);
        await uploadOne(coll, f, li, bar, status, msg);
        refresh();
      }
    };
    Promise.all([run(), run(), run()]); // three at a time
  };
  input.addEventListener("change", () => { add(input.files); input.value = ""; });
  const drop = h("div", { class: "drop" },
    h("label", { for: "files" }, "Add PDFs: choose files or drop them here "), input);
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); add(e.dataTransfer.files); });
  page(`Collection ${coll}`, h("p", {}, h("a", { href: "#/ask?collection=" + encodeURIComponent(coll) }, "Ask this collection"), " · ", h("a", { href: "#/collections" }, "All collections")),
    drop, uploads, h("h2", {}, "Documents"), docs, chunks);
  const timer = setInterval(refresh, 5000); // refinement and other uploads
  leave = () => clearInterval(timer);
  await refresh();
}

async function listDocs(coll, el, chunksEl) {
  try {
    const r = await call("GET", paths.documents(coll));
    const ds = r.documents || [];
    el.replaceChildren(ds.length === 0 ? h("p", { class: "muted" }, "No documents yet.") :
      h("table", {}, h("thead", {}, h("tr", {}, ["Document", "State", "Pages", "Chunks", "Card", "Refinement", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, ds.map((d) => {
          const st = enumName(d.state, "DOCUMENT_STATE_");
          return h("tr", { "data-id": d.id },
            h("td", {}, d.name), h("td", {}, h("span", { class: "state-" + st }, st), d.error ? h("div", { class: "error" }, d.error) : ""),
            h("td", {}, String(d.page_count || "")), h("td", {}, String(d.chunk_count || "")),
            h("td", {}, card(d.card)),
            h("td", {}, d.refined_model ? `refined (${d.refined_model})` : st === "READY" ? "refining…" : ""),
            h("td", {}, st === "READY" ? h("button", { type: "button", "aria-label": `Chunks of ${d.name}`, onclick: () => showChunks(coll, d, chunksEl) }, "Chunks") : "", " ",
              h("button", { type: "button", class: "danger", "aria-label": `Delete ${d.name}`, onclick: async () => {
                if (!confirm(`Delete ${d.name}?`)) return;
                try { await call("DELETE", paths.document(coll, d.id)); listDocs(coll, el, chunksEl); } catch (err) { toast(err.message); }
              } }, "Delete")));
        }))));
  } catch (e) { el.replaceChildren(fail("Could not list documents", e)); }
}

async function showChunks(coll, d, el) {
  el.replaceChildren(h("h2", { id: "chunks-title", tabindex: "-1" }, `Chunks of ${d.name}`), h("p", {}, "Loading…"));
  el.firstChild.focus();
  try {
    const cs = (await allChunks(coll, d.id)).map((c) => ({ ...c, collection: coll }));
    const items = cs.map((c) => ({ ...c, label: `p.${c.page}${c.page_end > c.page ? "–" + c.page_end : ""}${c.heading ? " · " + c.heading : ""}` }));
    el.replaceChildren(el.firstChild, h("ol", { class: "chunks" }, items.map((c, i) => h("li", { "data-chunk-id": c.chunk_id },
      h("button", { type: "button", "aria-label": `Show chunk ${i + 1} (${c.label}) on its page`, onclick: () => openViewer(items, i) }, "Show"),
      h("p", {}, h("strong", {}, c.label + " "), (c.text || "").slice(0, 240))))));
  } catch (e) { el.replaceChildren(el.firstChild, fail("Could not list chunks", e)); }
}

// ---- answers

const norm = (s) => (s || "").toLowerCase().replace(/\s+/g, " ").trim();

// passageFor finds the passage a citation points at: one whose pages hold
// the cited page, preferring the one that contains the quote.
const chunkCache = new Map();
async function passageFor(coll, cit, known) {
  const onPage = (p) => p.document_id === cit.document_id && p.page <= cit.page && cit.page <= (p.page_end || p.page);
  let cands = known.filter(onPage);
  const q = norm(cit.quote);
  const best = (ps) => {
    const words = new Set(q.split(" ").filter((w) => w.length > 2));
    let top = null, topScore = -1;
    for (const p of ps) {
      const t = norm(p.text);
      let sc = q && t.includes(q) ? 1e6 : 0;
      for (const w of words) if (t.includes(w)) sc++;
      if (sc > topScore) { top = p; topScore = sc; }
    }
    return topScore >= 1e6 ? top : { p: top, weak: true };
  };
  let b = best(cands);
  if (b && !b.weak) return b;
  const k = coll + "/" + cit.document_id;
  if (!chunkCache.has(k)) chunkCache.set(k, allChunks(coll, cit.document_id).catch(() => []));
  const b2 = best((await chunkCache.get(k)).filter(onPage));
  if (b2 && !b2.weak) return b2;
  return (b && b.p) || (b2 && b2.p) || { document_id: cit.document_id, document_name: cit.document, page: cit.page, page_end: cit.page, boxes: [] };
}

async function citationItems(coll, cits, known) {
  return Promise.all(cits.map(async (c, i) => {
    const p = await passageFor(coll, c, known);
    return { ...p, collection: coll, document_name: c.document || p.document_name, quote: c.quote, label: `[${i + 1}] ${c.document} p.${c.page}`, cited_page: c.page };
  }));
}

// renderAnswer draws a run (streaming or finished) into el and returns an
// updater for later events.
function answerBlock(coll) {
  const text = h("div", { id: "answer", class: "answer", "aria-busy": "true", "data-state": "streaming" });
  const status = h("p", { class: "muted", role: "status" });
  const chips = h("ul", { class: "chips", "aria-label": "Citations" });
  const how = h("details", { class: "how" }, h("summary", {}, "How this answer was made"));
  const el = h("section", { "aria-labelledby": "answer-h" }, h("h2", { id: "answer-h" }, "Answer"), text, status, chips, how);
  const st = { answer: "", evidence: [], subs: new Map(), citations: [], plan: null, verification: null, run: null };
  const drawChips = async () => {
    const cits = st.citations;
    const items = await citationItems(coll, cits, st.evidence);
    chips.replaceChildren(...items.map((it, i) => h("li", {}, h("button", { type: "button", class: "cite", "data-chunk-id": it.chunk_id || "",
      "aria-label": `Open citation ${i + 1}: ${it.document_name}, page ${it.cited_page}`, onclick: () => openViewer(items, i) }, it.label))));
  };
  const drawHow = () => {
    const r = st.run || {};
    const v = st.verification || r.verification;
    const plan = st.plan || r.plan;
    const subs = [...st.subs.values()].length ? [...st.subs.values()] : r.sub_answers || [];
    const ev = st.evidence.length ? st.evidence : r.passages || [];
    how.replaceChildren(how.firstChild,
      plan ? h("div", {}, h("h3", {}, `Plan (${plan.source || "planner"})`), h("ol", {}, (plan.sub_questions || []).map((q) => {
        const sa = subs.find((s) => s.sub_question_id === q.id);
        return h("li", {}, q.question, sa ? h("span", { class: "badge" }, enumName(sa.status, "SUB_QUESTION_STATUS_")) : "", sa && sa.answer ? h("div", { class: "muted" }, sa.answer) : "");
      }))) : "",
      ev.length ? h("div", {}, h("h3", {}, "Evidence"), h("ol", {}, ev.map((p) => h("li", {}, `${p.document_name} p.${p.page}${p.page_end > p.page ? "–" + p.page_end : ""} `,
        h("span", { class: "muted" }, p.score ? `score ${Number(p.score).toFixed(3)}` : ""))))) : "",
      v ? h("div", {}, h("h3", {}, `Verification: support ${Math.round(100 * (v.support_score || 0))}%`), h("ul", {}, (v.claims || []).map((c) =>
        h("li", {}, h("span", { class: "badge" }, enumName(c.verdict, "VERDICT_")), " ", c.claim)))) : "",
      r.timings ? h("div", {}, h("h3", {}, "Stage timings"), h("ul", {}, r.timings.map((t) => h("li", {}, `${t.stage}: ${Math.round(t.ms)} ms`)))) : "",
      h("p", {}, r.degraded ? h("strong", { class: "error" }, "Degraded: a stage fell back to a simpler method.") : "Not degraded."));
  };
  const on = (m) => {
    if (m.plan) st.plan = m.plan;
    if (m.sub_answer) {
      st.subs.set(m.sub_answer.sub_question_id, m.sub_answer);
      status.textContent = `sub-question ${m.sub_answer.sub_question_id}: ${enumName(m.sub_answer.status, "SUB_QUESTION_STATUS_").toLowerCase()}`;
    }
    if (m.evidence && m.evidence.passage) st.evidence.push({ ...m.evidence.passage, collection: coll });
    if (m.answer_delta) {
      st.answer += m.answer_delta;
      text.textContent = st.answer;
      status.textContent = "writing…";
    }
    if (m.citations) { st.citations = m.citations.citations || []; drawChips(); }
    if (m.verification) st.verification = m.verification;
    if (m.run) {
      st.run = m.run;
      if (m.run.answer) text.textContent = st.answer = m.run.answer;
      for (const p of m.run.passages || []) st.evidence.push({ ...p, collection: coll });
      for (const sa of m.run.sub_answers || []) for (const e of sa.evidence || []) if (e.passage) st.evidence.push({ ...e.passage, collection: coll });
      if (m.run.citations) st.citations = m.run.citations;
      drawChips();
      const rs = enumName(m.run.status, "RUN_STATUS_");
      status.textContent = rs === "SUCCEEDED" ? "" : rs.toLowerCase() + (m.run.error ? ": " + m.run.error : "");
      if (m.run.id) status.append(h("a", { href: "#/runs/" + encodeURIComponent(m.run.id) }, "Permalink to this run"));
    }
    drawHow();
  };
  const done = (err) => {
    text.setAttribute("aria-busy", "false");
    text.dataset.state = err ? "failed" : "done";
    if (err) status.replaceChildren(fail("Ask failed", err));
  };
  return { el, on, done };
}

async function askView(params) {
  const coll = h("select", { id: "ask-coll", required: true });
  const q = h("textarea", { id: "question", required: true, placeholder: "What was product revenue growth in the quarter?" });
  const mode = h("select", { id: "ask-mode" }, h("option", { value: "ASK_MODE_AGENTIC" }, "Agentic (plan, verify)"), h("option", { value: "ASK_MODE_SINGLE_SHOT" }, "Single shot (faster)"));
  const btn = h("button", { type: "submit" }, "Ask");
  const out = h("div");
  let ctl = null;
  leave = () => ctl && ctl.abort();
  const form = h("form", { onsubmit: async (e) => {
    e.preventDefault();
    if (ctl) ctl.abort();
    ctl = new AbortController();
    const b = answerBlock(coll.value);
    out.replaceChildren(b.el);
    btn.disabled = true;
    try {
      await stream("POST", "/v1/ask", { collection: coll.value, question: q.value, mode: mode.value }, b.on, ctl.signal);
      b.done();
    } catch (err) { if (err.name !== "AbortError") b.done(err); }
    btn.disabled = false;
  } }, h("div", { class: "row" }, h("label", { for: "ask-coll" }, "Collection "), coll, " ", h("label", { for: "ask-mode" }, "Mode "), mode),
  h("p", {}, h("label", { for: "question" }, "Question"), q), btn);
  page("Ask", form, out);
  try {
    const cs = (await call("GET", paths.collections())).collections || [];
    coll.replaceChildren(...cs.map((c) => h("option", { value: c.name, selected: c.name === params.get("collection") }, c.name)));
    if (!cs.length) out.replaceChildren(h("p", {}, "No collections yet: ", h("a", { href: "#/collections" }, "create one"), "."));
  } catch (e) { out.replaceChildren(fail("Could not list collections", e)); }
}

// ---- runs

async function runsView() {
  const el = h("div", { class: "table-wrap" }, h("p", {}, "Loading…"));
  page("Runs", el);
  try {
    const rs = (await call("GET", "/v1/runs?limit=100")).runs || [];
    el.replaceChildren(rs.length === 0 ? h("p", { class: "muted" }, "No runs yet.") :
      h("table", {}, h("thead", {}, h("tr", {}, ["Asked", "Question", "Collection", "Mode", "Status"].map((t) => h("th", {}, t)))),
        h("tbody", {}, rs.map((r) => h("tr", {}, h("td", {}, when(r.create_time)),
          h("td", {}, h("a", { href: "#/runs/" + encodeURIComponent(r.id) }, r.question)), h("td", {}, r.collection),
          h("td", {}, enumName(r.mode, "ASK_MODE_").toLowerCase()), h("td", {}, enumName(r.status, "RUN_STATUS_")))))));
  } catch (e) { el.replaceChildren(fail("Could not list runs", e)); }
}

async function runView(id) {
  page("Run");
  try {
    const r = (await call("GET", "/v1/runs/" + encodeURIComponent(id))).run;
    const b = answerBlock(r.collection);
    page(`Run: ${r.question}`, h("p", { class: "muted" }, `${r.collection} · ${when(r.create_time)} · `, h("a", { href: "#/runs" }, "All runs")), b.el);
    b.on({ run: r });
    b.done();
  } catch (e) { main.append(fail("Could not load the run", e)); }
}

// ---- fine-tune

const fmt = (x) => (x === undefined ? "–" : Number(x).toFixed(3));

async function finetuneView() {
  const jobs = h("div", { class: "table-wrap" });
  const dsSel = h("select", { id: "ft-ds", required: true });
  const steps = h("input", { id: "ft-steps", type: "number", min: 1, value: 30 });
  const coll = h("select", { id: "ft-coll", required: true });
  const streams = [];
  leave = () => streams.forEach((c) => c.abort());
  const build = h("form", { class: "row", onsubmit: async (e) => {
    e.preventDefault();
    try { await call("POST", "/v1/datasets", { collection: coll.value }); toast("dataset built"); load(); } catch (err) { toast(err.message); }
  } }, h("label", { for: "ft-coll" }, "From collection", coll), h("button", { type: "submit" }, "Build dataset"));
  const start = h("form", { class: "row", onsubmit: async (e) => {
    e.preventDefault();
    try { await call("POST", "/v1/jobs", { dataset_id: dsSel.value, config: { max_steps: Number(steps.value) } }); load(); } catch (err) { toast(err.message); }
  } }, h("label", { for: "ft-ds" }, "Dataset", dsSel), h("label", { for: "ft-steps" }, "Steps", steps), h("button", { type: "submit" }, "Start job"));
  page("Fine-tune", h("h2", {}, "Datasets"), build, h("h2", {}, "Jobs"), start, jobs);
  const act = (id, verb) => call("POST", `/v1/jobs/${encodeURIComponent(id)}:${verb}`, {}).then(load, (e) => toast(e.message));
  async function load() {
    try {
      const [cs, ds, js] = await Promise.all([call("GET", paths.collections()), call("GET", "/v1/datasets"), call("GET", "/v1/jobs")]);
      coll.replaceChildren(...(cs.collections || []).map((c) => h("option", { value: c.name }, c.name)));
      dsSel.replaceChildren(...(ds.datasets || []).map((d) => h("option", { value: d.id }, `${d.id} (${d.collection})`)));
      const list = js.jobs || [];
      jobs.replaceChildren(list.length === 0 ? h("p", { class: "muted" }, "No jobs yet.") : h("table", {},
        h("thead", {}, h("tr", {}, ["Job", "State", "Progress", "Loss", "Adapter", "Base vs adapter", ""].map((t) => h("th", {}, t)))),
        h("tbody", {}, list.map((j) => {
          const stName = enumName(j.state, "JOB_STATE_");
          const bar = h("progress", { max: j.total_steps || 1, value: j.step || 0, "aria-label": `Progress of job ${j.id}` });
          const note = h("span", { class: "muted" }, ` ${j.step || 0}/${j.total_steps || "?"}`);
          const stCell = h("td", {}, stName, j.error ? h("div", { class: "error" }, j.error) : "");
          const loss = h("td", {}, fmt(j.loss));
          if (stName === "RUNNING" || stName === "QUEUED") {
            const c = new AbortController();
            streams.push(c);
            stream("GET", `/v1/jobs/${encodeURIComponent(j.id)}:watch`, undefined, (w) => {
              bar.max = w.total_steps || bar.max; bar.value = w.step || 0;
              note.textContent = ` ${w.step || 0}/${w.total_steps || "?"}${w.eta_seconds ? `, ${Math.round(w.eta_seconds)} s left` : ""}`;
              loss.textContent = fmt(w.loss);
              stCell.textContent = enumName(w.state, "JOB_STATE_");
            }, c.signal).then(load, () => {});
          }
          const ev = j.evaluation;
          const evTable = ev ? h("table", {}, h("tr", {}, h("th", {}, ""), h("th", {}, "base"), h("th", {}, "adapter")),
            ["token_f1", "exact_match", "rouge_l", "perplexity"].map((k) => h("tr", {}, h("th", {}, k), h("td", {}, fmt(ev.base && ev.base[k])), h("td", {}, fmt(ev.adapter && ev.adapter[k]))))) : "";
          return h("tr", {}, h("td", {}, j.id), stCell, h("td", {}, bar, note), loss, h("td", {}, j.adapter_name || ""), h("td", {}, evTable),
            h("td", {}, stName === "RUNNING" || stName === "QUEUED" ? h("button", { type: "button", onclick: () => act(j.id, "cancel") }, "Cancel") : "",
              stName === "SUCCEEDED" ? [h("button", { type: "button", onclick: () => act(j.id, "evaluate") }, "Evaluate"), " ", h("button", { type: "button", onclick: () => act(j.id, "publish") }, "Publish")] : "",
              stName === "FAILED" || stName === "CANCELLED" ? h("button", { type: "button", onclick: () => act(j.id, "resume") }, "Resume") : ""));
        }))));
    } catch (e) { jobs.replaceChildren(fail("Could not list jobs", e)); }
  }
  await load();
}

// ---- mesh status

async function statusView() {
  const el = h("div", { class: "table-wrap", "aria-live": "polite" });
  const brk = h("div", { class: "table-wrap", id: "breakers" });
  page("Mesh status", el, h("h2", {}, "Circuit breakers (the gateway's, per downstream)"), brk);
  const drawBreakers = (bs) => {
    brk.replaceChildren(bs.length === 0 ? h("p", { class: "muted" }, "No breaker has been used yet.") :
        h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Downstream"), h("th", {}, "State"))),
          h("tbody", {}, bs.map((b) => h("tr", { "data-downstream": b.service }, h("td", {}, b.service), h("td", { class: b.state === "closed" ? "ok" : "error" }, b.state))))));
  };
  const load = async () => {
    try {
      const r = await call("GET", "/v1/status");
      el.replaceChildren(
        r.missing_services && r.missing_services.length ? h("p", { class: "error", role: "alert" }, "Not serving: " + r.missing_services.join(", ")) : h("p", { class: "ok" }, "Every service is serving."),
        h("table", {}, h("thead", {}, h("tr", {}, ["Service", "Instance", "Address", "Health", "Latency"].map((t) => h("th", {}, t)))),
          h("tbody", {}, (r.instances || []).map((i) => {
            const s = enumName(i.status, "SERVING_STATUS_");
            return h("tr", {}, h("td", {}, i.service), h("td", {}, i.id || ""), h("td", {}, i.address), h("td", { class: s === "SERVING" ? "ok" : "error" }, s), h("td", {}, `${(i.latency_ms || 0).toFixed(1)} ms`));
          }))));
      drawBreakers(r.breakers || []);
    } catch (e) { el.replaceChildren(fail("Could not read the mesh status", e)); }
  };
  const timer = setInterval(load, 5000);
  leave = () => clearInterval(timer);
  await load();
}

// ---- routing

function route() {
  leave();
  leave = () => {};
  if (viewerMod) viewerMod.then((m) => m.close());
  const [path, query] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  for (const a of document.querySelectorAll("nav a")) {
    if (a.getAttribute("href") === "#/" + (parts[0] === "c" ? "collections" : parts[0] || "")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  switch (parts[0]) {
    case "c": return collectionView(parts[1]);
    case "ask": return askView(params);
    case "runs": return parts[1] ? runView(parts[1]) : runsView();
    case "finetune": return finetuneView();
    case "status": return statusView();
    case "collections": return collectionsView();
    default: location.replace("#/collections");
  }
}

const keyInput = document.getElementById("apikey");
keyInput.value = apiKey.get();
document.getElementById("keyform").addEventListener("submit", (e) => {
  e.preventDefault();
  apiKey.set(keyInput.value);
  document.querySelector("details.key").open = false;
  toast(keyInput.value ? "API key saved for this tab" : "API key cleared");
  route();
});
// A 401 from any call: open the key form (the mesh has identities on).
window.addEventListener("pdfqa:auth", () => {
  const d = document.querySelector("details.key");
  if (d.open) return;
  d.open = true;
  keyInput.focus();
  toast(apiKey.get() ? "The API key was refused: enter another" : "This mesh needs an API key");
});
window.addEventListener("hashchange", route);
route();
