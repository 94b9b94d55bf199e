// DOM helpers: every value is rendered as text (never parsed as HTML); tables; messages; ages.
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export const byId = (id) => document.getElementById(id);

// columns: [{title, cell: (row) => string | Node}]; rows keyed by `key(row)` (the row's data-key). A row whose
// object has the same resourceVersion as last time is kept as it is (focus, typed input and all).
const rendered = new WeakMap();

export function renderTable(container, columns, rows, key, empty = "none") {
  const previous = rendered.get(container) || new Map();
  const current = new Map();
  const body = rows.map((row) => {
    const id = key(row);
    const version = (row.metadata || {}).resourceVersion;
    const kept = previous.get(id);
    const tr = kept && version !== undefined && kept.version === version ? kept.tr
      : el("tr", { dataset: { key: id } }, columns.map((column) => {
        const value = column.cell(row);
        return el("td", { class: column.class }, value instanceof Node ? value : String(value ?? ""));
      }));
    current.set(id, { version, tr });
    return tr;
  });
  rendered.set(container, current);
  if (!body.length) body.push(el("tr", {}, el("td", { class: "empty", colSpan: columns.length }, empty)));
  let table = container.firstElementChild;
  if (!table || table.tagName !== "TABLE") {
    table = el("table", {}, el("thead", {}, el("tr", {}, columns.map((c) => el("th", {}, c.title)))), el("tbody"));
    container.replaceChildren(table);
  }
  table.tBodies[0].replaceChildren(...body);
}

let noticeTimer = null;

export function showError(err) {
  const box = byId("error");
  box.textContent = String(err);
  box.hidden = false;
}

export function clearError() {
  byId("error").hidden = true;
}

export function showNotice(text) {
  const box = byId("notice");
  box.textContent = text;
  box.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { box.hidden = true; }, 5000);
}

export function age(timestamp) {
  if (!timestamp) return "";
  const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(timestamp)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

export const sortByName = (items) => [...items].sort((a, b) =>
  `${a.metadata.namespace || ""}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace || ""}/${b.metadata.name}`));

export const keyOf = (obj) => `${obj.metadata.namespace || ""}/${obj.metadata.name}`;
