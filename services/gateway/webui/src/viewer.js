// The citation viewer: the cited pages drawn by PDF.js with every box of
// the passage highlighted (on each page a passage spans), the evidence
// list beside them, and keyboard navigation between citations. Loaded on
// first use, so PDF.js and its worker stay out of the first page load.
import { GlobalWorkerOptions, getDocument } from "pdfjs-dist";
import { pdfBytes } from "./api.js";
import { h } from "./dom.js";

/* global PDFJS_WORKER_URL */
GlobalWorkerOptions.workerSrc = PDFJS_WORKER_URL;

const docs = new Map(); // "collection/document" -> Promise<PDFDocumentProxy>

function pdf(coll, id) {
  const k = coll + "/" + id;
  if (!docs.has(k)) {
    const p = pdfBytes(coll, id).then((data) => getDocument({ data, isEvalSupported: false }).promise);
    p.catch(() => docs.delete(k));
    docs.set(k, p);
  }
  return docs.get(k);
}

// pagesOf lists the pages a passage covers: its boxes' pages and its span.
function pagesOf(it) {
  const s = new Set((it.boxes || []).map((b) => b.page));
  for (let p = it.page || 1; p <= (it.page_end || it.page || 1); p++) s.add(p);
  return [...s].sort((a, b) => a - b);
}

let state = null; // {el, items, index, seq, opener, onKey}

// openViewer shows items[index] in el; items are passages with their
// collection, and optionally the citation's quote and a label.
export function openViewer(el, items, index) {
  if (state) close();
  const opener = document.activeElement;
  const title = h("h2", { id: "viewer-title" });
  const pos = h("span", { class: "muted", "aria-live": "polite" });
  const prev = h("button", { type: "button", "aria-keyshortcuts": "ArrowLeft", onclick: () => go(-1) }, "◀ Previous");
  const next = h("button", { type: "button", "aria-keyshortcuts": "ArrowRight", onclick: () => go(1) }, "Next ▶");
  const closeBtn = h("button", { type: "button", "aria-keyshortcuts": "Escape", onclick: close }, "Close");
  const pages = h("div", { class: "pages", tabindex: "0", "aria-label": "Cited pages" });
  const list = h("ol");
  const side = h("aside", { class: "evidence", "aria-label": "Evidence" }, h("h3", {}, "Evidence"), list);
  el.replaceChildren(h("div", { class: "vbar" }, title, pos, prev, next, closeBtn), h("div", { class: "vbody" }, pages, side));
  const onKey = (e) => {
    if (e.target.closest && e.target.closest("input, textarea, select")) return;
    if (e.key === "Escape") { e.preventDefault(); close(); }
    else if (e.key === "ArrowRight" || e.key === "]") { e.preventDefault(); go(1); }
    else if (e.key === "ArrowLeft" || e.key === "[") { e.preventDefault(); go(-1); }
  };
  el.addEventListener("keydown", onKey);
  state = { el, items, index, seq: 0, opener, onKey, title, pos, prev, next, pages, list };
  list.replaceChildren(...items.map((it, i) => h("li", {},
    h("button", { type: "button", onclick: () => show(i) }, it.label || `${it.document_name} p.${it.page}`),
    it.score ? h("span", { class: "muted" }, ` score ${Number(it.score).toFixed(3)}`) : "",
    h("div", {}, snippet(it.quote || it.text)))));
  el.hidden = false;
  document.body.style.overflow = "hidden";
  for (const o of document.querySelectorAll("body > header, body > main")) o.inert = true; // focus stays in the dialog
  closeBtn.focus();
  return show(index);
}

function snippet(s) {
  s = (s || "").replace(/\s+/g, " ").trim();
  return s.length > 220 ? s.slice(0, 220) + "…" : s;
}

function go(d) {
  if (!state) return;
  const i = state.index + d;
  if (i >= 0 && i < state.items.length) show(i);
}

export function close() {
  if (!state) return;
  const { el, onKey, opener } = state;
  state = null;
  el.removeEventListener("keydown", onKey);
  el.hidden = true;
  el.replaceChildren();
  document.body.style.overflow = "";
  for (const o of document.querySelectorAll("body > header, body > main")) o.inert = false;
  if (opener && opener.focus) opener.focus();
}

async function show(i) {
  const s = state;
  try {
    await draw(s, i);
  } catch (e) {
    s.pages.append(h("p", { class: "error", role: "alert" }, "Could not draw the page: " + e.message));
    s.pages.dataset.rendered = "failed";
  }
}

async function draw(s, i) {
  const it = s.items[i];
  const seq = ++s.seq;
  s.index = i;
  s.title.textContent = `${it.document_name} · page ${it.page}${it.page_end > it.page ? "–" + it.page_end : ""}`;
  s.pos.textContent = `${i + 1} of ${s.items.length}`;
  s.prev.disabled = i === 0;
  s.next.disabled = i === s.items.length - 1;
  [...s.list.children].forEach((li, j) => li.setAttribute("aria-current", String(i === j)));
  s.list.children[i].scrollIntoView({ block: "nearest" });
  s.el.dataset.chunkId = it.chunk_id || "";
  s.pages.dataset.rendered = "false";
  s.pages.replaceChildren(h("p", {}, "Opening the PDF…"));
  let doc;
  try {
    doc = await pdf(it.collection, it.document_id);
  } catch (e) {
    if (seq === s.seq) s.pages.replaceChildren(h("p", { class: "error", role: "alert" }, "Could not open the PDF: " + e.message));
    return;
  }
  if (seq !== s.seq) return;
  s.pages.replaceChildren();
  const avail = Math.max(240, s.pages.clientWidth - 28);
  const dpr = window.devicePixelRatio || 1;
  let first = null;
  for (const n of pagesOf(it).filter((p) => p >= 1 && p <= doc.numPages)) {
    const page = await doc.getPage(n);
    if (seq !== s.seq) return;
    const base = page.getViewport({ scale: 1 });
    const vp = page.getViewport({ scale: Math.min(2, avail / base.width) });
    const canvas = h("canvas", { width: Math.floor(vp.width * dpr), height: Math.floor(vp.height * dpr), "aria-hidden": "true" });
    canvas.style.width = vp.width + "px";
    canvas.style.height = vp.height + "px";
    const box = h("div", { class: "page", role: "img", "aria-label": `Page ${n} with the passage highlighted`,
      "data-page": n, "data-width-pt": base.width, "data-height-pt": base.height }, canvas, h("span", { class: "label" }, `p.${n}`));
    box.style.width = vp.width + "px";
    box.style.height = vp.height + "px";
    s.pages.append(box);
    await page.render({ canvasContext: canvas.getContext("2d"), viewport: vp, transform: dpr === 1 ? null : [dpr, 0, 0, dpr, 0, 0] }).promise;
    if (seq !== s.seq) return;
    // Boxes are PDF points from the page's top-left corner.
    const [vx, , , vy1] = page.view;
    for (const b of (it.boxes || []).filter((b) => b.page === n)) {
      const [x0, y0] = vp.convertToViewportPoint(vx + (b.x0 || 0), vy1 - (b.y0 || 0));
      const [x1, y1] = vp.convertToViewportPoint(vx + (b.x1 || 0), vy1 - (b.y1 || 0));
      const r = h("div", { class: "hl", "data-page": n });
      Object.assign(r.style, { left: Math.min(x0, x1) + "px", top: Math.min(y0, y1) + "px", width: Math.abs(x1 - x0) + "px", height: Math.abs(y1 - y0) + "px" });
      box.append(r);
      first = first || r;
    }
  }
  if (first) first.scrollIntoView({ block: "center" });
  s.pages.dataset.rendered = "true";
}
