// The pods page: pods with their status, the events (all, or one pod's), and a pod's logs streamed with follow.
import { collection, LiveList, lines, objectPath, q, stream } from "./api.js";
import { deleteButton } from "./actions.js";
import { age, byId, el, keyOf, renderTable, showError, sortByName } from "./dom.js";

const MAX_LOG_LINES = 5000;

function podStatus(pod) {  // kubectl's STATUS column, roughly: a waiting/terminated reason, else the phase
  if (pod.metadata.deletionTimestamp) return "Terminating";
  const statuses = (pod.status || {}).containerStatuses || [];
  for (const s of statuses) {
    const state = s.state || {};
    if (state.waiting && state.waiting.reason) return state.waiting.reason;
    if (state.terminated && state.terminated.reason) return state.terminated.reason;
  }
  return (pod.status || {}).phase || "Pending";
}

const containersReady = (pod) => {
  const statuses = (pod.status || {}).containerStatuses || [];
  return `${statuses.filter((s) => s.ready).length}/${((pod.spec || {}).containers || []).length}`;
};

const restarts = (pod) => ((pod.status || {}).containerStatuses || []).reduce((n, s) => n + (s.restartCount || 0), 0);

let logs = null;  // the log stream shown: {controller}
let eventFilter = null;  // {namespace, name} of the pod whose events are shown, or null: all
let events = [];

const eventColumns = [
  { title: "Last seen", cell: (e) => age(e.lastTimestamp || e.eventTime || e.metadata.creationTimestamp) },
  { title: "Type", cell: (e) => el("span", { class: e.type === "Warning" ? "bad" : "" }, e.type || "") },
  { title: "Reason", cell: (e) => e.reason || "" },
  { title: "Object", cell: (e) => `${((e.involvedObject || {}).kind || "").toLowerCase()}/${(e.involvedObject || {}).name || ""}` },
  { title: "Message", cell: (e) => e.message || "" },
];

function renderEvents() {
  const shown = events.filter((e) => !eventFilter || ((e.involvedObject || {}).name === eventFilter.name
    && e.metadata.namespace === eventFilter.namespace));
  shown.sort((a, b) => String(b.lastTimestamp || b.metadata.creationTimestamp)
    .localeCompare(String(a.lastTimestamp || a.metadata.creationTimestamp)));
  const filter = byId("events-filter");
  filter.replaceChildren();
  if (eventFilter) {
    const all = el("button", { type: "button" }, "show all");
    all.addEventListener("click", () => { eventFilter = null; renderEvents(); });
    filter.append(`of pod ${eventFilter.namespace}/${eventFilter.name} `, all);
  }
  renderTable(byId("events-table"), eventColumns, shown, keyOf, "no events");
}

function podActions(pod) {
  const showLogs = el("button", { type: "button", class: "logs" }, "Logs");
  showLogs.addEventListener("click", () => openLogs(pod));
  const showEvents = el("button", { type: "button", class: "events" }, "Events");
  showEvents.addEventListener("click", () => {
    eventFilter = { namespace: pod.metadata.namespace, name: pod.metadata.name };
    renderEvents();
  });
  return el("span", {}, showLogs, showEvents, deleteButton("pod", "v1", "pods", pod));
}

const podColumns = [
  { title: "Namespace", cell: (p) => p.metadata.namespace },
  { title: "Name", class: "name", cell: (p) => p.metadata.name },
  { title: "Ready", cell: containersReady },
  { title: "Status", class: "status", cell: (p) => { const s = podStatus(p);
    return el("span", { class: s === "Running" || s === "Completed" || s === "Succeeded" ? "ok" : "bad" }, s); } },
  { title: "Restarts", cell: restarts },
  { title: "Node", cell: (p) => (p.spec || {}).nodeName || "" },
  { title: "IP", cell: (p) => (p.status || {}).podIP || "" },
  { title: "Age", cell: (p) => age(p.metadata.creationTimestamp) },
  { title: "Actions", class: "actions", cell: podActions },
];

function stopLogs(state) {
  if (logs) logs.abort();
  logs = null;
  if (state) byId("logs-state").textContent = state;
}

async function streamLogs(pod) {
  stopLogs();
  const output = byId("logs-output");
  output.replaceChildren();
  const controller = new AbortController();
  logs = controller;
  const follow = byId("logs-follow").checked;
  const container = byId("logs-container").value;
  const path = `${objectPath("v1", "pods", pod.metadata.namespace, pod.metadata.name, "log")}` +
    `?container=${q(container)}&tailLines=1000${follow ? "&follow=true" : ""}`;
  byId("logs-state").textContent = follow ? "following" : "loading";
  try {
    const response = await stream(path, controller.signal);
    for await (const line of lines(response)) {
      output.append(`${line}\n`);  // (a text node: never parsed)
      while (output.childNodes.length > MAX_LOG_LINES) output.firstChild.remove();
      output.scrollTop = output.scrollHeight;
    }
    if (logs === controller) stopLogs("ended");
  } catch (err) {
    if (controller.signal.aborted) return;
    stopLogs("failed");
    showError(err);
  }
}

function openLogs(pod) {
  byId("logs").hidden = false;
  byId("logs-title").textContent = `${pod.metadata.namespace}/${pod.metadata.name}`;
  const select = byId("logs-container");
  select.replaceChildren(...((pod.spec || {}).containers || []).map((c) => el("option", { value: c.name }, c.name)));
  byId("logs-restart").onclick = () => streamLogs(pod);
  byId("logs-stop").onclick = () => stopLogs("stopped");
  select.onchange = () => streamLogs(pod);
  streamLogs(pod);
}

export function podsPage(namespace) {
  const pods = new LiveList(collection("v1", "pods", namespace),
    (items) => renderTable(byId("pods-table"), podColumns, sortByName(items), keyOf, "no pods"), showError);
  const watched = new LiveList(collection("v1", "events", namespace),
    (items) => { events = items; renderEvents(); }, showError);
  return () => { pods.stop(); watched.stop(); stopLogs("stopped"); };
}
