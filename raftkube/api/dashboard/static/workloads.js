// The nodes page and the workloads page (deployments, replicasets, daemonsets, jobs), kept live by watches.
import { collection, LiveList } from "./api.js";
import { deleteButton, rolloutUndo, scale } from "./actions.js";
import { age, byId, el, keyOf, renderTable, showError, sortByName } from "./dom.js";

const condition = (obj, type) => ((obj.status || {}).conditions || []).find((c) => c.type === type);

function nodeStatus(node) {
  const ready = condition(node, "Ready");
  let text = !ready ? "Unknown" : ready.status === "True" ? "Ready" : ready.status === "False" ? "NotReady" : "Unknown";
  if ((node.spec || {}).unschedulable) text += ",SchedulingDisabled";
  return el("span", { class: text.startsWith("Ready") ? "ok" : "bad" }, text);
}

const capacity = (node, key) => ((node.status || {}).capacity || {})[key] || "";
const nsColumn = { title: "Namespace", cell: (o) => o.metadata.namespace };
const nameColumn = { title: "Name", class: "name", cell: (o) => o.metadata.name };
const ageColumn = { title: "Age", cell: (o) => age(o.metadata.creationTimestamp) };

export function nodesPage() {
  const columns = [
    nameColumn,
    { title: "Status", class: "status", cell: nodeStatus },
    { title: "Conditions", cell: (n) => ((n.status || {}).conditions || []).map((c) => `${c.type}=${c.status}`).join(" ") },
    { title: "CPU", cell: (n) => capacity(n, "cpu") },
    { title: "Memory", cell: (n) => capacity(n, "memory") },
    { title: "Pods", cell: (n) => capacity(n, "pods") },
    { title: "Version", cell: (n) => (((n.status || {}).nodeInfo) || {}).kubeletVersion || "" },
    ageColumn,
  ];
  const list = new LiveList("/api/v1/nodes",
    (items) => renderTable(byId("nodes-table"), columns, sortByName(items), keyOf, "no nodes"), showError);
  return () => list.stop();
}

const typed = new Map();  // replicas typed but not yet sent, by object: kept when a watch event redraws the row

function scaleControls(kind, resource, obj) {
  const id = `${resource}/${keyOf(obj)}`;
  const input = el("input", { type: "number", min: "0", class: "replicas", "aria-label": "replicas",
    value: typed.get(id) ?? String((obj.spec || {}).replicas ?? 1) });
  input.addEventListener("input", () => typed.set(id, input.value));
  const button = el("button", { type: "button", class: "scale" }, "Scale");
  button.addEventListener("click", () => {
    typed.delete(id);
    const replicas = parseInt(input.value, 10);
    if (Number.isNaN(replicas) || replicas < 0) { showError("replicas: must be a whole number, 0 or more"); return; }
    scale(kind, "apps/v1", resource, obj, replicas);
  });
  return [input, button];
}

function deploymentActions(d) {
  const undo = el("button", { type: "button", class: "undo" }, "Rollout undo");
  undo.addEventListener("click", () => rolloutUndo(d));
  return el("span", {}, ...scaleControls("deployment", "deployments", d), undo,
    deleteButton("deployment", "apps/v1", "deployments", d));
}

const status = (o, key) => (o.status || {})[key] || 0;
const desired = (o) => (o.spec || {}).replicas ?? 1;

const TABLES = [
  ["deployments", "apps/v1", [
    nsColumn, nameColumn,
    { title: "Ready", class: "ready", cell: (d) => `${status(d, "readyReplicas")}/${desired(d)}` },
    { title: "Up-to-date", cell: (d) => status(d, "updatedReplicas") },
    { title: "Available", cell: (d) => status(d, "availableReplicas") },
    ageColumn,
    { title: "Actions", class: "actions", cell: deploymentActions },
  ]],
  ["replicasets", "apps/v1", [
    nsColumn, nameColumn,
    { title: "Desired", cell: desired },
    { title: "Current", cell: (r) => status(r, "replicas") },
    { title: "Ready", class: "ready", cell: (r) => `${status(r, "readyReplicas")}/${desired(r)}` },
    { title: "Revision", cell: (r) => (r.metadata.annotations || {})["deployment.kubernetes.io/revision"] || "" },
    ageColumn,
    { title: "Actions", class: "actions", cell: (r) => el("span", {}, ...scaleControls("replicaset", "replicasets", r),
      deleteButton("replicaset", "apps/v1", "replicasets", r)) },
  ]],
  ["daemonsets", "apps/v1", [
    nsColumn, nameColumn,
    { title: "Ready", class: "ready", cell: (d) => `${status(d, "numberReady")}/${status(d, "desiredNumberScheduled")}` },
    { title: "Up-to-date", cell: (d) => status(d, "updatedNumberScheduled") },
    { title: "Available", cell: (d) => status(d, "numberAvailable") },
    ageColumn,
    { title: "Actions", class: "actions", cell: (d) => deleteButton("daemonset", "apps/v1", "daemonsets", d) },
  ]],
  ["jobs", "batch/v1", [
    nsColumn, nameColumn,
    { title: "Completions", class: "ready", cell: (j) => `${status(j, "succeeded")}/${(j.spec || {}).completions ?? 1}` },
    { title: "Active", cell: (j) => status(j, "active") },
    { title: "Failed", cell: (j) => status(j, "failed") },
    { title: "Complete", cell: (j) => (condition(j, "Complete") || {}).status === "True" ? "yes" : "no" },
    ageColumn,
    { title: "Actions", class: "actions", cell: (j) => deleteButton("job", "batch/v1", "jobs", j) },
  ]],
];

export function workloadsPage(namespace) {
  const lists = TABLES.map(([resource, groupVersion, columns]) => new LiveList(
    collection(groupVersion, resource, namespace),
    (items) => renderTable(byId(`${resource}-table`), columns, sortByName(items), keyOf, `no ${resource}`),
    showError));
  return () => lists.forEach((list) => list.stop());
}
