// The map both pages share: an offline basemap drawn from the app's own OpenStreetMap extract
// (GET /public/v1/basemap, vector layers on a canvas: no tile server, no CDN) and the layers
// the console and the portal put on it. Uses the global `L` (Leaflet 1.9.4) and
// `L.markerClusterGroup` (Leaflet.markercluster), loaded by the page before this module.

/** Attribution the basemap data requires wherever it is shown. */
export const ATTRIBUTION =
  '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap contributors</a>, ODbL 1.0';

/** Basemap palettes: "light" for the portal, "dark" for the console. */
export const THEMES = {
  light: {
    land: "#f2efe9", water: "#9ecae1", waterLine: "#4a90c2", green: "#c5e3b5", wood: "#a9d18e",
    building: "#d9d0c9", buildingLine: "#bfb3a9", road: "#ffffff", roadLine: "#c9c2b8",
    major: "#ffd27f", casing: "#b9ae9f", label: "#1f2328",
  },
  dark: {
    land: "#1b2530", water: "#1d4466", waterLine: "#3a6f9a", green: "#1f3a2a", wood: "#24452f",
    building: "#2c3845", buildingLine: "#3a4857", road: "#3d4b5a", roadLine: "#3d4b5a",
    major: "#6b5a34", casing: "#1b2530", label: "#e9eef3",
  },
};

// Road classes: drawing rank (higher on top) and width in pixels at zoom 16.
const ROADS = {
  motorway: [9, 8], trunk: [9, 8], primary: [8, 7], secondary: [7, 6], tertiary: [6, 5],
  motorway_link: [5, 4], trunk_link: [5, 4], primary_link: [5, 4], secondary_link: [5, 4],
  tertiary_link: [5, 4], residential: [4, 4], unclassified: [4, 4], living_street: [4, 3.5],
  pedestrian: [3, 3], service: [3, 2.5], cycleway: [2, 1.5], footway: [1, 1.2], path: [1, 1],
  steps: [1, 1.2], track: [1, 1.2], trail: [1, 1],
};
const MAJOR = new Set(["motorway", "trunk", "primary", "secondary", "motorway_link", "trunk_link",
  "primary_link", "secondary_link"]);
const MINOR_DASHED = new Set(["footway", "path", "steps", "cycleway", "trail", "track"]);

// Place labels by kind: the zooms they are shown at.
const PLACE_ZOOMS = {
  city: [0, 14], suburb: [14, 20], quarter: [14, 20], neighbourhood: [15, 20],
  station: [15, 20], metro_station: [16, 20], square: [16, 20],
};

/** Colours of the register's device kinds (marker fill; white outline keeps them visible). */
export const SENSOR_COLOURS = {
  camera: "#8250df", acoustic: "#bf3989", lamppost: "#9a6700", noise: "#cf222e",
  crowd_counter: "#0969da", bollard: "#57606a", waste_container: "#1a7f37", traffic: "#bc4c00",
  emergency_button: "#a40e26", vehicle_tracker: "#0550ae", other: "#57606a",
};

/** Unit marker colours by status. */
export const UNIT_COLOURS = {
  available: "#1a7f37", dispatched: "#bc4c00", en_route: "#bc4c00", on_scene: "#cf222e",
  busy: "#9a6700", unavailable: "#57606a", off_duty: "#8c959f",
};

/** Incident colours by priority (1 most urgent). */
export const PRIORITY_COLOURS = { 1: "#cf222e", 2: "#e16f24", 3: "#bf8700", 4: "#1a7f37", 5: "#57606a" };

let basemapDocument = null;

/**
 * The basemap document (fetched once per page, shared by every map on it).
 * @returns {Promise<{attribution: string, bbox: number[], layers: Object<string, object>}>}
 */
export function loadBasemap() {
  if (!basemapDocument) {
    basemapDocument = fetch("/public/v1/basemap", { headers: { Accept: "application/json" } })
      .then((r) => {
        if (!r.ok) throw new Error(`basemap: HTTP ${r.status}`);
        return r.json();
      });
    basemapDocument.catch(() => { basemapDocument = null; });
  }
  return basemapDocument;
}

function widthAt(zoom, base) {
  return Math.max(0.5, Math.min(base * 2 ** (zoom - 16), 40));
}

function roadStyle(theme, zoom) {
  return (feature) => {
    const cls = feature.properties.class;
    const [, base] = ROADS[cls] || [1, 1];
    const minor = MINOR_DASHED.has(cls);
    return {
      color: MAJOR.has(cls) ? theme.major : minor ? theme.roadLine : theme.road,
      weight: widthAt(zoom, base),
      opacity: feature.properties.tunnel ? 0.35 : 1,
      dashArray: minor && zoom >= 16 ? "3 3" : null,
      lineCap: "round",
      lineJoin: "round",
    };
  };
}

function casingStyle(theme, zoom) {
  return (feature) => {
    const [, base] = ROADS[feature.properties.class] || [1, 1];
    return {
      color: theme.casing,
      weight: widthAt(zoom, base) + (zoom >= 15 ? 1.5 : 0.5),
      opacity: feature.properties.tunnel ? 0 : 1,
      lineCap: "round",
      lineJoin: "round",
    };
  };
}

function drawBasemap(map, doc, theme, renderer) {
  const common = { renderer, interactive: false };
  const water = L.geoJSON(doc.layers.water, {
    ...common,
    style: (f) => (f.geometry.type.endsWith("LineString")
      ? { color: theme.waterLine, weight: f.properties.kind === "coastline" ? 3 : 2, opacity: 1 }
      : { color: theme.waterLine, weight: 1, fillColor: theme.water, fillOpacity: 1 }),
  });
  const green = L.geoJSON(doc.layers.green, {
    ...common,
    style: (f) => ({
      stroke: false, fillOpacity: 1,
      fillColor: f.properties.kind === "wood" || f.properties.kind === "scrub" ? theme.wood : theme.green,
    }),
  });
  const buildings = L.geoJSON(doc.layers.buildings, {
    ...common,
    style: { color: theme.buildingLine, weight: 0.6, fillColor: theme.building, fillOpacity: 1 },
  });
  const sorted = {
    type: "FeatureCollection",
    features: [...doc.layers.roads.features].sort(
      (a, b) => (ROADS[a.properties.class] || [0])[0] - (ROADS[b.properties.class] || [0])[0]),
  };
  // Streets get a darker casing under them so white roads stand out on light land.
  const cased = {
    type: "FeatureCollection",
    features: sorted.features.filter((f) => !MINOR_DASHED.has(f.properties.class)),
  };
  const casings = L.geoJSON(cased, { ...common, style: casingStyle(theme, map.getZoom()) });
  const roads = L.geoJSON(sorted, { ...common, style: roadStyle(theme, map.getZoom()) });
  const labels = doc.layers.places.features.map((f) => {
    const [lon, lat] = f.geometry.coordinates;
    const marker = L.circleMarker([lat, lon], { renderer, radius: 0, opacity: 0, fillOpacity: 0,
      interactive: false });
    marker.bindTooltip(f.properties.name, {
      permanent: true, direction: "center",
      className: `sc-place-label sc-place-${f.properties.kind}`,
    });
    marker.placeKind = f.properties.kind;
    return marker;
  });
  const labelGroup = L.layerGroup();
  const base = L.layerGroup([water, green, buildings, casings, roads, labelGroup]).addTo(map);
  function restyle() {
    const zoom = map.getZoom();
    casings.setStyle(casingStyle(theme, zoom));
    roads.setStyle(roadStyle(theme, zoom));
    for (const label of labels) {
      const [lo, hi] = PLACE_ZOOMS[label.placeKind] || [16, 20];
      const show = zoom >= lo && zoom <= hi;
      if (show && !labelGroup.hasLayer(label)) labelGroup.addLayer(label);
      if (!show && labelGroup.hasLayer(label)) labelGroup.removeLayer(label);
    }
  }
  map.on("zoomend", restyle);
  restyle();
  return base;
}

/**
 * A map with the city's offline basemap. Returns the Leaflet map at once; the basemap appears
 * when `map.basemapReady` resolves (to the basemap's layer group).
 * @param {HTMLElement|string} element the container (or its id)
 * @param {{center?: [number, number], zoom?: number, theme?: "light"|"dark",
 *          minZoom?: number, maxZoom?: number}} [options] center as [lat, lon]; without it the
 *          map fits the basemap's extent
 * @returns {L.Map & {basemapReady: Promise<L.LayerGroup>}}
 */
export function createMap(element, { center, zoom = 15, theme = "light", minZoom = 12, maxZoom = 19 } = {}) {
  const palette = THEMES[theme] || THEMES.light;
  const map = L.map(element, { minZoom, maxZoom, zoomControl: true, preferCanvas: false });
  map.getContainer().style.background = palette.land;
  map.getContainer().classList.add(`sc-map-${theme}`);
  map.attributionControl.setPrefix(false);
  map.attributionControl.addAttribution(ATTRIBUTION);
  if (center) map.setView(center, zoom);
  else map.setView([60.1717, 24.9444], zoom);
  const renderer = L.canvas({ padding: 0.5 });
  map.basemapReady = loadBasemap().then((doc) => {
    const [w, s, e, n] = doc.bbox;
    const bounds = L.latLngBounds([s, w], [n, e]);
    map.setMaxBounds(bounds.pad(0.5));
    if (!center) map.fitBounds(bounds);
    return drawBasemap(map, doc, palette, renderer);
  });
  map.basemapReady.catch((err) => {
    map.attributionControl.addAttribution(`<span class="sc-map-error">Basemap unavailable: ${err.message}</span>`);
  });
  return map;
}

function escapeHtml(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function dotIcon(colour, className, label, size = 14) {
  return L.divIcon({
    className: `sc-dot ${className}`,
    html: `<span style="background:${colour}" aria-hidden="true"></span>`,
    iconSize: [size, size],
    iconAnchor: [size / 2, size / 2],
    popupAnchor: [0, -size / 2],
    tooltipAnchor: [size / 2, 0],
  });
}

const M_PER_DEG = 111320;

function offset(lat, lon, distanceM, bearingDeg) {
  const b = (bearingDeg * Math.PI) / 180;
  const north = distanceM * Math.cos(b);
  const east = distanceM * Math.sin(b);
  return [lat + north / M_PER_DEG, lon + east / (M_PER_DEG * Math.cos((lat * Math.PI) / 180))];
}

/**
 * The points of a camera's field of view: a wedge from the camera, `fovDeg` wide around
 * `directionDeg` (degrees from north, clockwise), `rangeM` deep.
 * @returns {Array<[number, number]>} [lat, lon] pairs
 */
export function wedgePoints(lat, lon, directionDeg, fovDeg = 90, rangeM = 50) {
  const steps = Math.max(4, Math.ceil(fovDeg / 10));
  const start = directionDeg - fovDeg / 2;
  const points = fovDeg >= 360 ? [] : [[lat, lon]];
  for (let i = 0; i <= steps; i += 1) points.push(offset(lat, lon, rangeM, start + (fovDeg * i) / steps));
  return points;
}

function cameraView(sensor) {
  if (sensor.view && Number.isFinite(sensor.view.direction_deg)) {
    return { direction: sensor.view.direction_deg, fov: sensor.view.fov_deg ?? 90,
      range: sensor.view.range_m ?? 50, assumed: Boolean(sensor.view.assumed) };
  }
  if (sensor.kind === "camera" && Number.isFinite(sensor.direction_deg)) {
    return { direction: sensor.direction_deg, fov: sensor.fov_deg ?? 90, range: sensor.range_m ?? 50,
      assumed: true };
  }
  return null;
}

/** The popup of a register entry: name, owner, purpose (escaped). */
export function sensorPopup(sensor) {
  const measures = (sensor.measures || []).join(", ");
  return `<strong>${escapeHtml(sensor.name)}</strong><br>`
    + `<span>Owner: ${escapeHtml(sensor.owner_agency)}</span><br>`
    + `<span>Measures: ${escapeHtml(measures)}</span><br>`
    + `<span>Purpose: ${escapeHtml(sensor.purpose)}</span>`;
}

/**
 * Register entries as clustered markers coloured by kind; cameras with a known view also get
 * their field of view as a wedge (dashed when the direction is assumed). Added to the map.
 * @param {L.Map} map
 * @param {Array<object>} sensors entries as `GET /public/v1/sensors` or `/v1/sensors` return them
 * @returns {L.FeatureGroup & {markers: Map<string, L.Marker>, setSensors: (s: object[]) => void}}
 */
export function sensorLayer(map, sensors = []) {
  const clusters = L.markerClusterGroup({ maxClusterRadius: 40, showCoverageOnHover: false,
    spiderfyOnMaxZoom: true });
  const wedges = L.layerGroup();
  const group = L.featureGroup([wedges, clusters]);
  group.markers = new Map();
  group.setSensors = (list) => {
    clusters.clearLayers();
    wedges.clearLayers();
    group.markers.clear();
    const markers = [];
    for (const sensor of list) {
      if (!sensor.location) continue;
      const { lat, lon } = sensor.location;
      const colour = SENSOR_COLOURS[sensor.kind] || SENSOR_COLOURS.other;
      const marker = L.marker([lat, lon], {
        icon: dotIcon(colour, `sc-sensor sc-sensor-${sensor.kind}`, sensor.name),
        title: `${sensor.name} (${sensor.kind})`, alt: sensor.name, keyboard: true,
      });
      marker.bindPopup(sensorPopup(sensor));
      marker.sensor = sensor;
      markers.push(marker);
      group.markers.set(sensor.id, marker);
      const view = cameraView(sensor);
      if (view) {
        L.polygon(wedgePoints(lat, lon, view.direction, view.fov, view.range), {
          color: colour, weight: 1, fillColor: colour, fillOpacity: 0.18,
          dashArray: view.assumed ? "4 3" : null, interactive: false,
        }).addTo(wedges);
      }
    }
    clusters.addLayers(markers);
  };
  group.setSensors(sensors);
  group.addTo(map);
  return group;
}

/**
 * Response units as markers coloured by status (one per unit id; off-duty units and units never
 * seen with a position are not drawn; an update without a position keeps the last one).
 * Added to the map.
 * @param {L.Map} map
 * @returns {{layer: L.LayerGroup, markers: Map<string, L.Marker>,
 *            update: (unit: object) => void, remove: (id: string) => void}}
 */
export function unitLayer(map) {
  const layer = L.layerGroup().addTo(map);
  const markers = new Map();
  function remove(id) {
    const m = markers.get(id);
    if (m) { layer.removeLayer(m); markers.delete(id); }
  }
  function update(unit) {
    if (!unit) return;
    if (unit.status === "off_duty") { remove(unit.id); return; }
    let m = markers.get(unit.id);
    // A status change without a position keeps the marker where it was.
    if (!unit.location && !m) return;
    const colour = UNIT_COLOURS[unit.status] || UNIT_COLOURS.unavailable;
    const label = `${unit.callsign || unit.id} (${String(unit.status).replace("_", " ")})`;
    const icon = dotIcon(colour, `sc-unit sc-unit-${unit.status}`, label, 16);
    const latlng = unit.location ? [unit.location.lat, unit.location.lon] : m.getLatLng();
    if (!m) {
      m = L.marker(latlng, { icon, title: label, alt: label, keyboard: true });
      m.bindTooltip(escapeHtml(unit.callsign || unit.id), { direction: "right", className: "sc-unit-label" });
      markers.set(unit.id, m);
      layer.addLayer(m);
    } else {
      m.setLatLng(latlng);
      m.setIcon(icon);
      m.options.title = label;
    }
    m.unit = { ...(m.unit || {}), ...unit };
  }
  return { layer, markers, update, remove };
}

/**
 * Incidents as markers coloured by priority 1–5 with a popup of the title; closed ones are
 * removed. Added to the map.
 * @param {L.Map} map
 * @returns {{layer: L.LayerGroup, markers: Map<string, L.Marker>,
 *            update: (incident: object) => void, remove: (id: string) => void}}
 */
export function incidentLayer(map) {
  const layer = L.layerGroup().addTo(map);
  const markers = new Map();
  function remove(id) {
    const m = markers.get(id);
    if (m) { layer.removeLayer(m); markers.delete(id); }
  }
  function update(incident) {
    if (!incident) return;
    if (!incident.location || incident.status === "closed") { remove(incident.id); return; }
    const colour = PRIORITY_COLOURS[incident.priority] || PRIORITY_COLOURS[5];
    const label = `P${incident.priority} ${incident.title}`;
    const icon = dotIcon(colour, `sc-incident sc-priority-${incident.priority}`, label, 18);
    const latlng = [incident.location.lat, incident.location.lon];
    const popup = `<strong>${escapeHtml(incident.title)}</strong><br>`
      + `Priority ${escapeHtml(incident.priority)} · ${escapeHtml(String(incident.status || "").replace("_", " "))}`;
    let m = markers.get(incident.id);
    if (!m) {
      m = L.marker(latlng, { icon, title: label, alt: label, keyboard: true, zIndexOffset: 1000 });
      m.bindPopup(popup);
      markers.set(incident.id, m);
      layer.addLayer(m);
    } else {
      m.setLatLng(latlng);
      m.setIcon(icon);
      m.setPopupContent(popup);
      m.options.title = label;
    }
    m.incident = incident;
  }
  return { layer, markers, update, remove };
}

/**
 * The points of an ellipse around (lat, lon): semi-axes in metres, the major axis
 * `orientationDeg` from north, clockwise (as the gunshot localiser reports it).
 * @returns {Array<[number, number]>} [lat, lon] pairs
 */
export function ellipsePoints(lon, lat, semiMajorM, semiMinorM, orientationDeg, steps = 48) {
  const t0 = (orientationDeg * Math.PI) / 180;
  const cosLat = Math.cos((lat * Math.PI) / 180);
  const points = [];
  for (let i = 0; i < steps; i += 1) {
    const t = (2 * Math.PI * i) / steps;
    const x = semiMajorM * Math.cos(t);
    const y = semiMinorM * Math.sin(t);
    const east = x * Math.sin(t0) + y * Math.cos(t0);
    const north = x * Math.cos(t0) - y * Math.sin(t0);
    points.push([lat + north / M_PER_DEG, lon + east / (M_PER_DEG * cosLat)]);
  }
  return points;
}

/**
 * Uncertainty ellipses (gunshot locations) as polygons. Added to the map.
 * @param {L.Map} map
 * @returns {{layer: L.LayerGroup,
 *            add: (lon: number, lat: number, semiMajorM: number, semiMinorM: number,
 *                  orientationDeg: number, options?: object) => L.Polygon,
 *            clear: () => void}}
 */
export function ellipseLayer(map) {
  const layer = L.layerGroup().addTo(map);
  return {
    layer,
    add(lon, lat, semiMajorM, semiMinorM, orientationDeg, options = {}) {
      const polygon = L.polygon(ellipsePoints(lon, lat, semiMajorM, semiMinorM, orientationDeg), {
        color: "#cf222e", weight: 2, fillColor: "#cf222e", fillOpacity: 0.15, ...options,
      });
      polygon.bindTooltip(`95 % area: ${Math.round(semiMajorM)} m × ${Math.round(semiMinorM)} m`);
      layer.addLayer(polygon);
      return polygon;
    },
    clear() { layer.clearLayers(); },
  };
}

/**
 * A layer switcher with names: `layers` maps a label to a Leaflet layer or to one of the
 * helper objects above (their `.layer` is used).
 * @param {L.Map} map
 * @param {Object<string, L.Layer|{layer: L.Layer}>} layers
 * @returns {L.Control.Layers}
 */
export function layerControl(map, layers) {
  const overlays = {};
  for (const [name, value] of Object.entries(layers)) {
    overlays[escapeHtml(name)] = value && value.layer ? value.layer : value;
  }
  return L.control.layers(null, overlays, { collapsed: true }).addTo(map);
}
