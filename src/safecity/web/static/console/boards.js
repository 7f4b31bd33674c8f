// The units board, sensor health and the dead-letter view (centre column tabs).

import { api, escapeHtml as h } from "/static/common/api.js";
import { fmtTime, fmtDateTime, fmtAge, announce } from "/static/console/util.js";

const $ = (sel, root = document) => root.querySelector(sel);
const STATUS_ORDER = ["dispatched", "en_route", "on_scene", "busy", "available", "unavailable", "off_duty"];

export function renderUnits(state) {
  const body = $("#units-table tbody");
  const units = [...state.units.values()].sort(
    (a, b) => STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status) || a.callsign.localeCompare(b.callsign),
  );
  const mayChange = (u) => state.me.role === "admin" || u.agency_id === state.me.agency_id;
  body.innerHTML = units.length
    ? units
        .map(
          (u) => `<tr data-unit="${h(u.id)}"><th scope="row">${h(u.callsign)}</th><td>${h(u.agency_id)}</td>
        <td><span class="status unit-status ${h(u.status)}">${h(u.status.replace("_", " "))}</span></td>
        <td>${h(fmtTime(u.status_since))}</td>
        <td>${u.shift_started_at && u.status !== "off_duty" ? `on since ${h(fmtTime(u.shift_started_at))} (${fmtAge(u.shift_started_at)})` : "off"}</td>
        <td>${u.incident_id ? `<code>${h(u.incident_id.slice(0, 12))}…</code>` : ""}</td>
        <td>${
          mayChange(u)
            ? u.status === "off_duty"
              ? `<button type="button" data-status="available" data-id="${h(u.id)}">Clock on</button>`
              : `<button type="button" data-status="off_duty" data-id="${h(u.id)}">Clock off</button>`
            : ""
        }</td></tr>`,
        )
        .join("")
    : '<tr><td colspan="7" class="muted">No units registered.</td></tr>';
  for (const b of body.querySelectorAll("button[data-status]")) {
    b.onclick = async () => {
      b.disabled = true;
      try {
        const unit = await api(`/v1/units/${encodeURIComponent(b.dataset.id)}/status`, {
          method: "POST",
          body: { status: b.dataset.status },
        });
        state.units.set(unit.id, unit);
        announce(`${unit.callsign} ${unit.status === "off_duty" ? "clocked off" : "clocked on"}`);
        renderUnits(state);
      } catch (err) {
        b.disabled = false;
        announce(`Error: ${err.message}`);
      }
    };
  }
}

// An event names its device by its source (or the sensor id in its payload); the register's
// ids are matched against the source, its last path segment and its last two URN segments.
export function sensorKeys(ev) {
  const keys = [ev.source];
  const parts = ev.source.split(/[:/]/).filter(Boolean);
  if (parts.length) keys.push(parts[parts.length - 1]);
  if (parts.length > 1) keys.push(`${parts[parts.length - 2]}-${parts[parts.length - 1]}`);
  if (ev.data && ev.data.sensor_id) keys.push(ev.data.sensor_id);
  return keys;
}

// A device reports its own fault (a lamp out, a bollard stuck): the newest report per device
// is kept until the device reports something else; "ok" clears it.
export function noteFault(state, ev) {
  const d = ev.data || {};
  let fault = null;
  let device = null;
  if (ev.type === "lamp.fault") {
    device = d.lamp_id;
    fault = d.cleared ? null : d.fault || "fault";
  } else if (ev.type === "access.bollard_state") {
    device = d.bollard_id;
    fault = d.state === "fault" ? "bollard fault" : null;
  } else if (ev.type === "lamp.light_level") {
    device = d.lamp_id; // a lamp reporting its level again works
  }
  if (!device) return;
  if (fault) state.faults.set(device, { fault, time: ev.time });
  else state.faults.delete(device);
}

export function renderSensors(state, minutes) {
  const cutoff = new Date(Date.now() - minutes * 60_000).toISOString();
  const rows = state.sensors.map((s) => {
    const reported = state.faults.get(s.id) || null;
    const fault = reported ? reported.fault : s.status !== "active" ? `register: ${s.status}` : null;
    return { s, last: state.lastSeen.get(s.id) || null, fault };
  });
  const faulty = rows.filter((r) => r.fault);
  const silent = rows.filter((r) => !r.fault && (!r.last || r.last < cutoff));
  silent.sort((a, b) => (a.last || "").localeCompare(b.last || ""));
  const heard = rows.filter((r) => !r.fault && r.last && r.last >= cutoff);
  $("#sensors-summary").textContent =
    `${state.sensors.length} registered · ${faulty.length} faulty · ${heard.length} heard in the last ${minutes} min · ${silent.length} silent` +
    (silent.length > 300 ? " (first 300 shown)" : "");
  const shown = [...faulty.slice(0, 200), ...silent.slice(0, 300), ...heard.slice(0, 100)];
  $("#sensors-table tbody").innerHTML = shown
    .map(
      ({ s, last, fault }) => `<tr><th scope="row">${h(s.name)} <span class="muted">${h(s.id)}</span></th><td>${h(s.kind)}</td>
      <td>${h(s.owner_agency)}</td><td class="${fault ? "faulty" : ""}">${h(fault ? `faulty: ${fault}` : s.status)}</td>
      <td class="${!last || last < cutoff ? "silent" : ""}">${last ? h(fmtDateTime(last)) : `no event in ${minutes} min`}</td></tr>`,
    )
    .join("");
}

export function renderDeadLetters(items) {
  $("#dead-table tbody").innerHTML = items.length
    ? items
        .map(
          (d) => `<tr><td>${h(d.id)}</td><td>${h(fmtDateTime(d.received_at))}</td><td>${h(d.channel)}</td>
        <td>${h(d.source || "")}</td><td>${h(
          (d.errors || []).map((e) => (e.field ? `${e.field}: ${e.reason}` : e.reason || JSON.stringify(e))).join("; "),
        )}</td></tr>`,
        )
        .join("")
    : '<tr><td colspan="5" class="muted">No refused input.</td></tr>';
}
