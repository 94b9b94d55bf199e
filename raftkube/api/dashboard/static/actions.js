// What the dashboard changes, as kubectl does it: scale (the /scale subresource), rollout undo (the previous
// ReplicaSet's template back into the Deployment, raftkube/cli/rollout.py), delete (background propagation).
import { collection, objectPath, request } from "./api.js";
import { clearError, el, showError, showNotice } from "./dom.js";

const REVISION = "deployment.kubernetes.io/revision";
const HASH_LABEL = "pod-template-hash";
// annotations never copied from a ReplicaSet back to its Deployment (the same ones kubectl skips)
const SKIP_COPY = new Set(["kubectl.kubernetes.io/last-applied-configuration", REVISION,
  "deployment.kubernetes.io/revision-history", "deployment.kubernetes.io/desired-replicas",
  "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to"]);

// Runs `action`; shows its own message (if it returns one) or `done`, or the error (a 403 says who may not).
async function attempt(action, done) {
  clearError();
  try {
    const message = await action();
    showNotice(typeof message === "string" ? message : done);
  } catch (err) {
    showError(err);
  }
}

export function scale(kind, groupVersion, resource, obj, replicas) {
  const { namespace, name } = obj.metadata;
  return attempt(() => request("PATCH", objectPath(groupVersion, resource, namespace, name, "scale"),
    { body: { spec: { replicas } }, contentType: "application/merge-patch+json" }), `${kind} ${name} scaled`);
}

export function remove(kind, groupVersion, resource, obj) {
  const { namespace, name } = obj.metadata;
  return attempt(() => request("DELETE", objectPath(groupVersion, resource, namespace, name),
    { body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Background" } }), `${kind} ${name} deleted`);
}

const revisionOf = (rs) => parseInt((rs.metadata.annotations || {})[REVISION] || "", 10);

function withoutHash(template) {
  const copy = structuredClone(template || {});
  if (copy.metadata && copy.metadata.labels) delete copy.metadata.labels[HASH_LABEL];
  return copy;
}

function canonical(value) {  // JSON with sorted keys: equal templates compare equal
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function rolloutUndo(deployment) {
  const { namespace, name } = deployment.metadata;
  return attempt(async () => {
    const current = await request("GET", objectPath("apps/v1", "deployments", namespace, name));
    if ((current.spec || {}).paused) {
      throw new Error("you cannot rollback a paused deployment; resume it first (spec.paused: false) and try again");
    }
    const sets = (await request("GET", collection("apps/v1", "replicasets", namespace))).items
      .filter((rs) => (rs.metadata.ownerReferences || []).some((o) => o.controller && o.uid === current.metadata.uid))
      .filter((rs) => !Number.isNaN(revisionOf(rs)))
      .sort((a, b) => revisionOf(a) - revisionOf(b));
    if (sets.length < 2) throw new Error(`no rollout history found for deployment "${name}"`);
    const chosen = sets[sets.length - 2];  // the latest revision is the current one
    if (canonical(withoutHash(chosen.spec.template)) === canonical(withoutHash(current.spec.template))) {
      return `deployment ${name} skipped rollback (current template already matches revision ${revisionOf(chosen)})`;
    }
    const annotations = Object.fromEntries(Object.entries(chosen.metadata.annotations || {})
      .filter(([key]) => !SKIP_COPY.has(key)));
    await request("PATCH", objectPath("apps/v1", "deployments", namespace, name), {
      contentType: "application/json-patch+json",
      body: [{ op: "replace", path: "/spec/template", value: withoutHash(chosen.spec.template) },
        { op: "add", path: "/metadata/annotations", value: annotations }],
    });
    return `deployment ${name} rolled back`;
  }, "");
}

// A delete button that asks once more: the first click arms it for 4 s, the second deletes.
export function deleteButton(kind, groupVersion, resource, obj) {
  const button = el("button", { type: "button", class: "danger delete" }, "Delete");
  let armed = null;
  const disarm = () => {
    clearTimeout(armed);
    armed = null;
    button.textContent = "Delete";
    button.classList.remove("confirm");
  };
  button.addEventListener("click", () => {
    if (armed === null) {
      button.textContent = "Confirm delete";
      button.classList.add("confirm");
      armed = setTimeout(disarm, 4000);
      return;
    }
    disarm();
    remove(kind, groupVersion, resource, obj);
  });
  return button;
}
