// The incident view (right-hand column): status, priority and its reasons, street commands
// automations proposed (a person confirms or declines), recommendation and dispatch, checklist,
// the shared channel, linked events with why, automations, timeline, merge and split.

import { api, escapeHtml as h } from "/static/common/api.js";
import { acknowledge, dispatchRecommended, updateIncident, openIncident, can } from "/static/console/app.js";
import { confirmDialog, fmtTime, fmtDateTime, fmtDuration, announce } from "/static/console/util.js";
import { renderProposalList, sortProposals, onProposalChange } from "/static/console/proposals.js";

const $ = (sel, root = document) => root.querySelector(sel);
const enc = encodeURIComponent;
let view = { id: null, channel: null, messages: [], events: [], proposals: [] };

function section(id, title, inner = "") {
  return `<section id="${id}" aria-labelledby="${id}-h"><h3 id="${id}-h">${title}</h3><div class="body">${inner}</div></section>`;
}

export async function renderIncident(state, id) {
  const base = `/v1/incidents/${enc(id)}`;
  const soft = (p) => api(p).catch((err) => ({ error: err.message }));
  const [inc, timeline, events, rec, channel, autos, proposals] = await Promise.all([
    api(base),
    soft(`${base}/timeline`),
    soft(`${base}/events`),
    soft(`${base}/recommendation`),
    soft(`${base}/channel?limit=500`),
    soft(`${base}/automations`),
    soft(`/v1/actuators/proposals?incident_id=${enc(id)}&limit=50`),
  ]);
  if (state.opened !== id) return;
  view = {
    id,
    channel: channel.channel || null,
    messages: channel.messages || [],
    events: events.items || [],
    proposals: proposals.items || [],
  };
  const body = $("#detail-body");
  $("#detail-title").textContent = inc.title;
  body.innerHTML = `
    <p id="detail-error" class="error" role="alert"></p>
    <div id="inc-summary"></div>
    <section id="inc-proposals" aria-labelledby="inc-proposals-h" hidden><h3 id="inc-proposals-h" tabindex="-1">Street commands proposed</h3>
      <div class="body"></div></section>
    ${section("inc-dispatch", "Recommended units")}
    ${section("inc-checklist", "Procedure")}
    ${section("inc-channel", "Shared channel", `<div class="msgs" aria-live="polite"></div>
      <form class="inline" id="post-form"><label class="sr-only" for="post-body">Message</label>
        <input type="text" id="post-body" maxlength="4000" placeholder="Message to all agencies on this incident" required>
        <label><input type="checkbox" id="post-ack"> ask to acknowledge</label>
        <button type="submit">Post</button></form>`)}
    ${section("inc-events", "Linked events")}
    ${section("inc-merge", "Merge")}
    ${section("inc-autos", "Automations")}
    ${section("inc-timeline", "Timeline")}`;
  refreshIncidentParts(state, inc);
  renderRecommendation(rec);
  renderMessages(state);
  renderEvents();
  renderMerge(state, inc);
  renderAutomations(autos);
  renderTimeline(timeline);
  wireDetail(state, id);
  renderProposals();
}

// Parts that follow the incident itself (on every live change).
export function refreshIncidentParts(state, inc) {
  const box = $("#inc-summary");
  if (!box || view.id !== inc.id) return;
  const a = inc.assessment || {};
  const factors = (a.factors || [])
    .map((f) => `<li>${h(f.name)} ${f.points >= 0 ? "+" : ""}${Math.round(f.points)} — ${h(f.detail)}</li>`)
    .join("");
  const ov = a.override;
  box.innerHTML = `
    <dl>
      <dt>Status</dt><dd><span id="inc-status" class="status ${h(inc.status)}">${h(inc.status.replace("_", " "))}</span></dd>
      <dt>Priority</dt><dd><strong class="p${inc.priority}">P${inc.priority}</strong> · score ${Math.round(a.score ?? 0)}
        (computed P${a.computed_priority ?? inc.priority})${ov ? ` · <em>overridden: ${h(ov.reason)}</em>` : ""}</dd>
      <dt>Type</dt><dd>${h(inc.type)}</dd>
      <dt>Area</dt><dd>${h(inc.area || "—")}</dd>
      <dt>Agencies</dt><dd>${h((inc.agencies || []).join(", ") || "—")}</dd>
      <dt>Units</dt><dd id="inc-units">${h((inc.units || []).join(", ") || "—")}</dd>
      <dt>Opened</dt><dd>${h(fmtDateTime(inc.opened_at))} · ${inc.event_count} event${inc.event_count === 1 ? "" : "s"}</dd>
      <dt>Id</dt><dd><code>${h(inc.id)}</code></dd>
    </dl>
    <details><summary>Why this priority</summary><ul>${factors}</ul></details>
    <div class="actions">
      <button type="button" id="btn-ack" ${inc.status !== "new" ? "disabled" : ""}>Acknowledge <kbd>a</kbd></button>
      <button type="button" id="btn-dispatch" class="primary">Dispatch team… <kbd>d</kbd></button>
    </div>
    <form class="inline" id="priority-form" aria-label="Override priority">
      <label for="prio-value">Priority</label>
      <select id="prio-value">${[1, 2, 3, 4, 5].map((p) => `<option${p === inc.priority ? " selected" : ""}>${p}</option>`).join("")}</select>
      <label class="sr-only" for="prio-reason">Reason</label>
      <input type="text" id="prio-reason" placeholder="reason for the override" required maxlength="500">
      <button type="submit">Override</button>
      ${ov ? '<button type="button" id="prio-clear">Clear override</button>' : ""}
    </form>`;
  renderChecklist(inc);
  $("#btn-ack").onclick = () => acknowledge(inc.id).catch(showError);
  $("#btn-dispatch").onclick = () =>
    dispatchRecommended(inc.id)
      .then((done) => done && reloadRecommendation(inc.id))
      .catch(showError);
  $("#priority-form").onsubmit = async (e) => {
    e.preventDefault();
    const reason = $("#prio-reason").value.trim();
    if (!reason) return showError(new Error("An override needs a reason."));
    const updated = await api(`/v1/incidents/${enc(inc.id)}/priority`, {
      method: "POST",
      body: { priority: Number($("#prio-value").value), reason },
    }).catch(showError);
    if (updated) updateIncident(updated);
  };
  const clear = $("#prio-clear");
  if (clear) {
    clear.onclick = async () => {
      const reason = $("#prio-reason").value.trim() || "override no longer needed";
      const updated = await api(`/v1/incidents/${enc(inc.id)}/priority/clear`, { method: "POST", body: { reason } }).catch(showError);
      if (updated) updateIncident(updated);
    };
  }
  if (state.opened === inc.id) reloadTimeline(inc.id);
}

function showError(err) {
  const box = $("#detail-error");
  if (box) box.textContent = err.message;
  announce(`Error: ${err.message}`);
}

let timelineTimer = null;
function reloadTimeline(id) {
  clearTimeout(timelineTimer);
  timelineTimer = setTimeout(async () => {
    const t = await api(`/v1/incidents/${enc(id)}/timeline`).catch(() => null);
    if (t && view.id === id) renderTimeline(t);
  }, 300);
}

async function reloadRecommendation(id) {
  const rec = await api(`/v1/incidents/${enc(id)}/recommendation`).catch((e) => ({ error: e.message }));
  if (view.id === id) renderRecommendation(rec);
}

function renderRecommendation(rec) {
  const box = $("#inc-dispatch .body");
  if (!box) return;
  if (rec.error) {
    box.innerHTML = `<p class="muted">${h(rec.error)}</p>`;
    return;
  }
  const team = new Set(rec.team);
  const rows = rec.ranked
    .slice(0, 8)
    .map(
      (u) => `<tr${team.has(u.unit_id) ? ' class="team"' : ""}><td>${team.has(u.unit_id) ? "★ " : ""}${h(u.callsign)}</td>
        <td>${h(u.agency_id.replace(/^helsinki-/, ""))}</td><td>${fmtDuration(u.drive_time_s)}</td>
        <td>${h(u.capabilities_matched.join(", "))}</td></tr>`,
    )
    .join("");
  const excluded = rec.excluded.length
    ? `<details><summary>${rec.excluded.length} left out</summary><ul>${rec.excluded
        .map((x) => `<li>${h(x.unit_id)}: ${h(x.reason)}</li>`)
        .join("")}</ul></details>`
    : "";
  box.innerHTML = rec.ranked.length
    ? `<p class="muted">Needs: ${h(rec.required_capabilities.join(", ") || "—")}${
        rec.uncovered.length ? ` · <span class="error">not covered: ${h(rec.uncovered.join(", "))}</span>` : ""
      }</p>
      <table class="rec"><thead><tr><th scope="col">Unit</th><th scope="col">Agency</th><th scope="col">Drive</th><th scope="col">Covers</th></tr></thead>
      <tbody>${rows}</tbody></table>
      <div class="actions"><button type="button" id="btn-confirm-team" class="primary"${rec.team.length ? "" : " disabled"}>
        Confirm dispatch of ${h(rec.team.map((id) => (rec.ranked.find((u) => u.unit_id === id) || { callsign: id }).callsign).join(", ") || "—")}</button></div>${excluded}`
    : `<p class="muted">No unit available.</p>${excluded}`;
  const btn = $("#btn-confirm-team");
  if (btn) {
    btn.onclick = () =>
      dispatchRecommended(view.id)
        .then((done) => done && reloadRecommendation(view.id))
        .catch(showError);
  }
}

function renderChecklist(inc) {
  const box = $("#inc-checklist .body");
  if (!box) return;
  const proc = inc.procedure;
  if (!proc) {
    box.innerHTML = '<p class="muted">No procedure for this type.</p>';
    return;
  }
  box.innerHTML = `<p class="muted">${h(proc.name)}</p><ul class="checklist">${proc.items
    .map(
      (s) => `<li><label><input type="checkbox" data-step="${h(s.id)}"${s.done_at ? " checked" : ""}>
        ${h(s.text)}</label>${s.agency_kind ? ` <span class="muted">(${h(s.agency_kind)})</span>` : ""}${
          s.done_by ? ` <span class="muted">✓ ${h(s.done_by)} ${h(fmtTime(s.done_at))}</span>` : ""
        }</li>`,
    )
    .join("")}</ul>`;
  for (const box2 of box.querySelectorAll("input[data-step]")) {
    box2.onchange = async () => {
      const updated = await api(`/v1/incidents/${enc(inc.id)}/checklist/${enc(box2.dataset.step)}`, {
        method: "POST",
        body: { done: box2.checked },
      }).catch((err) => {
        box2.checked = !box2.checked;
        showError(err);
      });
      if (updated) updateIncident(updated);
    };
  }
}

function receiptText(r) {
  const who = h(r.agency_id.replace(/^helsinki-/, ""));
  if (r.acknowledged_at) return `<span class="acked">${who}: acknowledged${r.acknowledged_by ? ` by ${h(r.acknowledged_by)}` : ""}</span>`;
  if (r.delivered_at) return `${who}: delivered`;
  return `${who}: sent`;
}

function renderMessages(state) {
  const box = $("#inc-channel .msgs");
  if (!box) return;
  const mine = state.me.agency_id;
  box.innerHTML = view.messages
    .map((m) => {
      if (m.kind === "log") return `<div class="msg log">${h(fmtTime(m.at))} · ${h(m.body)}</div>`;
      const own = (m.receipts || []).find((r) => r.agency_id === mine);
      const canAck = own && !own.acknowledged_at;
      return `<div class="msg" data-msg="${h(m.id)}"><span class="who">${h(m.author.replace(/^user:/, ""))}</span>
        <span class="muted">${h(m.agency_id || "")} ${h(fmtTime(m.at))}${m.requires_ack ? " · asks to acknowledge" : ""}</span>
        <div class="text">${h(m.body)}</div>
        <div class="receipts">${(m.receipts || []).map(receiptText).join(" · ")}
        ${canAck ? `<button type="button" class="ack" data-ack="${h(m.id)}">Acknowledge</button>` : ""}</div></div>`;
    })
    .join("");
  box.scrollTop = box.scrollHeight;
  for (const b of box.querySelectorAll("button[data-ack]")) {
    b.onclick = async () => {
      b.disabled = true;
      const msg = await api(`/v1/messages/${enc(b.dataset.ack)}/ack`, { method: "POST" }).catch(showError);
      if (msg && msg.id) upsertMessage(state, msg);
    };
  }
}

function upsertMessage(state, msg) {
  const i = view.messages.findIndex((m) => m.id === msg.id);
  if (i >= 0) view.messages[i] = msg;
  else view.messages.push(msg);
  renderMessages(state);
}

export function onChannelMessage(state, data) {
  if (!view.channel || data.channel_id !== view.channel.id || !data.message) return;
  upsertMessage(state, data.message);
}

function linkReason(r) {
  if (!r) return "—";
  const bits = [r.rule];
  if (r.fusion_rule) bits.push(`rule ${r.fusion_rule}`);
  if (r.distance_m !== undefined && r.distance_m !== null) bits.push(`${Math.round(r.distance_m)} m`);
  if (r.gap_s !== undefined && r.gap_s !== null) bits.push(`${Math.round(r.gap_s)} s apart`);
  if (r.correlation_id) bits.push(`case ${r.correlation_id}`);
  if (r.reason) bits.push(r.reason);
  return bits.map(h).join(" · ");
}

function renderEvents() {
  const box = $("#inc-events .body");
  if (!box) return;
  box.innerHTML = `<form id="split-form" aria-label="Split events into a new incident"><ul class="checklist">${view.events
    .map(
      (item, i) => `<li><label><input type="checkbox" data-i="${i}">
        <strong>${h(item.event.type)}</strong> ${h(fmtTime(item.event.time))} <span class="muted">${h(item.event.source)}</span></label>
        <div class="muted">linked: ${linkReason(item.link_reason)}</div></li>`,
    )
    .join("")}</ul>
    <div class="inline"><label class="sr-only" for="split-reason">Reason for the split</label>
    <input type="text" id="split-reason" placeholder="reason to split the ticked events" maxlength="500">
    <button type="submit">Split off</button></div></form>`;
  $("#split-form").onsubmit = async (e) => {
    e.preventDefault();
    const picked = [...box.querySelectorAll("input[data-i]:checked")].map((c) => view.events[Number(c.dataset.i)].event);
    const reason = $("#split-reason").value.trim();
    if (!picked.length || !reason) return showError(new Error("Tick the events to split off and give a reason."));
    const id = view.id;
    const result = await api(`/v1/incidents/${enc(id)}/split`, {
      method: "POST",
      body: { events: picked.map((ev) => ({ source: ev.source, id: ev.id })), reason },
    }).catch(showError);
    if (result) {
      announce("Split done");
      openIncident(id);
    }
  };
}

function renderMerge(state, inc) {
  const box = $("#inc-merge .body");
  if (!box) return;
  const others = [...state.incidents.values()]
    .filter((o) => o.id !== inc.id)
    .sort((a, b) => {
      const da = Math.hypot(a.location.lon - inc.location.lon, a.location.lat - inc.location.lat);
      const db = Math.hypot(b.location.lon - inc.location.lon, b.location.lat - inc.location.lat);
      return da - db;
    })
    .slice(0, 30);
  box.innerHTML = `<form class="inline" id="merge-form"><label class="sr-only" for="merge-other">Incident to fold into this one</label>
    <select id="merge-other">${others
      .map((o) => `<option value="${h(o.id)}">P${o.priority} ${h(o.title)} · ${h(o.area || "")} · ${h(fmtTime(o.opened_at))}</option>`)
      .join("")}</select>
    <label class="sr-only" for="merge-reason">Reason</label>
    <input type="text" id="merge-reason" placeholder="reason (same scene…)" maxlength="500">
    <button type="submit"${others.length ? "" : " disabled"}>Merge into this</button></form>`;
  $("#merge-form").onsubmit = async (e) => {
    e.preventDefault();
    const other = $("#merge-other").value;
    const reason = $("#merge-reason").value.trim();
    if (!other || !reason) return showError(new Error("Pick an incident and give a reason."));
    const ok = await confirmDialog("Merge incidents?", `<p>${h(other)} will close as merged into this incident.</p>`, {
      okLabel: "Merge",
    });
    if (!ok) return;
    const updated = await api(`/v1/incidents/${enc(inc.id)}/merge`, { method: "POST", body: { incidents: [other], reason } }).catch(showError);
    if (updated) {
      updateIncident(updated);
      openIncident(inc.id);
    }
  };
}

function renderAutomations(autos) {
  const box = $("#inc-autos .body");
  if (!box) return;
  const items = autos.items || [];
  box.innerHTML = items.length
    ? `<ul>${items
        .map(
          (t) => `<li><strong>${h(t.rule_id)}</strong> ${t.fired ? "fired" : "did not fire"} ${h(fmtTime(t.at))}: ${h(t.reason)}${
            (t.results || []).length ? `<div class="muted">${h(JSON.stringify(t.results)).slice(0, 300)}</div>` : ""
          }</li>`,
        )
        .join("")}</ul>`
    : `<p class="muted">${h(autos.error || "No rule evaluated this incident.")}</p>`;
}

// ---- street commands an automation proposed: a person confirms or declines ---------------
// The card, the decision and the countdown are shared with the "Awaiting decision" panel.

function renderProposals() {
  const section = $("#inc-proposals");
  if (!section) return;
  const items = sortProposals(view.proposals);
  section.hidden = !items.length;
  const incidentId = view.id;
  renderProposalList($(".body", section), items, {
    prefix: "inc",
    onError: showError,
    onStale: () => reloadProposals(incidentId),
    focusAfter: () => $("#inc-proposals-h"),
  });
}

async function reloadProposals(incidentId) {
  const page = await api(`/v1/actuators/proposals?incident_id=${enc(incidentId)}&limit=50`).catch(() => null);
  if (page && view.id === incidentId) {
    view.proposals = page.items;
    renderProposals();
  }
}

// A proposal arrived, was decided or expired (live, or a decision made here or in the panel).
function upsertProposal(p) {
  if (!p || p.incident_id !== view.id) return;
  const i = view.proposals.findIndex((x) => x.id === p.id);
  // A stale frame never overwrites a newer state (e.g. "proposed" arriving after the decision).
  if (i >= 0 && (view.proposals[i].version || 0) > (p.version || 0)) return;
  if (i >= 0) view.proposals[i] = p;
  else view.proposals.push(p);
  renderProposals();
}
onProposalChange(upsertProposal);

function renderTimeline(t) {
  const box = $("#inc-timeline .body");
  if (!box) return;
  const items = t.items || [];
  box.innerHTML = items.length
    ? `<ol>${items
        .slice()
        .reverse()
        .map((e) => `<li>${h(fmtTime(e.at))} <strong>${h(e.action.replaceAll("_", " "))}</strong> <span class="muted">${h(e.actor)}</span></li>`)
        .join("")}</ol>`
    : `<p class="muted">${h(t.error || "Nothing yet.")}</p>`;
}

function wireDetail(state, id) {
  const form = $("#post-form");
  form.onsubmit = async (e) => {
    e.preventDefault();
    const body = $("#post-body").value.trim();
    if (!body) return;
    const msg = await api(`/v1/incidents/${enc(id)}/channel/messages`, {
      method: "POST",
      body: { body, requires_ack: $("#post-ack").checked },
    }).catch(showError);
    if (msg && msg.id) {
      $("#post-body").value = "";
      upsertMessage(state, msg);
    }
  };
  if (!can("incidents:write")) {
    for (const el of $("#detail-body").querySelectorAll("button, input, select")) el.disabled = true;
  }
}
