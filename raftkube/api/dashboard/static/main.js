// Log in (a bearer token, kept in sessionStorage), who am I, the page chosen by the URL's #fragment (never the token).
import { ApiError, request, session } from "./api.js";
import { byId, clearError, showError } from "./dom.js";
import { controlPage } from "./control.js";
import { podsPage } from "./pods.js";
import { nodesPage, workloadsPage } from "./workloads.js";

const PAGES = { nodes: nodesPage, workloads: workloadsPage, pods: podsPage, control: controlPage };
let stopPage = null;

async function whoAmI() {
  const review = await request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    { body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } });
  return ((review.status || {}).userInfo || {}).username || "(unknown)";
}

function showPage() {
  const name = PAGES[location.hash.slice(1)] ? location.hash.slice(1) : "nodes";
  if (stopPage) stopPage();
  clearError();
  for (const section of document.querySelectorAll(".page")) section.hidden = section.id !== `page-${name}`;
  for (const link of document.querySelectorAll("#nav a")) link.classList.toggle("active", link.dataset.page === name);
  byId("namespace-box").hidden = name === "nodes" || name === "control";
  stopPage = PAGES[name](byId("namespace").value.trim());
}

function showLoggedIn(user) {
  byId("login").hidden = true;
  byId("app").hidden = false;
  byId("nav").hidden = false;
  byId("logout").hidden = false;
  byId("whoami").textContent = user;
  showPage();
}

function showLogin() {
  if (stopPage) stopPage();
  stopPage = null;
  byId("login").hidden = false;
  byId("app").hidden = true;
  byId("nav").hidden = true;
  byId("logout").hidden = true;
  byId("namespace-box").hidden = true;
  byId("whoami").textContent = "";
}

async function logIn() {
  try {
    showLoggedIn(await whoAmI());
  } catch (err) {
    session.clear();
    showLogin();
    if (err instanceof ApiError && err.code === 401) showError(`${err} (the token was not accepted)`);
    else showError(err);
  }
}

byId("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const token = byId("token").value.trim();
  byId("token").value = "";
  if (!token) { showError("token: paste a bearer token"); return; }
  clearError();
  session.set(token);
  logIn();
});

byId("logout").addEventListener("click", () => { session.clear(); showLogin(); });
window.addEventListener("hashchange", () => { if (session.token()) showPage(); });
byId("namespace").addEventListener("change", () => { if (session.token()) showPage(); });

if (session.token()) logIn(); else showLogin();
