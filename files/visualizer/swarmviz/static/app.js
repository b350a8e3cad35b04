// Swarm visualizer: polls api/state and draws one column per node, one card per task.
"use strict";

const DEFAULT_REFRESH_SECONDS = 2;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// One colour per service, the same on every node: hues a golden angle apart, in name order.
let serviceHues = new Map();

function setServiceHues(services) {
  serviceHues = new Map(services.map((svc, i) => [svc.name, Math.round(210 + i * 137.508) % 360]));
}

function serviceHue(name) {
  return serviceHues.has(name) ? serviceHues.get(name) : 0;
}

function stateClass(state) {
  if (state === "running" || state === "ready" || state === "active") return "ok";
  if (["failed", "rejected", "orphaned", "down", "disconnected", "drain"].includes(state)) return "bad";
  return "wait";
}

function chip(text, kind) {
  return el("span", "chip " + kind, text);
}

function taskCard(task) {
  const card = el("article", "task");
  card.dataset.service = task.service;
  card.dataset.state = task.state;
  card.style.setProperty("--hue", serviceHue(task.service));
  const head = el("div", "task-head");
  head.append(el("span", "task-service", task.service));
  head.append(el("span", "task-slot", task.slot === null ? "global" : "slot " + task.slot));
  card.append(head);
  const foot = el("div", "task-foot");
  foot.append(chip(task.state, stateClass(task.state)));
  foot.append(el("span", "task-image", task.image));
  card.append(foot);
  card.title = "task " + task.id;
  return card;
}

function nodeColumn(node) {
  const col = el("section", "node");
  col.dataset.hostname = node.hostname;
  col.dataset.role = node.role;
  const head = el("header", "node-head");
  head.append(el("h2", "node-name", node.hostname));
  const chips = el("div", "chips");
  chips.append(chip(node.role, "role " + node.role));
  if (node.leader) chips.append(chip("★ leader", "role leader"));
  chips.append(chip(node.availability, stateClass(node.availability)));
  chips.append(chip(node.state, stateClass(node.state)));
  head.append(chips);
  head.append(el("p", "node-addr", node.addr));
  col.append(head);
  const list = el("div", "tasks");
  for (const task of node.tasks) list.append(taskCard(task));
  if (node.tasks.length === 0) list.append(el("p", "empty", "no tasks"));
  col.append(list);
  return col;
}

function serviceChip(svc) {
  const count = svc.mode === "global" ? svc.running + " global" : svc.running + "/" + svc.replicas;
  const item = el("span", "service", svc.name + " " + count);
  item.style.setProperty("--hue", serviceHue(svc.name));
  item.title = svc.image;
  return item;
}

function render(state) {
  setServiceHues(state.services);
  const nodes = document.getElementById("nodes");
  const columns = state.nodes.map(nodeColumn);
  if (state.unassigned && state.unassigned.length) {
    columns.push(nodeColumn({
      hostname: "unassigned", role: "pending", leader: false, availability: "",
      state: "pending", addr: "tasks no node has taken", tasks: state.unassigned,
    }));
  }
  nodes.replaceChildren(...columns);
  document.getElementById("services").replaceChildren(...state.services.map(serviceChip));
  const taskCount = state.nodes.reduce((sum, node) => sum + node.tasks.length, 0);
  const time = state.updated ? new Date(state.updated).toLocaleTimeString() : "–";
  setStatus(`${state.nodes.length} nodes · ${taskCount} tasks · updated ${time}`);
  showError(state.error);
}

function setStatus(text) {
  document.getElementById("status").textContent = text;
}

function showError(message) {
  const box = document.getElementById("error");
  box.hidden = !message;
  box.textContent = message || "";
}

async function refresh() {
  let wait = DEFAULT_REFRESH_SECONDS;
  try {
    const response = await fetch("api/state", { cache: "no-store" });
    const state = await response.json();
    wait = state.refresh_seconds || wait;
    render(state);
  } catch (err) {
    showError("Cannot reach the visualizer's api/state: " + err.message + ". Retrying.");
  }
  setTimeout(refresh, wait * 1000);
}

refresh();
