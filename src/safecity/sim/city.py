"""The demo city: Helsinki centre map data shipped in the package, plus the devices it assumes."""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

import networkx as nx

from safecity.core.geo import BBox, Location, haversine_m
from safecity.core.registry import CameraView, Sensor, SensorKind
from safecity.sim.geometry import bearing_deg, metres_per_degree, segment_distance_m

#: What every map or list showing this data must display (ODbL 1.0 attribution).
ATTRIBUTION = "Map data © OpenStreetMap contributors, ODbL 1.0"
ATTRIBUTION_URL = "https://www.openstreetmap.org/copyright"

AGENCY_POLICE = "helsinki-police"
AGENCY_CITY = "helsinki-city"
AGENCY_RESCUE = "helsinki-rescue"
AGENCIES = (AGENCY_POLICE, AGENCY_CITY, AGENCY_RESCUE)

#: Every simulated source URI starts with this.
SOURCE_PREFIX = "urn:safecity:demo:"

_DATA = ("data", "helsinki")
_DEMO_NOTE = "Demo assumption, not a statement about the real installation or a legal opinion."

#: One acoustic sensor and one emergency button per this many street lamps ("smart lamps").
SMART_LAMP_EVERY = 6
NOISE_SENSOR_COUNT = 8
BOLLARD_COUNT = 4
WASTE_CONTAINER_COUNT = 12
CROWD_SQUARES = ("Senaatintori", "Rautatientori")
#: Demo capacity of a square for crowd counting: persons per square metre of its area.
CROWD_CAPACITY_PER_M2 = 0.5
#: The police patrol units the simulator moves around (each carries a vehicle tracker).
PATROL_UNIT_IDS = tuple(f"unit-p{i}" for i in range(1, 7))


@dataclass(frozen=True)
class Device:
    """A device the simulator produces events for. ``id`` is its register and payload id."""

    id: str
    kind: SensorKind
    name: str
    lon: float
    lat: float
    source: str
    osm_id: str | None = None
    mounted_on: str | None = None
    capacity: int | None = None
    area_m2: float | None = None
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def location(self) -> Location:
        return Location(lon=self.lon, lat=self.lat)

    def tag(self, key: str) -> str | None:
        """An OpenStreetMap tag copied with the device (cameras' surveillance tags)."""
        return dict(self.tags).get(key)


@dataclass(frozen=True)
class Landmark:
    """A named place from OpenStreetMap (square, station, park, district...)."""

    id: str
    kind: str
    name: str
    lon: float
    lat: float
    area_m2: float | None = None


def _device(
    slug: str, kind: SensorKind, ref: str, name: str, *, lon: float, lat: float, **extra: Any
) -> Device:
    return Device(
        id=f"{slug}-{ref}",
        kind=kind,
        name=name,
        lon=lon,
        lat=lat,
        source=f"{SOURCE_PREFIX}{slug}:{ref}",
        **extra,
    )


def _osm_number(osm_id: str) -> str:
    return osm_id.rpartition("-")[2]


def spread_sample(points: Sequence[tuple[float, float]], count: int) -> list[int]:
    """Indices of ``count`` points spread over the area (greedy farthest-point sampling).

    Deterministic: it starts from the point nearest the points' mean and breaks ties by index.
    """
    if count <= 0 or not points:
        return []
    mean_lon = sum(p[0] for p in points) / len(points)
    mean_lat = sum(p[1] for p in points) / len(points)
    kx, ky = metres_per_degree(mean_lat)
    xy = [((lon - mean_lon) * kx, (lat - mean_lat) * ky) for lon, lat in points]
    first = min(range(len(xy)), key=lambda i: (xy[i][0] ** 2 + xy[i][1] ** 2, i))
    chosen = [first]
    best = [math.dist(p, xy[first]) for p in xy]
    while len(chosen) < min(count, len(points)):
        pick = max(range(len(xy)), key=lambda i: (best[i], -i))
        chosen.append(pick)
        for i, p in enumerate(xy):
            best[i] = min(best[i], math.dist(p, xy[pick]))
    return chosen


def _resource(name: str) -> Traversable:
    place = resources.files("safecity.sim")
    for part in (*_DATA, name):
        place = place.joinpath(part)
    return place


def _read_text(name: str) -> str:
    return _resource(name).read_text(encoding="utf-8")


def _read_records(name: str, key: str) -> list[dict[str, Any]]:
    doc = json.loads(_read_text(name))
    rows = doc[key]
    if not isinstance(rows, list):
        raise TypeError(f"{name}: {key!r} is not a list")
    return rows


def _read_roads() -> dict[str, Any]:
    raw = _resource("roads.json.gz").read_bytes()
    doc = json.loads(gzip.decompress(raw))
    if not isinstance(doc, dict) or doc.get("format") != "safecity-roads/1":
        raise ValueError("roads.json.gz: not a safecity-roads/1 document")
    return doc


class DemoCity:
    """Helsinki centre: real cameras, lamps, bollards, bins and roads; assumed smart devices."""

    def __init__(
        self,
        *,
        name: str,
        bbox: BBox,
        cameras: Sequence[Device],
        lamps: Sequence[Device],
        bollards_available: Sequence[Device],
        waste_available: Sequence[Device],
        landmarks: Sequence[Landmark],
        roads: Any,
        data_timestamp: str = "",
    ) -> None:
        self.name = name
        self.bbox = bbox
        self.centre = Location(
            lon=round((bbox.min_lon + bbox.max_lon) / 2, 7),
            lat=round((bbox.min_lat + bbox.max_lat) / 2, 7),
        )
        self.data_timestamp = data_timestamp
        self.cameras: tuple[Device, ...] = tuple(cameras)
        self.lamps: tuple[Device, ...] = tuple(lamps)
        self.landmarks: tuple[Landmark, ...] = tuple(landmarks)
        #: Drivable roads (largest strongly connected component): node attributes ``lon``,
        #: ``lat``; edge attributes ``length_m``, ``travel_time_s``, ``name``, ``oneway``.
        self.roads: Any = roads
        self._node_pos: dict[int, tuple[float, float]] = {
            int(n): (float(d["lon"]), float(d["lat"])) for n, d in roads.nodes(data=True)
        }
        self.road_nodes: tuple[int, ...] = tuple(sorted(self._node_pos))
        self._segments: list[tuple[tuple[float, float], tuple[float, float], str | None]] = [
            (self._node_pos[u], self._node_pos[v], str(name) if name else None)
            for u, v, name in roads.edges(data="name")
        ]

        smart = [self.lamps[i] for i in spread_sample(_points(self.lamps), _ceil_div(len(lamps)))]
        self.acoustic_sensors: tuple[Device, ...] = tuple(
            _device(
                "acoustic",
                SensorKind.ACOUSTIC,
                _osm_ref(lamp),
                f"Acoustic sensor on street lamp {_osm_number(_osm_ref(lamp))}",
                lon=lamp.lon,
                lat=lamp.lat,
                osm_id=lamp.osm_id,
                mounted_on=lamp.id,
            )
            for lamp in smart
        )
        self.emergency_buttons: tuple[Device, ...] = tuple(
            _device(
                "button",
                SensorKind.EMERGENCY_BUTTON,
                _osm_ref(lamp),
                f"Emergency button on street lamp {_osm_number(_osm_ref(lamp))}",
                lon=lamp.lon,
                lat=lamp.lat,
                osm_id=lamp.osm_id,
                mounted_on=lamp.id,
            )
            for lamp in smart
        )
        noisy = [self.lamps[i] for i in spread_sample(_points(self.lamps), NOISE_SENSOR_COUNT)]
        self.noise_sensors: tuple[Device, ...] = tuple(
            _device(
                "noise",
                SensorKind.NOISE,
                _osm_ref(lamp),
                f"Noise monitor on street lamp {_osm_number(_osm_ref(lamp))}",
                lon=lamp.lon,
                lat=lamp.lat,
                osm_id=lamp.osm_id,
                mounted_on=lamp.id,
            )
            for lamp in noisy
        )
        self.crowd_counters: tuple[Device, ...] = tuple(self._crowd_counters())
        picks = spread_sample(_points(bollards_available), BOLLARD_COUNT)
        self.bollards: tuple[Device, ...] = tuple(bollards_available[i] for i in picks)
        picks = spread_sample(_points(waste_available), WASTE_CONTAINER_COUNT)
        self.waste_containers: tuple[Device, ...] = tuple(waste_available[i] for i in picks)
        self._by_id = {d.id: d for d in self.devices()}

    # --- loading ------------------------------------------------------------------------------

    @classmethod
    def load(cls) -> DemoCity:
        """Load Helsinki centre from the package data (no network, no files outside the package)."""
        meta = json.loads(_read_text("city.json"))
        bbox = BBox(*(float(v) for v in meta["bbox"]))
        cameras = [_camera(row) for row in _read_records("cameras.json", "cameras")]
        lamps = [
            _device(
                "lamp",
                SensorKind.LAMPPOST,
                row["id"],
                f"Street lamp {_osm_number(row['id'])}",
                lon=float(row["lon"]),
                lat=float(row["lat"]),
                osm_id=row["id"],
            )
            for row in _read_records("lamps.json", "lamps")
        ]
        bollards = [
            _device(
                "bollard",
                SensorKind.BOLLARD,
                row["id"],
                f"Retractable bollard {_osm_number(row['id'])}",
                lon=float(row["lon"]),
                lat=float(row["lat"]),
                osm_id=row["id"],
            )
            for row in _read_records("bollards.json", "bollards")
        ]
        waste = [
            _device(
                "waste",
                SensorKind.WASTE_CONTAINER,
                row["id"],
                f"{'Waste container' if row['kind'] == 'waste_disposal' else 'Litter bin'} "
                f"{_osm_number(row['id'])}",
                lon=float(row["lon"]),
                lat=float(row["lat"]),
                osm_id=row["id"],
            )
            for row in _read_records("waste.json", "waste")
        ]
        landmarks = [
            Landmark(
                id=row["id"],
                kind=row["kind"],
                name=row["name"],
                lon=float(row["lon"]),
                lat=float(row["lat"]),
                area_m2=float(row["area_m2"]) if row.get("area_m2") is not None else None,
            )
            for row in _read_records("landmarks.json", "landmarks")
        ]
        return cls(
            name=str(meta["name"]),
            bbox=bbox,
            cameras=cameras,
            lamps=lamps,
            bollards_available=bollards,
            waste_available=waste,
            landmarks=landmarks,
            roads=_road_graph(_read_roads()),
            data_timestamp=str(meta.get("data_timestamp", "")),
        )

    # --- lookups ------------------------------------------------------------------------------

    def devices(self) -> tuple[Device, ...]:
        """Every device the simulator uses, in a stable order."""
        return (
            *self.cameras,
            *self.lamps,
            *self.acoustic_sensors,
            *self.emergency_buttons,
            *self.noise_sensors,
            *self.crowd_counters,
            *self.bollards,
            *self.waste_containers,
        )

    def device(self, device_id: str) -> Device:
        """The device with this id; KeyError if there is none."""
        return self._by_id[device_id]

    def lamp_of(self, device: Device) -> Device:
        """The street lamp a lamp-mounted device sits on (the device itself if it is a lamp)."""
        return self._by_id[device.mounted_on] if device.mounted_on else device

    def landmark(self, name: str) -> Landmark | None:
        """The largest landmark with this name, if any."""
        found = [lm for lm in self.landmarks if lm.name == name]
        return max(found, key=lambda lm: lm.area_m2 or 0.0) if found else None

    def node_position(self, node: int) -> tuple[float, float]:
        """(lon, lat) of a road node."""
        return self._node_pos[node]

    def nearest_node(self, lon: float, lat: float) -> int:
        """The road node nearest to a point."""
        kx, ky = metres_per_degree(lat)
        return min(
            self.road_nodes,
            key=lambda n: (
                ((self._node_pos[n][0] - lon) * kx) ** 2 + ((self._node_pos[n][1] - lat) * ky) ** 2
            ),
        )

    def nearest_street(self, lon: float, lat: float, max_m: float = 150.0) -> str | None:
        """Name of the nearest named road within ``max_m`` metres (for addresses in calls)."""
        best: tuple[float, str] | None = None
        for a, b, name in self._near_segments(lon, lat, max_m):
            if name is None:
                continue
            d = segment_distance_m(lon, lat, a, b)
            if d <= max_m and (best is None or d < best[0]):
                best = (d, name)
        return best[1] if best else None

    def distance_to_road_m(self, lon: float, lat: float) -> float:
        """Distance in metres from a point to the nearest road edge."""
        return min(segment_distance_m(lon, lat, a, b) for a, b, _ in self._segments)

    def _near_segments(
        self, lon: float, lat: float, max_m: float
    ) -> list[tuple[tuple[float, float], tuple[float, float], str | None]]:
        # A cheap box test first: a segment wholly outside the box cannot be within max_m.
        kx, ky = metres_per_degree(lat)
        dx, dy = max_m / kx, max_m / ky
        return [
            seg
            for seg in self._segments
            if min(seg[0][0], seg[1][0]) - dx <= lon <= max(seg[0][0], seg[1][0]) + dx
            and min(seg[0][1], seg[1][1]) - dy <= lat <= max(seg[0][1], seg[1][1]) + dy
        ]

    def nearest(
        self,
        devices: Iterable[Device],
        lon: float,
        lat: float,
        *,
        k: int = 1,
        max_m: float | None = None,
    ) -> list[tuple[float, Device]]:
        """Up to ``k`` devices nearest a point, as (metres, device), nearest first."""
        ranked = sorted(
            ((haversine_m(lon, lat, d.lon, d.lat), d) for d in devices),
            key=lambda x: (x[0], x[1].id),
        )
        if max_m is not None:
            ranked = [x for x in ranked if x[0] <= max_m]
        return ranked[:k]

    def contains(self, lon: float, lat: float) -> bool:
        return self.bbox.contains(lon, lat)

    # --- the register -------------------------------------------------------------------------

    def sensors(self) -> list[Sensor]:
        """Register entries for every device the simulator uses (demo assumptions stated).

        Fixed devices come first, then one vehicle tracker per patrol unit (``avl-unit-p1``...).
        """
        fixed = [_sensor(device, self._view(device)) for device in self.devices()]
        return fixed + [_tracker(unit_id, self.name) for unit_id in PATROL_UNIT_IDS]

    def _view(self, device: Device) -> CameraView | None:
        """A camera's view: its OSM ``camera:direction`` when tagged; otherwise assumed to face
        the nearest road (street cameras watch streets), 90° wide and 50 m deep."""
        if device.kind is not SensorKind.CAMERA:
            return None
        tagged = device.tag("camera:direction") or device.tag("direction")
        if tagged is not None:
            try:
                return CameraView(direction_deg=float(tagged) % 360.0, fov_deg=90.0, range_m=50.0)
            except ValueError:
                pass  # compass words ("NE") and ranges are left to the assumption below
        node = self.nearest_node(device.lon, device.lat)
        lon, lat = self.node_position(node)
        if (lon, lat) == (device.lon, device.lat):
            return CameraView(direction_deg=0.0, assumed=True)
        return CameraView(
            direction_deg=round(bearing_deg(device.lon, device.lat, lon, lat) % 360.0, 1),
            assumed=True,
        )

    def _crowd_counters(self) -> list[Device]:
        squares = [lm for name in CROWD_SQUARES if (lm := self.landmark(name)) is not None]
        if not squares:
            squares = sorted(
                (lm for lm in self.landmarks if lm.kind == "square"),
                key=lambda lm: -(lm.area_m2 or 0.0),
            )[:2]
        out = []
        for lm in squares:
            area = lm.area_m2 or 1000.0
            capacity = max(100, int(round(area * CROWD_CAPACITY_PER_M2, -2)))
            slug = lm.name.lower().replace(" ", "-")
            out.append(
                Device(
                    id=f"crowd-{slug}",
                    kind=SensorKind.CROWD_COUNTER,
                    name=f"People counter, {lm.name}",
                    lon=lm.lon,
                    lat=lm.lat,
                    source=f"{SOURCE_PREFIX}crowd:{slug}",
                    osm_id=lm.id,
                    capacity=capacity,
                    area_m2=area,
                )
            )
        return out


def _ceil_div(n: int) -> int:
    return -(-n // SMART_LAMP_EVERY)


def _points(devices: Sequence[Device]) -> list[tuple[float, float]]:
    return [(d.lon, d.lat) for d in devices]


def _osm_ref(device: Device) -> str:
    if device.osm_id is None:
        raise ValueError(f"{device.id} has no OpenStreetMap reference")
    return device.osm_id


def _camera(row: Mapping[str, Any]) -> Device:
    tags = {str(k): str(v) for k, v in row.items() if k not in ("id", "lon", "lat")}
    detail = ", ".join(tags[k] for k in ("camera:type", "camera:mount") if k in tags)
    number = _osm_number(row["id"])
    return _device(
        "camera",
        SensorKind.CAMERA,
        row["id"],
        f"Camera {number}" + (f" ({detail})" if detail else ""),
        lon=float(row["lon"]),
        lat=float(row["lat"]),
        osm_id=row["id"],
        tags=tuple(sorted(tags.items())),
    )


def _road_graph(doc: Mapping[str, Any]) -> Any:
    graph = nx.DiGraph(name="Helsinki centre drivable roads", crs="EPSG:4326")
    nodes = doc["nodes"]
    names = doc["names"]
    for osm_id, lon, lat in nodes:
        graph.add_node(int(osm_id), lon=float(lon), lat=float(lat))
    for u, v, length_m, travel_time_s, name, oneway in doc["edges"]:
        graph.add_edge(
            int(nodes[u][0]),
            int(nodes[v][0]),
            length_m=float(length_m),
            travel_time_s=float(travel_time_s),
            name=str(names[name]) or None,
            oneway=bool(oneway),
        )
    return graph


# --- register texts (purpose and legal basis are the demo's assumptions, said so) ------------

_CAMERA_PURPOSE = (
    "Video analytics report motion, fire or smoke, fights and falls, crowd density and "
    "wrong-way vehicles as events to the control room; no images or identities are sent. "
    "The position is a real OpenStreetMap surveillance camera; its real operator is unknown to "
    "this demo, which treats it as a police camera."
)
_CAMERA_BASIS = (
    "Police Act (872/2011) provisions on technical surveillance of public places and the Act "
    "on the Processing of Personal Data by the Police (616/2019). " + _DEMO_NOTE
)
_LAMP_PURPOSE = (
    "Street lighting: reports light level changes (dusk, dawn, night dimming) and faults so "
    "that dark streets are repaired quickly. The position is a real OpenStreetMap street lamp."
)
_CITY_BASIS = (
    "Municipal duty to maintain streets and public areas (Act on the Maintenance and Cleaning "
    "of Streets and Certain Public Areas 547/1978; Local Government Act 410/2015). " + _DEMO_NOTE
)
_ACOUSTIC_PURPOSE = (
    "Detects impulsive sounds (gunshot-like) and reports only their arrival time and peak "
    "level, so that several sensors can locate a shot; no audio is recorded or transmitted."
)
_ACOUSTIC_BASIS = (
    "Police Act (872/2011) duty to maintain public order and security and its provisions on "
    "technical surveillance of public places. " + _DEMO_NOTE
)
_BUTTON_PURPOSE = (
    "Lets a person in distress call for help from the lamppost; pressing it opens a voice "
    "channel to the control room, so the call itself may contain personal data."
)
_BUTTON_BASIS = (
    "Police Act (872/2011) duty to maintain public order and security and to help people in "
    "danger; Act on the Processing of Personal Data by the Police (616/2019). " + _DEMO_NOTE
)
_NOISE_PURPOSE = (
    "Environmental noise monitoring: one A-weighted level (LAeq, LAmax) per minute; no audio."
)
_NOISE_BASIS = (
    "Municipal environmental monitoring under the Environmental Protection Act (527/2014). "
    + _DEMO_NOTE
)
_CROWD_PURPOSE = (
    "Counts people on the square (anonymous counts computed on the device) so that dangerous "
    "crowding at events is seen early; the capacity is a demo value of "
    f"{CROWD_CAPACITY_PER_M2} persons per square metre of the square's OpenStreetMap area."
)
_CROWD_BASIS = (
    "Rescue Act (379/2011) duties of the rescue authority for safety at public events. "
    + _DEMO_NOTE
)
_BOLLARD_PURPOSE = (
    "Reports the state of a retractable bollard closing a pedestrian street, and forced "
    "passages. The position is a real OpenStreetMap bollard."
)
_BOLLARD_BASIS = "Road Traffic Act (729/2018) traffic control devices. " + _DEMO_NOTE
_WASTE_PURPOSE = (
    "Fill level and temperature of a public waste container, for collection rounds and to "
    "catch smouldering contents early. The position is a real OpenStreetMap waste container."
)
_WASTE_BASIS = "Municipal waste management under the Waste Act (646/2011). " + _DEMO_NOTE

#: kind -> (owner, measures, purpose, legal basis, personal data, retention days, public)
_REGISTER: dict[SensorKind, tuple[str, tuple[str, ...], str, str, bool, int, bool]] = {
    SensorKind.CAMERA: (
        AGENCY_POLICE,
        ("motion", "fire_smoke", "abnormal_behaviour", "crowd_density", "vehicles"),
        _CAMERA_PURPOSE,
        _CAMERA_BASIS,
        True,
        14,
        True,
    ),
    SensorKind.LAMPPOST: (
        AGENCY_CITY,
        ("light_level", "lamp_fault"),
        _LAMP_PURPOSE,
        _CITY_BASIS,
        False,
        365,
        True,
    ),
    SensorKind.ACOUSTIC: (
        AGENCY_POLICE,
        ("impulsive_sound",),
        _ACOUSTIC_PURPOSE,
        _ACOUSTIC_BASIS,
        False,
        30,
        True,
    ),
    SensorKind.EMERGENCY_BUTTON: (
        AGENCY_POLICE,
        ("help_request",),
        _BUTTON_PURPOSE,
        _BUTTON_BASIS,
        True,
        30,
        True,
    ),
    SensorKind.NOISE: (
        AGENCY_CITY,
        ("sound_level",),
        _NOISE_PURPOSE,
        _NOISE_BASIS,
        False,
        365,
        True,
    ),
    SensorKind.CROWD_COUNTER: (
        AGENCY_RESCUE,
        ("people_count",),
        _CROWD_PURPOSE,
        _CROWD_BASIS,
        False,
        90,
        True,
    ),
    SensorKind.BOLLARD: (
        AGENCY_CITY,
        ("bollard_state",),
        _BOLLARD_PURPOSE,
        _BOLLARD_BASIS,
        False,
        365,
        True,
    ),
    SensorKind.WASTE_CONTAINER: (
        AGENCY_CITY,
        ("fill_level", "temperature"),
        _WASTE_PURPOSE,
        _WASTE_BASIS,
        False,
        365,
        True,
    ),
}


_TRACKER_PURPOSE = (
    "Automatic vehicle location of police patrol {unit}: position, speed, heading and status, "
    "so that the control room can send the nearest available unit. It reveals where on-duty "
    "officers are, so it is personal data and not shown in the public register."
)
_TRACKER_BASIS = (
    "Act on the Processing of Personal Data by the Police (616/2019); Act on the Protection of "
    "Privacy in Working Life (759/2004) for the location data of employees. " + _DEMO_NOTE
)


def _tracker(unit_id: str, area: str) -> Sensor:
    return Sensor(
        id=f"avl-{unit_id}",
        kind=SensorKind.VEHICLE_TRACKER,
        name=f"Vehicle tracker of patrol {unit_id}",
        owner_agency=AGENCY_POLICE,
        area=f"{area} patrol area",
        measures=("position", "speed", "heading", "unit_status"),
        purpose=_TRACKER_PURPOSE.format(unit=unit_id),
        legal_basis=_TRACKER_BASIS,
        personal_data=True,
        retention_days=90,
        public=False,
    )


def _sensor(device: Device, view: CameraView | None = None) -> Sensor:
    owner, measures, purpose, basis, personal, retention, public = _REGISTER[device.kind]
    return Sensor(
        view=view,
        id=device.id,
        kind=device.kind,
        name=device.name,
        owner_agency=owner,
        location=device.location,
        measures=measures,
        purpose=purpose,
        legal_basis=basis,
        personal_data=personal,
        retention_days=retention,
        public=public,
    )
