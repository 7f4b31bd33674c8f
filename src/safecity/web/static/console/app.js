// The operator console: sign-in, the incident queue (keyboard first), the map, the incident
// view, the units board, sensor health and dead letters. Plain ES modules, no build step; every
// request goes to this server's API (common/api.js) and the map module (common/map.js).

import { api, live, session, escapeHtml as h } from "/static/common/api.js";
import { confirmDialog, fmtTime, fmtAge, fmtDuration, beep, announce } from "/static/console/util.js";
import { renderIncident, refreshIncidentParts, onChannelMessage } from "/static/console/incident.js";
import { renderUnits, renderSensors, renderDeadLetters } from "/static/console/boards.js";
import { startProposals, trackProposal, loadPending } from "/static/console/proposals.js";

const $ = (sel, root = document) => root.querySelector(sel);
const OPEN = ["new", "acknowledged", "dispatched", "on_scene"];
const PAGE = 150;

export const state = {
  me: null,
  incidents: new Map(),
  visible: [],
  selected: null,
  opened: null,
  shown: PAGE,
  filter: { text: "", area: "", type: "", agency: "" },
  units: new Map(),
  sensors: [],
  map: null,
  layers: {},
  stream: null,
  connected: false,
  everConnected: false,
  lastSync: null,
  tab: "map",
};

const can = (perm) => Boolean(state.me && state.me.permissions.includes(perm));

// ---- sign-in ---------------------------------------------------------------------------

function takeTokenFromFragment() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = params.get("token");
  if (!token) return;
  session.token = token;
  session.purpose = params.get("purpose") || ""; // a new token starts from its role's purpose
  history.replaceState(null, "", location.pathname + location.search);
}

function loginMessage(err) {
  if (err && err.status === 401) {
    return "Sign-in failed: this access token is not valid (unknown, revoked or expired).";
  }
  if (err && err.status === 403) return `Sign-in refused: ${err.message}`;
  return `Sign-in failed: ${err ? err.message : "unknown error"}`;
}

function showLogin(message = "") {
  $("#console").hidden = true;
  $("#tabs").hidden = true;
  $("#awaiting").hidden = true;
  if ($("#awaiting-dialog").open) $("#awaiting-dialog").close();
  $("#who").innerHTML = "";
  $("#login").hidden = false;
  $("#login-error").textContent = message;
  $("#login-token").focus();
}

let purposeLookup = 0;
async function offerPurposes() {
  // Once a token is typed, ask who it is and offer only the purposes its role may declare.
  const token = $("#login-token").value.trim();
  if (!token) return;
  const ticket = ++purposeLookup;
  try {
    const me = await api("/v1/me", { auth: false, headers: { Authorization: `Bearer ${token}` } });
    if (ticket !== purposeLookup) return;
    const select = $("#login-purpose");
    select.innerHTML = me.purposes
      .map((p) => `<option value="${h(p)}"${p === me.purpose ? " selected" : ""}>${h(p)}</option>`)
      .join("");
    $("#login-error").textContent = "";
  } catch {
    /* reported when the form is sent */
  }
}

async function signIn() {
  state.me = await api("/v1/me");
  session.purpose = state.me.purpose;
  $("#login").hidden = true;
  renderWho();
  await startConsole();
}

function renderWho() {
  const me = state.me;
  $("#who").innerHTML = `
    <span id="live-state" class="off" aria-live="polite">connecting…</span>
    <span class="who-lines">
      <span><strong id="who-name">${h(me.display_name)}</strong> (${h(me.user_id)}) · <span id="who-role">${h(me.role)}</span></span>
      <span><span id="who-agency">${h(me.agency_name || me.agency_id)}</span> · <span id="who-purpose">purpose: ${h(me.purpose)}</span></span>
    </span>
    <button type="button" id="sign-out">Sign out</button>`;
  $("#sign-out").addEventListener("click", signOut);
}

function signOut() {
  if (state.stream) state.stream.close();
  state.stream = null;
  session.signOut();
  location.reload();
}

// ---- start -----------------------------------------------------------------------------

async function loadMapModule() {
  try {
    return await import("/static/common/map.js");
  } catch (err) {
    console.warn("map module unavailable", err);
    return null;
  }
}

async function startConsole() {
  $("#console").hidden = false;
  $("#tabs").hidden = false;
  const incidentsAllowed = can("incidents:read");
  $("#queue").hidden = !incidentsAllowed;
  $("#detail").hidden = !incidentsAllowed;
  $("#console").classList.toggle("no-incidents", !incidentsAllowed);
  $('#tabs [data-tab="map"]').textContent = incidentsAllowed ? "Incidents" : "Map";
  $('#tabs [data-tab="units"]').hidden = !can("units:read");
  $('#tabs [data-tab="sensors"]').hidden = !can("sensors:read");
  $('#tabs [data-tab="dead"]').hidden = !["integrator", "admin"].includes(state.me.role);

  startProposals(); // the "Awaiting decision" badge and its pending list, from every tab
  const mapModule = await loadMapModule();
  const incidentsLoad = incidentsAllowed ? loadIncidents() : Promise.resolve();
  const unitsLoad = can("units:read") ? loadUnits() : Promise.resolve();
  if (mapModule) setUpMap(mapModule);
  await incidentsLoad;
  renderQueueNow();
  drawIncidents();
  requestAnimationFrame(() => {
    performance.mark("console-ready");
    document.body.dataset.ready = "1";
  });
  startLive();
  await unitsLoad;
  if (can("sensors:read")) loadSensors().catch((e) => console.warn(e));
  if (can("events:read")) loadGunshots().catch((e) => console.warn(e));
  if (!incidentsAllowed) selectTab("sensors");
  setInterval(() => scheduleQueue(), 30_000); // ages
}

function setUpMap(m) {
  state.mapModule = m;
  // No centre given: the map fits the city's basemap, whatever city this is.
  state.map = m.createMap($("#map"), { theme: "dark" });
  state.layers.incidents = m.incidentLayer(state.map);
  state.layers.units = m.unitLayer(state.map);
  state.layers.ellipses = m.ellipseLayer(state.map);
  state.replay = L.layerGroup().addTo(state.map);
}

function addLayerControl() {
  const m = state.mapModule;
  if (!m || !state.map || state.layerControlAdded) return;
  state.layerControlAdded = true;
  const layers = {};
  const add = (name, layer) => {
    const l = layer && (layer.layer || layer.group || layer);
    if (l && typeof l.addTo === "function") layers[name] = l;
  };
  add("Sensors", state.layers.sensors);
  add("Units", state.layers.units);
  add("Incidents", state.layers.incidents);
  add("Gunshot ellipses", state.layers.ellipses);
  add("Replay", state.replay);
  try {
    m.layerControl(state.map, layers);
  } catch (err) {
    console.warn("layer control", err);
  }
}

async function loadIncidents() {
  const status = OPEN.map((s) => `status=${s}`).join("&");
  for (let offset = 0; offset < 5000; offset += 1000) {
    const page = await api(`/v1/incidents?${status}&limit=1000&offset=${offset}`);
    for (const inc of page.items) putIncident(inc);
    if (page.items.length < 1000) break;
  }
}

async function loadUnits() {
  const page = await api("/v1/units");
  for (const u of page.items) state.units.set(u.id, u);
  if (state.layers.units) for (const u of page.items) state.layers.units.update(u);
  if (state.tab === "units") renderUnits(state);
}

async function loadSensors() {
  const all = [];
  for (let offset = 0; offset < 50_000; offset += 5000) {
    const page = await api(`/v1/sensors?limit=5000&offset=${offset}`);
    all.push(...page.items);
    if (page.items.length < 5000) break;
  }
  state.sensors = all;
  if (state.mapModule && state.map) {
    state.layers.sensors = state.mapModule.sensorLayer(state.map, all);
  }
  addLayerControl();
  performance.mark("console-sensors");
}

async function loadGunshots() {
  const start = new Date(Date.now() - 6 * 3600_000).toISOString();
  const page = await api(`/v1/events?type=gunshot.located&start=${encodeURIComponent(start)}&limit=500`);
  for (const item of page.items) drawEllipse(item.event);
}

function drawEllipse(ev) {
  const e = ev.data && ev.data.ellipse;
  if (!e || !ev.location || !state.layers.ellipses) return;
  state.layers.ellipses.add(ev.location.lon, ev.location.lat, e.semi_major_m, e.semi_minor_m, e.orientation_deg);
}

// ---- incidents in memory ---------------------------------------------------------------

function putIncident(inc) {
  if (!state.lastSync || inc.updated_at > state.lastSync) state.lastSync = inc.updated_at;
  if (!OPEN.includes(inc.status) || inc.merged_into) {
    state.incidents.delete(inc.id);
    if (state.layers.incidents) state.layers.incidents.remove(inc.id);
    return;
  }
  state.incidents.set(inc.id, inc);
}

function drawIncidents() {
  if (!state.layers.incidents) return;
  for (const inc of state.incidents.values()) state.layers.incidents.update(inc);
}

export function updateIncident(inc) {
  putIncident(inc);
  if (state.layers.incidents && state.incidents.has(inc.id)) state.layers.incidents.update(inc);
  scheduleQueue();
  if (state.opened === inc.id) refreshIncidentParts(state, inc);
}

// ---- the queue -------------------------------------------------------------------------

function matches(inc) {
  const f = state.filter;
  if (f.area && inc.area !== f.area) return false;
  if (f.type && inc.type !== f.type) return false;
  if (f.agency && !(inc.agencies || []).includes(f.agency) && inc.agency_id !== f.agency) return false;
  if (f.text) {
    const hay = `${inc.title} ${inc.id} ${inc.type} ${inc.area || ""} ${inc.summary || ""}`.toLowerCase();
    if (!hay.includes(f.text)) return false;
  }
  return true;
}

function byUrgency(a, b) {
  return a.priority - b.priority || (a.opened_at < b.opened_at ? -1 : a.opened_at > b.opened_at ? 1 : 0);
}

let queueScheduled = false;
function scheduleQueue() {
  if (queueScheduled) return;
  queueScheduled = true;
  requestAnimationFrame(() => {
    queueScheduled = false;
    renderQueueNow();
  });
}

function factorList(inc) {
  const a = inc.assessment;
  if (!a) return "";
  const items = (a.factors || [])
    .map((f) => `<li>${h(f.name)} ${f.points >= 0 ? "+" : ""}${Math.round(f.points)}: ${h(f.detail)}</li>`)
    .join("");
  const override = a.override ? `<li>override to P${a.override.priority}: ${h(a.override.reason)}</li>` : "";
  return `<details${state.openFactors.has(inc.id) ? " open" : ""}><summary>Why P${inc.priority} (score ${Math.round(a.score)})</summary><ul>${items}${override}</ul></details>`;
}

function row(inc) {
  const sel = inc.id === state.selected;
  const agencies = (inc.agencies || []).map((a) => a.replace(/^helsinki-/, "")).join(", ");
  return `<li id="q-${h(inc.id)}" role="option" data-id="${h(inc.id)}" aria-selected="${sel}"
    class="p${inc.priority}${inc.id === state.opened ? " opened" : ""}${state.flash.has(inc.id) ? " new-urgent" : ""}">
    <span class="pri p${inc.priority}">P${inc.priority}</span>
    <span class="title">${h(inc.title)}</span><span class="age" title="${h(fmtTime(inc.opened_at))}">${fmtAge(inc.opened_at)}</span>
    <span class="meta"><span class="status ${h(inc.status)}">${h(inc.status.replace("_", " "))}</span>
      ${h(inc.type)} · ${h(inc.area || "no area")}${agencies ? ` · ${h(agencies)}` : ""}</span>
    ${factorList(inc)}</li>`;
}
state.flash = new Set();
state.openFactors = new Set(); // rows whose priority factors are unfolded survive re-renders

function updateFilterOptions() {
  const sets = { area: new Set(), type: new Set(), agency: new Set() };
  for (const inc of state.incidents.values()) {
    if (inc.area) sets.area.add(inc.area);
    sets.type.add(inc.type);
    for (const a of inc.agencies || []) sets.agency.add(a);
  }
  for (const [key, values] of Object.entries(sets)) {
    const select = $(`#filter-${key}`);
    const sig = [...values].sort().join("|");
    if (select.dataset.sig === sig) continue;
    select.dataset.sig = sig;
    const current = select.value;
    const first = select.options[0].outerHTML;
    select.innerHTML = first + [...values].sort().map((v) => `<option>${h(v)}</option>`).join("");
    select.value = current;
  }
}

function renderQueueNow() {
  if (!can("incidents:read")) return;
  const list = [...state.incidents.values()].filter(matches).sort(byUrgency);
  state.visible = list;
  if (state.selected && !list.some((i) => i.id === state.selected)) state.selected = null;
  if (!state.selected && list.length) state.selected = list[0].id;
  const ol = $("#queue-list");
  const selIndex = list.findIndex((i) => i.id === state.selected);
  const shown = Math.max(state.shown, selIndex + 1);
  ol.innerHTML = list.slice(0, shown).map(row).join("");
  ol.setAttribute("aria-activedescendant", state.selected ? `q-${state.selected}` : "");
  $("#queue-more").hidden = list.length <= shown;
  $("#queue-count").textContent = `(${list.length})`;
  updateFilterOptions();
}

function select(id, { scroll = true } = {}) {
  state.selected = id;
  for (const li of $("#queue-list").querySelectorAll('[aria-selected="true"]')) li.setAttribute("aria-selected", "false");
  let li = document.getElementById(`q-${id}`);
  if (!li) {
    renderQueueNow();
    li = document.getElementById(`q-${id}`);
  }
  if (li) {
    li.setAttribute("aria-selected", "true");
    if (scroll) li.scrollIntoView({ block: "nearest" });
  }
  $("#queue-list").setAttribute("aria-activedescendant", id ? `q-${id}` : "");
}

function move(step) {
  const list = state.visible;
  if (!list.length) return;
  let i = list.findIndex((x) => x.id === state.selected);
  i = Math.min(list.length - 1, Math.max(0, i + step));
  select(list[i].id);
}

export async function openIncident(id) {
  state.opened = id;
  for (const li of $("#queue-list").querySelectorAll(".opened")) li.classList.remove("opened");
  const li = document.getElementById(`q-${id}`);
  if (li) li.classList.add("opened");
  const inc = state.incidents.get(id);
  if (inc && state.map && inc.location) state.map.panTo([inc.location.lat, inc.location.lon]);
  await renderIncident(state, id);
}

export async function acknowledge(id) {
  const inc = await api(`/v1/incidents/${encodeURIComponent(id)}/acknowledge`, { method: "POST", body: {} });
  updateIncident(inc);
  announce(`Acknowledged: ${inc.title}`);
  return inc;
}

export async function dispatchRecommended(id) {
  const rec = await api(`/v1/incidents/${encodeURIComponent(id)}/recommendation`);
  if (!rec.team.length) {
    await confirmDialog("No team to dispatch", `<p>No available unit covers this incident.</p>`, { okLabel: "Close" });
    return null;
  }
  const byId = new Map(rec.ranked.map((u) => [u.unit_id, u]));
  const lines = rec.team
    .map((uid) => {
      const u = byId.get(uid) || { callsign: uid, agency_id: "", drive_time_s: null };
      return `<li><strong>${h(u.callsign)}</strong> (${h(u.agency_id)}) — ${fmtDuration(u.drive_time_s)} drive</li>`;
    })
    .join("");
  const inc = state.incidents.get(id);
  const ok = await confirmDialog(
    "Dispatch the recommended team?",
    `<p>${h(inc ? inc.title : id)}</p><ul>${lines}</ul>${
      rec.uncovered.length ? `<p class="error">Not covered: ${h(rec.uncovered.join(", "))}</p>` : ""
    }`,
    { okLabel: "Confirm dispatch" },
  );
  if (!ok) return null;
  const updated = await api(`/v1/incidents/${encodeURIComponent(id)}/dispatch`, {
    method: "POST",
    body: { units: rec.team },
  });
  updateIncident(updated);
  announce(`Dispatched ${rec.team.join(", ")} to ${updated.title}`);
  if (can("units:read")) loadUnits().catch(() => {});
  return updated;
}

function reportError(err) {
  if (err && err.status === 401) {
    // The token was revoked or expired during the shift: back to the sign-in form.
    if (state.stream) state.stream.close();
    session.signOut();
    state.me = null;
    showLogin(loginMessage(err));
    return;
  }
  announce(`Error: ${err.message}`);
  const box = $("#detail-error");
  if (box) box.textContent = err.message;
  else alert(err.message); // eslint-disable-line no-alert
}

function typing(target) {
  return target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
}

function onKey(e) {
  if (!state.me || $("#confirm").open || $("#awaiting-dialog").open || e.ctrlKey || e.metaKey || e.altKey) return;
  if (typing(e.target)) {
    if (e.key === "Escape") e.target.blur();
    return;
  }
  if (!can("incidents:read") || state.tab !== "map") return;
  const id = state.selected;
  switch (e.key) {
    case "ArrowDown":
    case "j":
      move(1);
      break;
    case "ArrowUp":
    case "k":
      move(-1);
      break;
    case "Enter":
      if (id && !(e.target instanceof HTMLButtonElement) && e.target.tagName !== "SUMMARY") openIncident(id);
      else return;
      break;
    case "a":
      if (id) acknowledge(id).catch(reportError);
      break;
    case "d":
      if (id) dispatchRecommended(id).catch(reportError);
      break;
    case "/":
      $("#filter-text").focus();
      break;
    default:
      return;
  }
  e.preventDefault();
}

// ---- live ------------------------------------------------------------------------------

function topics() {
  const t = [];
  if (can("events:read")) t.push("event");
  if (can("incidents:read")) t.push("incident", "message", "proposal");
  if (can("units:read")) t.push("unit");
  return t;
}

function startLive() {
  const t = topics();
  if (!t.length) {
    setLiveState(true);
    return;
  }
  state.stream = live(t, onFrame, (connected, detail) => setLiveState(connected, detail));
}

function setLiveState(connected, detail = "") {
  const was = state.connected;
  state.connected = connected;
  const label = $("#live-state");
  if (label) {
    label.textContent = connected ? "live" : "offline";
    label.className = connected ? "on" : "off";
  }
  $("#live-banner").hidden = connected;
  if (!connected) $("#live-banner").textContent = `Live stream lost (${detail}) — reconnecting…`;
  if (connected && !was && state.everConnected) catchUp().catch((e) => console.warn("catch-up", e));
  if (connected && !was) reloadPending();
  if (connected) state.everConnected = true;
}

async function catchUp() {
  // Anything may have changed while the stream was down: fetch it again.
  if (can("incidents:read")) {
    const since = state.lastSync
      ? new Date(new Date(state.lastSync).getTime() - 5000).toISOString()
      : new Date(Date.now() - 3600_000).toISOString();
    const page = await api(`/v1/incidents?updated_since=${encodeURIComponent(since)}&limit=1000`);
    for (const inc of page.items) updateIncident(inc);
    if (state.opened) renderIncident(state, state.opened).catch(() => {});
  }
  if (can("units:read")) await loadUnits();
}

function reloadPending() {
  // What was proposed, decided or expired while the stream was down (or before it came up).
  loadPending().catch((e) => console.warn("proposals", e));
}

function onFrame(frame) {
  const d = frame.data;
  if (frame.topic === "incident") {
    const inc = d.incident;
    if (!inc) return;
    const known = state.incidents.has(inc.id);
    updateIncident(inc);
    if (!known && d.action === "opened" && inc.priority <= 2 && OPEN.includes(inc.status)) {
      state.flash.add(inc.id);
      setTimeout(() => state.flash.delete(inc.id), 4000);
      beep();
      announce(`New priority ${inc.priority} incident: ${inc.title}, ${inc.area || ""}`);
    } else if (!known && d.action === "opened") {
      announce(`New incident: ${inc.title}`);
    }
  } else if (frame.topic === "message") {
    onChannelMessage(state, d);
  } else if (frame.topic === "proposal") {
    trackProposal(d, { live: true });
  } else if (frame.topic === "unit") {
    state.units.set(d.id, d);
    if (state.layers.units) state.layers.units.update(d);
    if (state.tab === "units") scheduleBoard();
  } else if (frame.topic === "event") {
    const ev = d.event;
    if (!ev) return;
    if (ev.type === "gunshot.located") drawEllipse(ev);
  }
}

let boardScheduled = false;
function scheduleBoard() {
  if (boardScheduled) return;
  boardScheduled = true;
  setTimeout(() => {
    boardScheduled = false;
    renderUnits(state);
  }, 250);
}

// ---- tabs, boards, replay --------------------------------------------------------------

function selectTab(tab) {
  state.tab = tab;
  for (const b of document.querySelectorAll("#tabs button")) b.setAttribute("aria-pressed", String(b.dataset.tab === tab));
  for (const v of ["map", "units", "sensors", "dead"]) $(`#view-${v}`).hidden = v !== tab;
  if (tab === "map" && state.map) state.map.invalidateSize();
  if (tab === "units") renderUnits(state);
  if (tab === "sensors") refreshSensorHealth().catch(reportError);
  if (tab === "dead") loadDeadLetters();
}

async function refreshSensorHealth() {
  // The server keeps each device's newest event and reported fault as events are stored, and
  // judges silence by its own clock; the console asks for the first rows of each state.
  const minutes = Math.min(Math.max(Math.round(Number($("#silent-minutes").value)) || 60, 1), 43_200);
  const ask = (health, limit) => api(`/v1/sensors/health?silent_after_min=${minutes}&state=${health}&limit=${limit}`);
  const pages = await Promise.all([ask("faulty", 200), ask("silent", 300), ask("heard", 100)]);
  renderSensors(pages, minutes);
}

async function loadDeadLetters() {
  try {
    const page = await api("/v1/dead-letters?limit=200");
    renderDeadLetters(page.items);
  } catch (err) {
    $("#dead-table tbody").innerHTML = `<tr><td colspan="5" class="error">${h(err.message)}</td></tr>`;
  }
}

let replayTicket = 0;
async function replay(minutesBack) {
  const label = $("#replay-label");
  const ticket = ++replayTicket;
  if (!state.replay) return;
  state.replay.clearLayers();
  if (minutesBack === 0) {
    label.textContent = "live";
    return;
  }
  const at = new Date(Date.now() + minutesBack * 60_000);
  label.textContent = `${fmtTime(at.toISOString())} (−${-minutesBack} min)`;
  const start = new Date(at.getTime() - 15 * 60_000).toISOString();
  const b = state.map.getBounds();
  const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map((x) => x.toFixed(5)).join(",");
  const page = await api(
    `/v1/events?start=${encodeURIComponent(start)}&end=${encodeURIComponent(at.toISOString())}&bbox=${bbox}&limit=1000`,
  );
  if (ticket !== replayTicket) return;
  for (const item of page.items) {
    const ev = item.event;
    if (!ev.location) continue;
    L.circleMarker([ev.location.lat, ev.location.lon], { radius: 4, color: "#6cb6ff", weight: 1, fillOpacity: 0.6 })
      .bindTooltip(`${ev.type} ${fmtTime(ev.time)}`)
      .addTo(state.replay);
  }
  for (const inc of state.incidents.values()) {
    if (inc.opened_at <= at.toISOString() && inc.location) {
      L.circleMarker([inc.location.lat, inc.location.lon], { radius: 8, color: "#ffa657", weight: 2, fill: false })
        .bindTooltip(`${inc.title} (opened ${fmtTime(inc.opened_at)})`)
        .addTo(state.replay);
    }
  }
  label.textContent += ` · ${page.items.length} events`;
}

// ---- wiring ----------------------------------------------------------------------------

function wire() {
  $("#login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const token = $("#login-token").value.trim();
    if (!token) {
      $("#login-error").textContent = "Enter an access token.";
      return;
    }
    session.token = token;
    session.purpose = $("#login-purpose").value;
    try {
      await signIn();
    } catch (err) {
      session.signOut();
      showLogin(loginMessage(err));
    }
  });
  $("#login-token").addEventListener("change", offerPurposes);
  document.addEventListener("keydown", onKey);
  const ol = $("#queue-list");
  ol.addEventListener("click", (e) => {
    if (e.target.closest("details")) return;
    const li = e.target.closest("li[data-id]");
    if (!li) return;
    select(li.dataset.id, { scroll: false });
    openIncident(li.dataset.id).catch(reportError);
  });
  ol.addEventListener(
    "toggle",
    (e) => {
      const li = e.target.closest("li[data-id]");
      if (!li) return;
      if (e.target.open) state.openFactors.add(li.dataset.id);
      else state.openFactors.delete(li.dataset.id);
    },
    true,
  );
  $("#queue-more").addEventListener("click", () => {
    state.shown += PAGE;
    renderQueueNow();
  });
  $("#filter-text").addEventListener("input", (e) => {
    state.filter.text = e.target.value.trim().toLowerCase();
    state.shown = PAGE;
    scheduleQueue();
  });
  for (const key of ["area", "type", "agency"]) {
    $(`#filter-${key}`).addEventListener("change", (e) => {
      state.filter[key] = e.target.value;
      state.shown = PAGE;
      scheduleQueue();
    });
  }
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => selectTab(b.dataset.tab));
  $("#sensors-refresh").addEventListener("click", () => refreshSensorHealth().catch(reportError));
  let replayTimer = null;
  $("#replay-slider").addEventListener("input", (e) => {
    clearTimeout(replayTimer);
    const v = Number(e.target.value);
    replayTimer = setTimeout(() => replay(v).catch(reportError), 200);
  });
}

async function boot() {
  wire();
  window.addEventListener("hashchange", () => {
    if (!/token=/.test(location.hash)) return;
    if (state.me) {
      // Another user's token: start from a clean page.
      takeTokenFromFragment();
      location.reload();
      return;
    }
    takeTokenFromFragment();
    signIn().catch((err) => {
      session.signOut();
      showLogin(loginMessage(err));
    });
  });
  takeTokenFromFragment();
  if (!session.token) {
    showLogin();
    return;
  }
  try {
    await signIn();
  } catch (err) {
    session.signOut();
    showLogin(loginMessage(err));
  }
}

export { can, reportError, loadUnits, scheduleQueue };
boot();
