// Street commands automation rules proposed (raising bollards), waiting for a person. One card
// for the incident view and the console-wide "Awaiting decision" panel (devices, rule, reason,
// the incident, a countdown, Confirm / Decline), the decision calls, and the pending list: loaded
// at sign-in and on every (re)connect, kept current by the live `proposal` topic and expired by
// the countdown. A proposal from an event rule whose event joined no incident is only here.

import { api, escapeHtml as h } from "/static/common/api.js";
import { can, openIncident, state } from "/static/console/app.js";
import { confirmDialog, fmtTime, announce } from "/static/console/util.js";

const $ = (sel, root = document) => root.querySelector(sel);
const enc = encodeURIComponent;
const OUTCOME_TEXT = {
  acknowledged: "acknowledged",
  refused: "refused by the device",
  timeout: "timed out (may or may not have moved)",
  unreachable: "unreachable",
  failed: "not sent",
};

const pending = new Map(); // id -> proposal: pending and not past its deadline
const versions = new Map(); // id -> newest version seen: a stale frame never brings one back
const listeners = new Set(); // called with every proposal that changed (the incident view)
let decidedHere = []; // decided in the open panel: shown there with each device's outcome
const decidingHere = new Set(); // being decided in the open panel (the live frame may come first)
let ticker = null;

// ---- the card, shared by the incident view and the panel -------------------------------------

export function secondsLeft(p) {
  return Math.max(0, Math.ceil((new Date(p.expires_at).getTime() - Date.now()) / 1000));
}

function fmtLeft(s) {
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// A pending proposal past its deadline is expired (the server reads it so too; no timer there).
export function statusOf(p) {
  return p.status === "pending" && secondsLeft(p) === 0 ? "expired" : p.status;
}

export function commandText(p) {
  const n = p.device_ids.length;
  return p.command === "bollard"
    ? `Raise ${n} bollard${n === 1 ? "" : "s"} (closes the street to vehicles)`
    : `${p.command} ${p.value} on ${n} devices`;
}

// Pending first (soonest deadline first), then the decided ones, newest first.
export function sortProposals(list) {
  return list.slice().sort((a, b) => {
    const pa = statusOf(a) === "pending";
    const pb = statusOf(b) === "pending";
    if (pa !== pb) return pa ? -1 : 1;
    return pa ? a.expires_at.localeCompare(b.expires_at) : b.id.localeCompare(a.id);
  });
}

function incidentHtml(p) {
  if (!p.incident_id) {
    const ev = p.event_id ? ` <span class="muted">(event <code>${h(p.event_source)}</code> <code>${h(p.event_id)}</code>)</span>` : "";
    return `<dt>Incident</dt><dd>none: proposed from an event${ev}</dd>`;
  }
  const inc = state.incidents.get(p.incident_id);
  const name = inc ? `P${inc.priority} ${inc.title}` : p.incident_id;
  return `<dt>Incident</dt><dd><button type="button" class="link" data-open-incident="${h(p.incident_id)}">${h(name)}</button></dd>`;
}

// One proposal. `prefix` keeps element ids unique when a proposal is on screen twice.
function cardHtml(p, prefix, withIncident) {
  const status = statusOf(p);
  const pid = h(p.id);
  const key = `${p.id}:${p.version || 0}:${status}`;
  const hid = `${prefix}-prp-h-${pid}`;
  const head = `<article class="proposal ${h(status)}" data-proposal="${pid}" data-key="${h(key)}" aria-labelledby="${hid}">
    <h4 id="${hid}" tabindex="-1">${h(commandText(p))}</h4>
    <dl><dt>Rule</dt><dd>${h(p.rule_name || p.rule_id)} <span class="muted">(${h(p.rule_id)})</span></dd>
    <dt>Why</dt><dd>${h(p.reason)}</dd>
    ${withIncident ? incidentHtml(p) : ""}
    <dt>Devices</dt><dd><ul class="devices">${p.device_ids.map((d) => `<li><code>${h(d)}</code></li>`).join("")}</ul></dd>`;
  if (status === "pending") {
    const actions = can("actuators:command")
      ? `<div class="actions">
        <button type="button" class="primary" data-confirm="${pid}">Confirm: ${h(commandText(p).split(" (")[0].toLowerCase())}</button>
        <button type="button" class="danger" data-decline="${pid}" aria-expanded="false" aria-controls="${prefix}-prp-decline-${pid}">Decline…</button>
      </div>
      <form class="inline" id="${prefix}-prp-decline-${pid}" data-decline-form="${pid}" hidden aria-label="Decline the proposal">
        <label for="${prefix}-prp-reason-${pid}">Reason</label>
        <input type="text" id="${prefix}-prp-reason-${pid}" maxlength="2000" required placeholder="why the street stays open">
        <button type="submit">Decline</button>
      </form>`
      : `<p class="muted read-only">Read only: your role may not confirm or decline street commands.</p>`;
    return `${head}
      <dt>Expires</dt><dd><span class="countdown" data-expires="${h(p.expires_at)}" role="timer" aria-live="off">in ${fmtLeft(secondsLeft(p))}</span>
        <span class="muted">(${h(fmtTime(p.expires_at))}; unconfirmed, nothing moves)</span></dd></dl>
      ${actions}</article>`;
  }
  const outcomes = (p.outcomes || [])
    .map(
      (o) => `<li><code>${h(o.device_id)}</code>: <span class="outcome ${h(o.outcome)}">${h(OUTCOME_TEXT[o.outcome] || o.outcome)}</span>${
        o.detail && o.outcome !== "acknowledged" ? ` <span class="muted">(${h(o.detail)})</span>` : ""
      }</li>`,
    )
    .join("");
  const decided = p.decided_by
    ? `<dt>Decided</dt><dd>${h(p.decided_by.replace(/^user:/, ""))} ${h(fmtTime(p.decided_at))}${p.decision_reason ? ` — ${h(p.decision_reason)}` : ""}</dd>`
    : `<dt>Expired</dt><dd>${h(fmtTime(p.expires_at))}: nobody confirmed, nothing was sent</dd>`;
  return `${head}
    <dt>Status</dt><dd><span class="status prp-${h(status)}">${h(status)}</span></dd>${decided}</dl>
    ${outcomes ? `<ul class="outcomes" aria-label="Device outcomes">${outcomes}</ul>` : ""}</article>`;
}

// Draw `items` (in that order) into `box` as cards. Cards whose proposal did not change are kept
// as they are, with their focus and any decline reason being typed; a changed one is drawn again.
// Options: prefix (element ids), incident (show the incident link), onError(err),
// onStale(id) (a 409: decided elsewhere or expired), onDeciding(id) and onFailed(id) (around the
// request), onOpenIncident(id),
// focusAfter(id) (where focus goes when the focused card left the box).
export function renderProposalList(box, items, opts) {
  const { prefix, incident = false } = opts;
  const keyOf = (p) => `${p.id}:${p.version || 0}:${statusOf(p)}`;
  const wanted = new Set(items.map(keyOf));
  let lost = null;
  for (const el of [...box.children]) {
    if (wanted.has(el.dataset.key)) continue;
    if (el.contains(document.activeElement)) lost = el.dataset.proposal;
    el.remove();
  }
  let cursor = box.firstElementChild;
  for (const p of items) {
    const key = keyOf(p);
    if (cursor && cursor.dataset.key === key) {
      cursor = cursor.nextElementSibling;
      continue;
    }
    const existing = [...box.children].find((el) => el.dataset.key === key);
    if (existing) {
      box.insertBefore(existing, cursor);
      continue;
    }
    const tpl = document.createElement("template");
    tpl.innerHTML = cardHtml(p, prefix, incident).trim();
    box.insertBefore(tpl.content.firstElementChild, cursor);
  }
  if (lost) {
    const again = box.querySelector(`[data-proposal="${CSS.escape(lost)}"] h4`);
    const target = again || (opts.focusAfter && opts.focusAfter(lost));
    if (target) target.focus();
  }
  const find = (id) => items.find((p) => p.id === id);
  box.onclick = (e) => {
    const b = e.target.closest("button");
    if (!b || !box.contains(b)) return;
    if (b.dataset.confirm && find(b.dataset.confirm)) confirmProposal(find(b.dataset.confirm), opts);
    else if (b.dataset.decline) {
      const form = box.querySelector(`form[data-decline-form="${CSS.escape(b.dataset.decline)}"]`);
      form.hidden = !form.hidden;
      b.setAttribute("aria-expanded", String(!form.hidden));
      if (!form.hidden) $("input", form).focus();
    } else if (b.dataset.openIncident && opts.onOpenIncident) opts.onOpenIncident(b.dataset.openIncident);
  };
  box.onsubmit = (e) => {
    const form = e.target.closest("form[data-decline-form]");
    if (!form) return;
    e.preventDefault();
    const reason = $("input", form).value.trim();
    if (!reason) return opts.onError(new Error("Declining needs a reason."));
    decideProposal(form.dataset.declineForm, "decline", { reason }, opts);
  };
}

async function confirmProposal(p, opts) {
  const ok = await confirmDialog(
    "Raise the bollards?",
    `<p>${h(commandText(p))}: ${p.device_ids.map((d) => `<code>${h(d)}</code>`).join(", ")}.</p>
     <p><strong>A rising bollard can injure someone standing or driving over it.</strong> Check the street is clear first.
     The commands go out under your name and purpose.</p>`,
    { okLabel: "Raise now" },
  );
  if (ok) await decideProposal(p.id, "confirm", {}, opts);
}

async function decideProposal(id, verb, body, opts) {
  let done;
  if (opts.onDeciding) opts.onDeciding(id);
  try {
    done = await api(`/v1/actuators/proposals/${enc(id)}/${verb}`, { method: "POST", body });
  } catch (err) {
    if (opts.onFailed) opts.onFailed(id);
    opts.onError(err);
    if (err.status === 409) {
      // Someone else decided, or it expired: show how it stands now.
      if (opts.onStale) opts.onStale(id);
      loadPending().catch(() => {});
    }
    return;
  }
  trackProposal(done);
  if (verb === "confirm") {
    const acked = done.outcomes.filter((o) => o.outcome === "acknowledged").length;
    announce(`Confirmed: ${acked} of ${done.outcomes.length} devices acknowledged.`);
  } else {
    announce("Declined: nothing was sent.");
  }
}

// ---- what awaits a decision, console-wide ----------------------------------------------------

// The incident view follows every change too.
export function onProposalChange(fn) {
  listeners.add(fn);
}

// A proposal as it now stands (a live frame, a decision's answer, a reload). `live`: it came
// from the stream, so a new one is announced and one decided elsewhere is said to be.
export function trackProposal(p, { live = false } = {}) {
  if (!p || !p.id) return;
  const version = p.version || 0;
  if (version < (versions.get(p.id) || 0)) return;
  const known = versions.has(p.id);
  versions.set(p.id, version);
  const was = pending.has(p.id);
  const now = statusOf(p) === "pending";
  if (now) pending.set(p.id, p);
  else pending.delete(p.id);
  if (!now && (decidingHere.has(p.id) || decidedHere.some((x) => x.id === p.id))) {
    decidedHere = [p, ...decidedHere.filter((x) => x.id !== p.id)];
  }
  if (live && now && !known) {
    const inc = p.incident_id ? state.incidents.get(p.incident_id) : null;
    announce(
      `Automation ${p.rule_name || p.rule_id} proposes: ${commandText(p)}${inc ? ` on ${inc.title}` : p.incident_id ? "" : ", no incident"}. ` +
        `Awaiting decision: ${pending.size}. Confirm or decline under Awaiting decision.`,
    );
    flashBadge();
  } else if (live && was && !now && p.decided_by) {
    announce(`${commandText(p)}: ${p.status} by ${p.decided_by.replace(/^user:/, "")}. Awaiting decision: ${pending.size}.`);
  }
  for (const fn of listeners) fn(p);
  refresh();
}

// The pending list as the server has it now (at sign-in and whenever the stream (re)connects).
export async function loadPending() {
  if (!can("incidents:read")) return;
  const before = new Set(pending.keys());
  const page = await api("/v1/actuators/proposals?status=pending&limit=1000");
  const fresh = new Set(page.items.map((p) => p.id));
  for (const p of page.items) trackProposal(p);
  // Known before the request and no longer pending: decided or expired meanwhile. (One that
  // arrived live during the request is newer than the answer and stays.)
  for (const id of before) if (!fresh.has(id)) pending.delete(id);
  refresh();
}

export function startProposals() {
  const button = $("#awaiting");
  button.hidden = !can("incidents:read");
  if (button.hidden) return;
  button.onclick = openPanel;
  $("#awaiting-close").onclick = () => $("#awaiting-dialog").close();
  $("#awaiting-dialog").onclose = onPanelClosed;
  clearInterval(ticker);
  ticker = setInterval(tick, 1000);
  refresh();
  loadPending().catch((err) => console.warn("proposals", err));
}

// Every second: the countdowns on screen, the badge's soonest deadline, and expiry.
function tick() {
  for (const el of document.querySelectorAll(".countdown[data-expires]")) {
    const left = Math.max(0, Math.ceil((new Date(el.dataset.expires).getTime() - Date.now()) / 1000));
    el.textContent = `in ${fmtLeft(left)}`;
    el.classList.toggle("soon", left <= 30);
  }
  const expired = [...pending.values()].filter((p) => secondsLeft(p) === 0);
  for (const p of expired) {
    pending.delete(p.id);
    announce(`Expired unconfirmed: ${commandText(p)} (${p.rule_name || p.rule_id}); nothing was sent.`);
    for (const fn of listeners) fn(p);
  }
  if (expired.length) refresh();
  else renderBadge();
}

function pendingSorted() {
  return sortProposals([...pending.values()]);
}

function renderBadge() {
  const button = $("#awaiting");
  if (!button) return;
  const n = pending.size;
  $("#awaiting-count").textContent = String(n);
  const name = `Awaiting decision: ${n} proposed street command${n === 1 ? "" : "s"}`;
  if (button.getAttribute("aria-label") !== name) button.setAttribute("aria-label", name);
  button.classList.toggle("waiting", n > 0);
  const first = n ? pendingSorted()[0] : null;
  const left = first ? secondsLeft(first) : 0;
  const soonest = $("#awaiting-soonest");
  soonest.textContent = first ? fmtLeft(left) : "";
  soonest.classList.toggle("soon", Boolean(first) && left <= 30);
}

function flashBadge() {
  const button = $("#awaiting");
  button.classList.remove("arrived");
  void button.offsetWidth; // restart the animation
  button.classList.add("arrived");
}

function refresh() {
  renderBadge();
  if ($("#awaiting-dialog").open) renderPanel();
}

const panelOptions = {
  prefix: "aw",
  incident: true,
  onError: (err) => {
    $("#awaiting-error").textContent = err.message;
    announce(`Error: ${err.message}`);
  },
  onDeciding: (id) => {
    $("#awaiting-error").textContent = "";
    decidingHere.add(id);
  },
  onFailed: (id) => decidingHere.delete(id),
  focusAfter: (id) => document.getElementById(`aw-prp-h-${id}`) || $("#awaiting-title"),
  onOpenIncident: (id) => {
    $("#awaiting-dialog").dataset.keepFocus = "1";
    $("#awaiting-dialog").close();
    openIncident(id)
      .then(() => {
        const heading = $("#inc-proposals:not([hidden]) h3") || $("#detail-title");
        heading.focus();
      })
      .catch((err) => announce(`Error: ${err.message}`));
  },
};

function renderPanel() {
  const list = pendingSorted();
  $("#awaiting-pending-count").textContent = String(list.length);
  $("#awaiting-empty").hidden = list.length > 0;
  $("#awaiting-decided").hidden = !decidedHere.length;
  // The decided ones first, so that a card that just left the pending list has its place there.
  renderProposalList($("#awaiting-decided-list"), decidedHere, panelOptions);
  renderProposalList($("#awaiting-list"), list, panelOptions);
}

function openPanel() {
  const dialog = $("#awaiting-dialog");
  if (dialog.open) return;
  decidedHere = [];
  decidingHere.clear();
  $("#awaiting-error").textContent = "";
  renderPanel();
  dialog.showModal();
  $("#awaiting-title").focus();
}

function onPanelClosed() {
  const dialog = $("#awaiting-dialog");
  decidedHere = [];
  decidingHere.clear();
  $("#awaiting-list").replaceChildren();
  $("#awaiting-decided-list").replaceChildren();
  if (dialog.dataset.keepFocus) delete dialog.dataset.keepFocus;
  else $("#awaiting").focus();
}
