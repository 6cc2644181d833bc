// The REST API under /v1 (grpc-gateway): JSON calls, server streams as one
// JSON object a line ({"result": ...} or {"error": ...}), and uploads.

const KEY = "pdfqa.apiKey";

// The API key lives in this tab's session storage only.
export const apiKey = {
  get: () => sessionStorage.getItem(KEY) || "",
  set: (v) => (v ? sessionStorage.setItem(KEY, v) : sessionStorage.removeItem(KEY)),
};

function headers(json) {
  const h = {};
  if (json) h["Content-Type"] = "application/json";
  const k = apiKey.get();
  if (k) h.Authorization = "Bearer " + k;
  return h;
}

// failure turns an error answer into an Error; a 401 also asks the page for
// an API key (the "pdfqa:auth" event).
function failed(status, statusText, text) {
  let msg = text || `${status} ${statusText}`;
  try { msg = JSON.parse(text).message || msg; } catch { /* not JSON */ }
  const e = new Error(msg);
  e.status = status;
  if (status === 401) window.dispatchEvent(new CustomEvent("pdfqa:auth", { detail: msg }));
  return e;
}

async function failure(r) {
  return failed(r.status, r.statusText, await r.text());
}

// call sends one request and returns the decoded JSON answer.
export async function call(method, path, body) {
  const r = await fetch(path, { method, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body) });
  if (!r.ok) throw await failure(r);
  const text = await r.text();
  return text ? JSON.parse(text) : {};
}

// stream calls a server-streaming method and hands each message to onMsg.
export async function stream(method, path, body, onMsg, signal) {
  const r = await fetch(path, { method, signal, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body) });
  if (!r.ok) throw await failure(r);
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const line = (s) => {
    if (!s.trim()) return;
    const m = JSON.parse(s);
    if (m.error) throw new Error(m.error.message || "stream failed");
    onMsg(m.result || {});
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      line(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  }
  line(buf);
}

const enc = encodeURIComponent;
export const paths = {
  collections: () => "/v1/collections",
  collection: (c) => `/v1/collections/${enc(c)}`,
  documents: (c) => `/v1/collections/${enc(c)}/documents`,
  document: (c, id) => `/v1/collections/${enc(c)}/documents/${enc(id)}`,
  watch: (c, id) => `/v1/collections/${enc(c)}/documents/${enc(id)}:watch`,
  content: (c, id) => `/v1/collections/${enc(c)}/documents/${enc(id)}:content`,
  chunks: (c, q) => `/v1/collections/${enc(c)}/chunks?${new URLSearchParams(q)}`,
};

function base64(file) {
  return new Promise((resolve, reject) => {
    const fr = new FileReader();
    fr.onload = () => resolve(String(fr.result).replace(/^data:[^,]*,/, ""));
    fr.onerror = () => reject(fr.error);
    fr.readAsDataURL(file);
  });
}

// upload sends one PDF, reporting the fraction sent, and returns the
// UploadDocumentResponse.
export async function upload(coll, file, onProgress) {
  const content = await base64(file);
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open("POST", paths.documents(coll));
    for (const [k, v] of Object.entries(headers(true))) x.setRequestHeader(k, v);
    x.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    x.onload = () => {
      if (x.status >= 200 && x.status < 300) resolve(JSON.parse(x.responseText));
      else reject(failed(x.status, x.statusText, x.responseText));
    };
    x.onerror = () => reject(new Error("network error"));
    x.send(JSON.stringify({ name: file.name, content }));
  });
}

// pdfBytes fetches a document's PDF.
export async function pdfBytes(coll, id) {
  const r = await call("GET", paths.content(coll, id));
  const s = atob(r.content || "");
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

// allChunks pages through a document's chunks.
export async function allChunks(coll, id) {
  const out = [];
  let token = "";
  do {
    const q = { document_id: id, page_size: "500" };
    if (token) q.page_token = token;
    const r = await call("GET", paths.chunks(coll, q));
    out.push(...(r.chunks || []));
    token = r.next_page_token || "";
  } while (token);
  return out;
}
