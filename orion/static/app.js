// Spark Orion web UI: plain DOM, no build step. Every string from the API is set with
// textContent (never as markup), so job names, args and log lines can never become HTML.
"use strict";

const TOKEN_KEY = "orion.token";
const POLL_MS = 2000;
const LOG_KEEP_CHARS = 400000; // the page keeps the tail of a long log, the server keeps the rest

const state = { selected: null, logOffset: 0, timer: null, busy: false, logBusy: false };
const $ = (id) => document.getElementById(id);

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text instanceof Node) node.append(text);
  else if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

// A table row of `cellTag` cells, each holding a text or a node.
function row(cellTag, cells) {
  const tr = el("tr");
  tr.append(...cells.map((cell) => el(cellTag, cell)));
  return tr;
}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

async function api(path, options = {}) {
  const resp = await fetch(path, { ...options, headers: { Authorization: "Bearer " + token() } });
  if (resp.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin("The token was refused: enter it again.");
    throw new ApiError(401, "unauthorized");
  }
  if (resp.status === 204) return null;
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail || body);
    throw new ApiError(resp.status, detail);
  }
  return body;
}

function showLogin(message) {
  clearInterval(state.timer);
  state.timer = null;
  $("app").hidden = $("logout-button").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("token-input").focus();
}

function showApp() {
  $("login").hidden = true;
  $("app").hidden = $("logout-button").hidden = false;
  loadCatalog();
  refresh();
  if (!state.timer) state.timer = setInterval(refresh, POLL_MS);
}

async function refresh() {
  if (state.busy) return;
  state.busy = true;
  try {
    await Promise.all([refreshHealth(), refreshJobs(), state.selected ? refreshDetail() : null]);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) console.warn(err);
  } finally {
    state.busy = false;
  }
}

async function refreshHealth() {
  const pill = $("health");
  try {
    const m = (await (await fetch("/health")).json()).spark_master;
    pill.textContent = m.reachable
      ? `master: ${m.status}, ${m.alive_workers} workers, ${m.cores_used}/${m.cores} cores used`
      : "master: unreachable";
    pill.className = "pill " + (m.reachable ? "ok" : "bad");
  } catch (err) {
    pill.textContent = "Orion unreachable";
    pill.className = "pill bad";
  }
}

function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

async function refreshJobs() {
  const jobs = await api("/jobs");
  const rows = jobs.map((job) => {
    const tr = row("td", [job.id, job.name, el("span", job.state, "state " + job.state), job.app_id || "",
      job.restart_count, fmtTime(job.started_at)]);
    tr.dataset.jobId = job.id;
    if (job.id === state.selected) tr.className = "selected";
    tr.addEventListener("click", () => selectJob(job.id));
    return tr;
  });
  $("jobs-table").tBodies[0].replaceChildren(...rows);
  $("jobs-empty").hidden = jobs.length > 0;
}

async function loadCatalog() {
  const select = $("job-select");
  try {
    const jobs = await api("/catalog");
    select.replaceChildren(...jobs.map((j) =>
      Object.assign(el("option", j.description ? `${j.name} (${j.description})` : j.name), { value: j.name })));
    if (jobs.length === 0) {
      select.append(el("option", "no shipped jobs"));
      select.disabled = true;
      $("source-upload").checked = true;
    }
  } catch (err) {
    console.warn(err);
  }
}

function selectJob(id) {
  if (state.selected !== id) {
    state.selected = id;
    state.logOffset = 0;
    $("log-view").textContent = "";
    $("action-result").textContent = "";
  }
  $("detail").hidden = false;
  for (const tr of $("jobs-table").tBodies[0].rows) tr.className = Number(tr.dataset.jobId) === id ? "selected" : "";
  refreshDetail().catch((err) => console.warn(err));
}

async function refreshDetail() {
  const id = state.selected;
  const job = await api(`/jobs/${id}`).catch((err) => {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
    state.selected = null; // the job is gone
    $("detail").hidden = true;
    return null;
  });
  if (!job || id !== state.selected) return;
  $("detail-id").textContent = job.id;
  $("detail-name").textContent = job.name;
  Object.assign($("detail-state"), { textContent: job.state, className: "state " + job.state });
  const active = ["queued", "submitted", "running", "restarting"].includes(job.state);
  $("stop-button").disabled = !active;
  $("delete-button").disabled = active;
  $("restart-button").disabled = job.state === "queued";

  const batch = job.stop_batch_id == null ? "" : ` (batch ${job.stop_batch_id})`; // null or undefined
  const fields = [
    ["Source", job.source], ["Supervised", job.supervise ? "yes" : "no"], ["Application", job.app_id],
    ["Driver PID", job.pid], ["Runs", job.run], ["Restarts", job.restart_count],
    ["Created", fmtTime(job.created_at)], ["Started", fmtTime(job.started_at)],
    ["Running since", fmtTime(job.running_at)], ["Ended", fmtTime(job.ended_at)],
    ["Exit code", job.exit_code], ["Stop outcome", job.stop_outcome && job.stop_outcome + batch],
    ["Detail", job.detail],
    ["Checkpoint", job.checkpoint], ["Code hash", job.code_hash ? job.code_hash.slice(0, 12) : null],
    ["Arguments", JSON.stringify(job.args)], ["Conf", JSON.stringify(job.conf)], ["Command", job.command.join(" ")],
  ];
  const shown = fields.filter(([, value]) => value !== null && value !== undefined && value !== "");
  $("detail-fields").replaceChildren(...shown.flatMap(([name, value]) => [el("dt", name), el("dd", value)]));
  renderMetrics(job.streaming);
  await refreshLog(id);
}

function renderMetrics(streaming) {
  const box = $("metrics");
  if (!streaming || streaming.queries.length === 0) {
    box.replaceChildren(el("p", "No streaming query reported (yet).", "muted"));
    return;
  }
  const table = el("table");
  table.id = "metrics-table";
  table.append(row("th", ["Query", "Batch", "Last batch", "Input rows/s", "Processed rows/s", "Batch ms", "Rows",
    "Latest offsets"]));
  const num = (v) => (v === null || v === undefined ? "" : Number(v).toFixed(1));
  for (const q of streaming.queries) {
    const offsets = q.sources.map((s) => JSON.stringify(s.end_offset)).join("; ");
    table.append(row("td", [q.name || q.id, q.batch_id, fmtTime(q.last_batch_at), num(q.input_rows_per_second),
      num(q.processed_rows_per_second), q.batch_duration_ms, q.num_input_rows, offsets]));
  }
  box.replaceChildren(table, el("p", "Reported by the driver at " + fmtTime(streaming.updated_at), "muted"));
}

async function refreshLog(id) {
  if (state.logBusy) return; // one reader at a time, or the same chunk would be appended twice
  state.logBusy = true;
  try {
    for (let i = 0; i < 20; i++) { // catch up in chunks, at most ~1.3 MB per refresh
      const chunk = await api(`/jobs/${id}/logs?offset=${state.logOffset}`);
      if (id !== state.selected) return;
      const view = $("log-view");
      if (chunk.truncated && state.logOffset > 0) view.append(document.createTextNode("… [older lines dropped]\n"));
      if (chunk.text) view.append(document.createTextNode(chunk.text));
      state.logOffset = chunk.next_offset;
      if (view.textContent.length > LOG_KEEP_CHARS) view.textContent = view.textContent.slice(-LOG_KEEP_CHARS);
      if ($("follow-input").checked) view.scrollTop = view.scrollHeight;
      if (chunk.next_offset >= chunk.size || !chunk.text) break;
    }
  } finally {
    state.logBusy = false;
  }
}

async function jobAction(action) {
  const id = state.selected;
  const out = $("action-result");
  out.textContent = `${action}…`;
  try {
    if (action === "delete") {
      await api(`/jobs/${id}`, { method: "DELETE" });
      out.textContent = "";
      state.selected = null;
      $("detail").hidden = true;
    } else {
      const job = await api(`/jobs/${id}/${action}`, { method: "POST" });
      out.textContent = `${action}: now ${job.state}`;
    }
  } catch (err) {
    out.textContent = `${action} failed: ${err.message}`;
  }
  refresh();
}

async function submitJob(event) {
  event.preventDefault();
  const out = $("submit-result");
  const form = new FormData();
  if ($("source-upload").checked) {
    const file = $("file-input").files[0];
    if (!file) { out.textContent = "Choose a .py file to upload."; return; }
    form.append("file", file, file.name);
  } else {
    form.append("job", $("job-select").value);
  }
  if ($("args-input").value.trim()) form.append("args", $("args-input").value);
  if ($("conf-input").value.trim()) form.append("conf", $("conf-input").value);
  form.append("supervise", $("supervise-input").checked ? "true" : "false");
  Object.assign(out, { className: "muted", textContent: "Submitting…" });
  try {
    const created = await api("/jobs", { method: "POST", body: form });
    out.textContent = `Job ${created.id} is ${created.state}.`;
    await refreshJobs();
    selectJob(created.id);
  } catch (err) {
    Object.assign(out, { className: "error", textContent: `Refused (${err.status}): ${err.message}` });
  }
}

function init() {
  // A token in the fragment (#token=...) signs in once; the fragment is never sent to the server.
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.get("token")) {
    sessionStorage.setItem(TOKEN_KEY, fragment.get("token"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token-input").value);
    $("token-input").value = "";
    try {
      await api("/jobs");
      showApp();
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) $("login-error").textContent = String(err.message);
    }
  });
  $("logout-button").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); showLogin(""); });
  $("submit-form").addEventListener("submit", submitJob);
  $("file-input").addEventListener("change", () => { $("source-upload").checked = true; });
  $("job-select").addEventListener("change", () => { $("source-shipped").checked = true; });
  for (const action of ["stop", "restart", "delete"]) {
    $(`${action}-button`).addEventListener("click", () => jobAction(action));
  }
  if (token()) showApp(); else showLogin("");
}

document.addEventListener("DOMContentLoaded", init);
