// The control plane's own health: the Raft view of the replica serving this page (polled every second: it is
// not a watchable resource, and EventSource could not send the bearer token without putting it in the URL), the
// controller-manager and scheduler Leases (watched), and the write gaps and failovers of the last chaos run.
import { ApiError, LiveList, request } from "./api.js";
import { age, byId, el, renderTable, showError } from "./dom.js";

export const STATUS_PATH = "/raftkube/v1/status";
const CHAOS_PATH = "/raftkube/v1/chaos/last";
const LEASES = ["raftkube-controller-manager", "raftkube-scheduler"];
const POLL_MS = 1000;

function summary(pairs) {
  return el("dl", { class: "summary" }, pairs.flatMap(([term, value]) => [el("dt", {}, term), el("dd", {}, value)]));
}

const memberColumns = [
  { title: "Member (Raft address)", class: "address", cell: (m) => m.address },
  { title: "Role", class: "role", cell: (m) => el("span", { class: m.leader ? "ok" : "" }, m.leader ? "leader" : "follower") },
  { title: "This replica", cell: (m) => (m.self ? "yes" : "") },
  { title: "Connected", cell: (m) => el("span", { class: m.connected ? "ok" : "bad" }, m.connected ? "yes" : "no") },
  { title: "Match index", cell: (m) => m.match_index ?? "" },
  { title: "Lag (entries)", class: "lag", cell: (m) => m.lag ?? "(known to the leader)" },
];

function renderStatus(status) {
  byId("raft-updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  byId("raft-summary").replaceChildren(summary([
    ["Serving replica", status.self || ""], ["State", status.state || ""],
    ["Leader", status.leader || "(none)"], ["Term", status.term ?? ""],
    ["Commit index", status.commit_index ?? ""], ["Applied index", status.applied_index ?? ""],
    ["Quorum", status.has_quorum ? "yes" : "NO"], ["Revision", status.revision ?? ""],
    ["Keys", status.keys ?? ""], ["Watchers", status.watchers ?? ""],
  ]));
  renderTable(byId("raft-members"), memberColumns, status.members || [], (m) => m.address, "no members");
}

const leaseColumns = [
  { title: "Lease", class: "name", cell: (l) => `${l.metadata.namespace}/${l.metadata.name}` },
  { title: "Holder", class: "holder", cell: (l) => (l.spec || {}).holderIdentity || "(none)" },
  { title: "Renewed", cell: (l) => { const t = (l.spec || {}).renewTime; return t ? `${age(t)} ago` : ""; } },
  { title: "Duration (s)", cell: (l) => (l.spec || {}).leaseDurationSeconds ?? "" },
  { title: "Transitions", cell: (l) => (l.spec || {}).leaseTransitions ?? 0 },
];

function span(kind, start, length, duration) {
  const bar = el("div", { class: kind, title: `${kind} ${start.toFixed(2)}s +${length.toFixed(2)}s` });
  bar.style.left = `${(100 * start) / duration}%`;  // (CSSOM, not a style attribute: allowed by the CSP)
  bar.style.width = `${Math.max(0.3, (100 * length) / duration)}%`;
  return bar;
}

function renderChaos(run) {
  const duration = Math.max(run.duration || 0, 0.001);
  const timeline = el("div", { class: "timeline" },
    (run.faults || []).map((f) => span("fault", f.start, (f.end ?? duration) - f.start, duration)),
    (run.write_gaps || []).map((g) => span("gap", g.start, g.seconds, duration)),
    (run.failovers || []).map((f) => span("failover", f.recovered_time, 0, duration)));
  const ops = run.operations || {};
  byId("chaos").replaceChildren(
    summary([["Scenario", run.scenario], ["Verdict", el("span", { class: run.ok ? "ok" : "bad" }, run.ok ? "PASS" : "FAIL")],
      ["Duration", `${(run.duration || 0).toFixed(1)} s`], ["Longest write gap", `${(run.longest_gap || 0).toFixed(2)} s`],
      ["Operations ok/fail/unknown", `${ops.ok ?? 0} / ${ops.fail ?? 0} / ${ops.info ?? 0}`], ["Report", run.path || ""]]),
    el("p", { class: "muted" }, "timeline: red = fault, black = no successful write (gap), blue = recovered"),
    timeline,
    el("h3", {}, "Failovers"),
    el("ul", {}, (run.failovers || []).map((f) => el("li", {},
      `${f.what}: fault at ${f.fault_time.toFixed(2)}s, recovered at ${f.recovered_time.toFixed(2)}s (${f.seconds.toFixed(2)} s)`))),
    el("h3", {}, `Write gaps of at least ${run.min_gap ?? 0.5} s`),
    el("ul", {}, (run.write_gaps || []).map((g) => el("li", {},
      `${g.start.toFixed(2)}s .. ${(g.start + g.seconds).toFixed(2)}s: no successful write for ${g.seconds.toFixed(2)} s`))),
    el("h3", {}, "Checks"),
    el("ul", {}, (run.checks || []).map((c) => el("li", {}, el("span", { class: c.ok ? "ok" : "bad" }, c.ok ? "PASS" : "FAIL"),
      ` ${c.name}: ${c.summary}`))));
}

async function loadChaos() {
  try {
    renderChaos(await request("GET", CHAOS_PATH));
  } catch (err) {
    byId("chaos").replaceChildren(el("p", { class: err instanceof ApiError && err.code === 404 ? "muted" : "bad" },
      String(err)));
  }
}

export function controlPage() {
  let stopped = false;
  let timer = null;
  const poll = async () => {
    try {
      renderStatus(await request("GET", STATUS_PATH));
    } catch (err) {
      byId("raft-summary").replaceChildren(el("p", { class: "bad" }, String(err)));
      if (err instanceof ApiError && (err.code === 401 || err.code === 403)) return;  // no point asking again
    }
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  };
  poll();
  const leases = new LiveList("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases",
    (items) => renderTable(byId("leases-table"), leaseColumns,
      items.filter((l) => LEASES.includes(l.metadata.name)).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)),
      (l) => l.metadata.name, "no leader-election leases yet"), showError);
  byId("chaos-refresh").onclick = loadChaos;
  loadChaos();
  return () => { stopped = true; clearTimeout(timer); leases.stop(); };
}
