// The public portal: the register of sensors in public space (map and table), a citizen report
// form that goes through the city's Open311 intake, and a status lookup. No login, no cookies,
// no personal data asked for; everything comes from the app's own public API.

import { api, ApiError, escapeHtml } from "/static/common/api.js";
import { createMap, sensorLayer } from "/static/common/map.js";

const $ = (id) => document.getElementById(id);
const CENTRE = [60.1712, 24.9441];

const KIND_NAMES = {
  camera: "Camera", acoustic: "Acoustic sensor", lamppost: "Smart lamp post", noise: "Noise meter",
  crowd_counter: "Crowd counter", bollard: "Bollard", waste_container: "Waste container sensor",
  traffic: "Traffic sensor", emergency_button: "Emergency button",
  vehicle_tracker: "Vehicle tracker", other: "Other device",
};

function days(n) {
  if (n === 0) return "Not stored";
  return n === 1 ? "1 day" : `${n} days`;
}

function problemMessage(err) {
  if (err instanceof ApiError && Array.isArray(err.problem) && err.problem[0]) {
    return err.problem[0].description;
  }
  return err.message || String(err);
}

// --- the register ---------------------------------------------------------------------------

async function showRegister() {
  const map = createMap($("register-map"), { center: CENTRE, zoom: 15 });
  let body;
  try {
    body = await api("/public/v1/sensors?limit=5000", { auth: false });
  } catch (err) {
    $("register-summary").textContent = `The register could not be loaded: ${problemMessage(err)}`;
    return;
  }
  const items = body.items;
  const located = items.filter((s) => s.location);
  sensorLayer(map, items);
  if (located.length) {
    map.fitBounds(L.latLngBounds(located.map((s) => [s.location.lat, s.location.lon])).pad(0.2),
      { maxZoom: 16 });
  }
  $("register-summary").textContent = `${items.length} device${items.length === 1 ? "" : "s"} `
    + `in the public register, ${located.length} of them on the map.`;
  const rows = items.map((s) => `
    <tr>
      <th scope="row" data-label="Device"><span class="kind kind-${escapeHtml(s.kind)}" aria-hidden="true"></span>
        ${escapeHtml(s.name)}<br><span class="muted">${escapeHtml(KIND_NAMES[s.kind] || s.kind)}${
  s.area ? ` · ${escapeHtml(s.area)}` : ""}</span></th>
      <td data-label="Owner (contact)">${escapeHtml(s.owner_agency)}</td>
      <td data-label="What it measures">${escapeHtml((s.measures || []).join(", ").replaceAll("_", " "))}</td>
      <td data-label="Why">${escapeHtml(s.purpose)}</td>
      <td data-label="Legal basis">${escapeHtml(s.legal_basis)}</td>
      <td data-label="Data kept">${escapeHtml(days(s.retention_days))}</td>
      <td data-label="Personal data">${s.personal_data ? "Yes" : "No"}</td>
    </tr>`);
  $("register-table").tBodies[0].innerHTML = rows.join("")
    || '<tr><td colspan="7">No devices are listed yet.</td></tr>';
  const hidden = body.non_public_count || 0;
  $("register-hidden").textContent = hidden
    ? `${hidden} further registered device${hidden === 1 ? " is" : "s are"} not listed publicly `
      + "(for example for security reasons). They are counted here so that the register stays honest."
    : "Every registered device is listed publicly.";
}

// --- the report form ------------------------------------------------------------------------

const FIELD_ERRORS = {
  service_code: "report-category-error",
  description: "report-description-error",
  location: "report-location-error",
  lat: "report-location-error",
  long: "report-location-error",
  address_string: "report-location-error",
};
const FIELD_INPUTS = {
  service_code: "report-category",
  description: "report-description",
  location: "report-address",
  lat: "report-address",
  long: "report-address",
  address_string: "report-address",
};

async function setUpReports() {
  const form = $("report-form");
  const select = $("report-category");
  try {
    const services = await api("/open311/v2/services.json", { auth: false });
    for (const s of services) {
      const option = document.createElement("option");
      option.value = s.service_code;
      option.textContent = s.service_name;
      option.title = s.description || "";
      select.append(option);
    }
  } catch (err) {
    $("report-error").textContent = `The categories could not be loaded: ${problemMessage(err)}`;
  }

  const map = createMap($("report-map"), { center: CENTRE, zoom: 16 });
  let pin = null;
  let point = null;
  function place(latlng) {
    point = { lat: Number(latlng.lat.toFixed(6)), long: Number(latlng.lng.toFixed(6)) };
    if (!pin) {
      pin = L.marker(latlng, { title: "The place of the problem", alt: "Chosen place", keyboard: false,
        icon: L.divIcon({ className: "sc-dot sc-pin", html: "<span></span>", iconSize: [22, 22], iconAnchor: [11, 11] }) });
      pin.addTo(map);
    } else pin.setLatLng(latlng);
    $("report-location").textContent = `Pin placed at ${point.lat.toFixed(5)}, ${point.long.toFixed(5)}.`;
    $("report-location-error").textContent = "";
  }
  map.on("click", (e) => place(e.latlng));
  $("report-centre").addEventListener("click", () => place(map.getCenter()));

  function clearErrors() {
    for (const id of new Set(Object.values(FIELD_ERRORS))) $(id).textContent = "";
    for (const id of new Set(Object.values(FIELD_INPUTS))) $(id).removeAttribute("aria-invalid");
    $("report-error").textContent = "";
  }
  function showErrors(errors) {
    let first = null;
    for (const e of errors) {
      const target = FIELD_ERRORS[e.field];
      const message = `${e.field === "service_code" ? "Category" : e.field === "description"
        ? "Description" : "Place"}: ${e.reason}`;
      if (target) {
        $(target).textContent = message;
        $(FIELD_INPUTS[e.field]).setAttribute("aria-invalid", "true");
        first = first || $(FIELD_INPUTS[e.field]);
      }
    }
    $("report-error").textContent = errors.map((e) => `${e.field}: ${e.reason}`).join("; ");
    if (first) first.focus();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    const body = {
      service_code: select.value || null,
      description: $("report-description").value,
      address_string: $("report-address").value.trim() || null,
      ...(point || {}),
    };
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const receipt = await api("/public/v1/reports", { method: "POST", body, auth: false });
      const result = $("report-result");
      result.hidden = false;
      result.innerHTML = `<p><strong>Thank you: the report was received.</strong></p>
        <p>Its number is <code id="report-id">${escapeHtml(receipt.service_request_id)}</code>.
        Keep it to check what happens to the report below; it is the only link between you and
        the report.</p>${receipt.service_notice ? `<p>${escapeHtml(receipt.service_notice)}</p>` : ""}`;
      $("status-id").value = receipt.service_request_id;
      form.reset();
      point = null;
      if (pin) { map.removeLayer(pin); pin = null; }
      $("report-location").textContent = "No place chosen yet.";
      result.setAttribute("tabindex", "-1");
      result.focus();
    } catch (err) {
      if (err instanceof ApiError && err.problem && Array.isArray(err.problem.errors)) {
        showErrors(err.problem.errors);
      } else if (err instanceof ApiError && err.status === 429) {
        $("report-error").textContent = `Too many reports from this connection: ${err.message}`;
      } else {
        $("report-error").textContent = `The report could not be sent: ${problemMessage(err)}`;
      }
    } finally {
      button.disabled = false;
    }
  });
}

// --- status lookup --------------------------------------------------------------------------

function setUpStatus() {
  const form = $("status-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const id = $("status-id").value.trim();
    const result = $("status-result");
    result.hidden = false;
    if (!id) {
      result.innerHTML = '<p class="error">Report number: required.</p>';
      $("status-id").focus();
      return;
    }
    result.textContent = "Looking it up…";
    try {
      const [r] = await api(`/open311/v2/requests/${encodeURIComponent(id)}.json`, { auth: false });
      const updated = r.updated_datetime ? new Date(r.updated_datetime).toLocaleString() : "";
      result.innerHTML = `<dl>
        <dt>Report</dt><dd><code>${escapeHtml(r.service_request_id)}</code></dd>
        <dt>Category</dt><dd>${escapeHtml(r.service_name || r.service_code || "")}</dd>
        <dt>Status</dt><dd><strong class="status status-${escapeHtml(r.status)}" id="status-value">${escapeHtml(r.status)}</strong>
          — ${escapeHtml(r.status_notes || "")}</dd>
        <dt>Last change</dt><dd>${escapeHtml(updated)}</dd>
      </dl>`;
    } catch (err) {
      result.innerHTML = `<p class="error">${escapeHtml(
        err instanceof ApiError && err.status === 404 ? "No report with that number was found."
          : problemMessage(err))}</p>`;
    }
  });
}

showRegister();
setUpReports();
setUpStatus();
