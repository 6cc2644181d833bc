// h builds an element: attributes (on* as listeners) and children (strings
// become text nodes, so nothing from the API is parsed as HTML).
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  el.append(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return el;
}

// enumName turns "DOCUMENT_STATE_READY" into "READY" given its prefix.
export const enumName = (v, prefix) => String(v || prefix + "UNSPECIFIED").replace(prefix, "");
