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

// Sensor health is the server's (GET /v1/sensors/health): it keeps each device's newest event
// and reported fault as events are stored. `pages` are its answers for the faulty, silent and
// heard devices (each with the same counts), in that order.
export function renderSensors(pages, minutes) {
  const counts = pages[0].counts;
  const cutoff = Date.parse(pages[0].silent_before);
  const more = (page, total) => (page.items.length < total ? ` (first ${page.items.length} shown)` : "");
  const [faulty, silent, heard] = pages;
  $("#sensors-summary").textContent =
    `${counts.registered} registered · ${counts.faulty} faulty${more(faulty, counts.faulty)} · ` +
    `${counts.heard} heard in the last ${minutes} min${more(heard, counts.heard)} · ` +
    `${counts.silent} silent${more(silent, counts.silent)}`;
  const rows = pages.flatMap((page) => page.items);
  $("#sensors-table tbody").innerHTML = rows
    .map((r) => {
      const last = r.last_event_at;
      const quiet = !last || Date.parse(last) < cutoff;
      return `<tr><th scope="row">${h(r.name)} <span class="muted">${h(r.sensor_id)}</span></th><td>${h(r.kind)}</td>
      <td>${h(r.owner_agency)}</td><td class="${r.fault ? "faulty" : ""}">${h(r.fault ? `faulty: ${r.fault}` : r.status)}</td>
      <td class="${quiet ? "silent" : ""}">${
        last ? `${h(fmtDateTime(last))} <span class="muted">${h(r.last_event_type || "")}</span>` : `no event in ${minutes} min`
      }</td></tr>`;
    })
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
