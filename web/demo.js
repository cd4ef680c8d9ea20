// The local demo: acts like the host's Vue frontend against the two endpoints FcgiApp serves.
// No build step, no framework. State lives in the URL hash (#user=1&picture=1[&start]) so that a
// link (or the headless-browser test) can reproduce a run.
"use strict";

const USERS = [
  { id: 1, name: "Alice", role: "uploader of every demo picture" },
  { id: 2, name: "Bob", role: "a stranger: may edit public pictures only" },
  { id: 3, name: "Ada", role: "site admin" },
  { id: 4, name: "Carol", role: "editor of the Design team space" },
  { id: 5, name: "Dave", role: "viewer of the Design team space" },
];
// The demo rows of sql/dev/demo_data.sql (the host's picture API is not part of the local stack).
const DEVSERVER = `${location.protocol}//${location.hostname}:8089`;
const PICTURES = [
  { id: 1, name: "Sunset", where: "public", width: 1024, height: 1024 },
  { id: 2, name: "Harbour", where: "Alice's private space", width: 1024, height: 768 },
  { id: 3, name: "Poster", where: "Design team space", width: 768, height: 1024 },
  { id: 4, name: "Broken scan", where: "public; its task fails", width: 1024, height: 1024 },
];
const POLL_MS = 1500;
const FINAL = ["SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"];
const STATUS_TEXT = {
  PENDING: "Queued at DashScope…",
  RUNNING: "Painting the new borders…",
  SUSPENDED: "Paused by DashScope…",
  SUCCEEDED: "Done.",
  FAILED: "DashScope could not paint this picture.",
  CANCELED: "The task was canceled.",
  UNKNOWN: "The task expired without an answer.",
};

const $ = (selector) => document.querySelector(selector);
const state = { user: null, picture: null, taskId: null, timer: null, startedAt: 0 };

function hashParams() {
  return new URLSearchParams(location.hash.slice(1));
}

function setHash() {
  const p = new URLSearchParams();
  if (state.user) p.set("user", state.user);
  if (state.picture) p.set("picture", state.picture);
  history.replaceState(null, "", "#" + p.toString());
}

function showError(message) {
  const box = $("#error");
  box.textContent = message;
  box.hidden = !message;
}

// The host's envelope: {"code":0,"data":…,"message":"ok"}; anything else is an error to show.
async function call(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    throw new Error("The server cannot be reached. Is the local stack up (make run)?");
  }
  let json = null;
  try { json = await response.json(); } catch (e) { /* not JSON: handled below */ }
  if (!json || typeof json.code !== "number") {
    throw new Error(`Unexpected answer (HTTP ${response.status}).`);
  }
  if (json.code !== 0) {
    const err = new Error(`${json.message || "Request failed"} (code ${json.code})`);
    err.code = json.code;
    throw err;
  }
  return json.data;
}

async function login(userId) {
  document.cookie = `SESSION=dev-user-${userId}; path=/; SameSite=Lax`;
  state.user = userId;
  setHash();
  renderUsers();
  try {
    const me = await call("GET", "/api/user/get/login");
    $("#login-status").textContent = `Logged in as ${me.userName || me.userAccount} (${me.userRole}).`;
  } catch (e) {
    $("#login-status").textContent = `Login failed: ${e.message}`;
  }
}

function renderUsers() {
  const box = $(".users");
  box.replaceChildren(...USERS.map((u) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "choice" + (state.user === u.id ? " selected" : "");
    b.setAttribute("role", "radio");
    b.setAttribute("aria-checked", String(state.user === u.id));
    b.dataset.user = u.id;
    b.innerHTML = `<strong>${u.name}</strong><span>${u.role}</span>`;
    b.addEventListener("click", () => login(u.id));
    return b;
  }));
}

function renderPictures() {
  const box = $(".pictures");
  box.replaceChildren(...PICTURES.map((p) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "choice picture" + (state.picture === p.id ? " selected" : "");
    b.setAttribute("role", "radio");
    b.setAttribute("aria-checked", String(state.picture === p.id));
    b.dataset.picture = p.id;
    b.innerHTML = `<img src="${DEVSERVER}/images/demo-${p.id}.png" alt="" width="96" height="${Math.round(96 * p.height / p.width)}">`
      + `<strong>${p.name}</strong><span>${p.where} · ${p.width}×${p.height}</span>`;
    b.addEventListener("click", () => { state.picture = p.id; setHash(); renderPictures(); });
    return b;
  }));
}

function parameters() {
  const f = $("#form").elements;
  const p = {};
  if (f.outputRatio.value) p.outputRatio = f.outputRatio.value;
  p.xScale = Number(f.xScale.value);
  p.yScale = Number(f.yScale.value);
  for (const side of ["topOffset", "bottomOffset", "leftOffset", "rightOffset"]) {
    const v = Number(f[side].value);
    if (v > 0) p[side] = v;
  }
  const angle = Number(f.angle.value);
  if (angle > 0) p.angle = angle;
  return p;
}

function renderTask(output) {
  const status = output.taskStatus;
  const line = $("#task-status");
  line.dataset.status = status;
  line.textContent = STATUS_TEXT[status] || status;
  const order = ["PENDING", "RUNNING", "SUCCEEDED"];
  const reached = status === "SUCCEEDED" ? 2 : status === "RUNNING" ? 1 : 0;
  for (const li of document.querySelectorAll(".steps li")) {
    const i = order.indexOf(li.dataset.step);
    if (status === "SUCCEEDED") li.className = "done";
    else li.className = i < reached ? "done" : i === reached ? (FINAL.includes(status) ? "failed" : "current") : "";
  }
  const seconds = ((Date.now() - state.startedAt) / 1000).toFixed(1);
  $("#task-meta").textContent = `task ${output.taskId} · ${seconds} s` + (output.endTime ? ` · ended ${output.endTime} (UTC+8)` : "");
  if (status === "SUCCEEDED" && output.outputImageUrl) {
    $("#after").src = output.outputImageUrl;
    $("#after-figure").hidden = false;
  }
  if (status === "FAILED" || status === "UNKNOWN") {
    showError(`${STATUS_TEXT[status]} ${output.message ? "DashScope says: " + output.message : ""}`.trim());
  }
}

async function poll() {
  try {
    const data = await call("GET", `/api/picture/out_painting/get_task?taskId=${encodeURIComponent(state.taskId)}`);
    renderTask(data.output);
    if (FINAL.includes(data.output.taskStatus)) {
      $("#start").disabled = false;
      return;
    }
  } catch (e) {
    // A passing error (e.g. a restart) must not end the watch: show it and keep polling.
    showError(`Checking the task failed: ${e.message}. Retrying…`);
  }
  state.timer = setTimeout(poll, POLL_MS);
}

async function start(event) {
  if (event) event.preventDefault();
  showError("");
  if (!state.user) return showError("Pick a user first.");
  if (!state.picture) return showError("Pick a picture first.");
  clearTimeout(state.timer);
  $("#start").disabled = true;
  $("#after-figure").hidden = true;
  try {
    const data = await call("POST", "/api/picture/out_painting/create_task", { pictureId: state.picture, parameters: parameters() });
    state.taskId = data.output.taskId;
    state.startedAt = Date.now();
    $("#task").hidden = false;
    $("#before").src = `${DEVSERVER}/images/demo-${state.picture}.png`;
    renderTask({ taskId: state.taskId, taskStatus: data.output.taskStatus });
    state.timer = setTimeout(poll, POLL_MS);
  } catch (e) {
    $("#start").disabled = false;
    showError(e.code === 40101 ? `Not allowed: this user may not edit that picture (${e.message}).` : e.message);
  }
}

function wireForm() {
  const f = $("#form");
  for (const axis of ["xScale", "yScale"]) {
    f.elements[axis].addEventListener("input", () => { f.elements[axis + "Out"].value = f.elements[axis].value; });
  }
  f.addEventListener("submit", start);
}

async function main() {
  wireForm();
  const p = hashParams();
  state.picture = Number(p.get("picture")) || null;
  renderPictures();
  renderUsers();
  if (p.get("user")) await login(Number(p.get("user")));
  if (p.has("start")) await start();
}

main();
