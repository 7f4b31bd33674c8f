"""RoadNetwork: drive times by reverse Dijkstra, snapping, off-network legs, routes, packaging."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from safecity.routing.network import OFF_NETWORK_SPEED_KMH, PACKAGED, RoadNetwork

SLOW_MPS = OFF_NETWORK_SPEED_KMH / 3.6
METRES_PER_DEGREE = math.pi / 180 * 6_371_008.8


def at(net: RoadNetwork, node: int) -> tuple[float, float]:
    return float(net.lon[node]), float(net.lat[node])


# -- the hand-built tiny network (see conftest.py) ------------------------------------------------


def test_drive_times_come_from_one_reverse_search(tiny: RoadNetwork) -> None:
    origins = [at(tiny, n) for n in range(6)]
    times = tiny.drive_times_to(*at(tiny, 2), origins)
    assert times.tolist() == pytest.approx([20.0, 10.0, 0.0, 40.0, math.inf, math.inf])


def test_one_way_street_is_honoured(tiny: RoadNetwork) -> None:
    assert tiny.drive_time(at(tiny, 0), at(tiny, 1)) == pytest.approx(10.0)
    # 1 -> 0 may not use the one-way 0 -> 1 backwards: it goes round by 3
    back = tiny.route(at(tiny, 1), at(tiny, 0))
    assert back.seconds == pytest.approx(40.0)
    assert back.path == (at(tiny, 1), at(tiny, 3), at(tiny, 0))
    assert back.metres == pytest.approx(314.0)


def test_fastest_route_is_by_time_not_distance(tiny: RoadNetwork) -> None:
    route = tiny.route(at(tiny, 0), at(tiny, 2))
    assert route.seconds == pytest.approx(20.0)
    assert route.metres == pytest.approx(222.0)  # longer than the 200 m direct street
    assert route.path == (at(tiny, 0), at(tiny, 1), at(tiny, 2))
    assert route.reachable


def test_unreachable_component_gives_inf(tiny: RoadNetwork) -> None:
    assert tiny.drive_times_to(*at(tiny, 0), [at(tiny, 4), at(tiny, 5)]).tolist() == [
        math.inf,
        math.inf,
    ]
    route = tiny.route(at(tiny, 4), at(tiny, 0))
    assert not route.reachable
    assert route.path == ()
    assert route.metres == math.inf


def test_off_network_legs_are_costed_at_the_slow_speed(tiny: RoadNetwork) -> None:
    offset = 0.0001  # ~11 m north of node 0
    origin = (0.0, offset)
    leg_m = offset * METRES_PER_DEGREE
    expected = 20.0 + leg_m / SLOW_MPS
    assert tiny.drive_times_to(*at(tiny, 2), [origin])[0] == pytest.approx(expected, rel=1e-3)
    route = tiny.route(origin, at(tiny, 2))
    assert route.seconds == pytest.approx(expected, rel=1e-3)
    assert route.metres == pytest.approx(222.0 + leg_m, rel=1e-3)
    assert route.path[0] == origin
    assert route.path[-1] == at(tiny, 2)


def test_points_snapping_to_the_same_node_use_the_straight_line(tiny: RoadNetwork) -> None:
    a, b = (0.0, 0.0001), (0.0001, 0.0)
    direct_m = math.hypot(0.0001, 0.0001) * METRES_PER_DEGREE
    assert tiny.drive_times_to(*b, [a])[0] == pytest.approx(direct_m / SLOW_MPS, rel=1e-3)
    route = tiny.route(a, b)
    assert route.path == (a, b)
    assert route.metres == pytest.approx(direct_m, rel=1e-3)


def test_limit_cuts_the_search(tiny: RoadNetwork) -> None:
    times = tiny.drive_times_to(*at(tiny, 2), [at(tiny, 0), at(tiny, 1)], limit_s=15.0)
    assert times.tolist() == [math.inf, pytest.approx(10.0)]
    assert not tiny.route(at(tiny, 0), at(tiny, 2), limit_s=15.0).reachable


def test_empty_origins_give_an_empty_array(tiny: RoadNetwork) -> None:
    assert tiny.drive_times_to(0.0, 0.0, []).shape == (0,)


def test_snap_bbox_and_contains(tiny: RoadNetwork) -> None:
    node, metres = tiny.nearest_node(0.00201, 0.0)
    assert node == 2
    assert metres == pytest.approx(0.00001 * METRES_PER_DEGREE, rel=1e-3)
    box = tiny.bbox
    assert (box.min_lon, box.min_lat, box.max_lon, box.max_lat) == (0.0, -0.001, 0.011, 0.010)
    assert tiny.contains(0.005, 0.005)
    assert not tiny.contains(0.0, 0.0115)  # ~167 m north of the box
    assert tiny.contains(0.0, 0.0115, margin_m=200.0)
    assert not tiny.contains(math.nan, 0.0)


def test_from_arrays_keeps_the_fastest_parallel_edge_and_drops_loops() -> None:
    net = RoadNetwork.from_arrays(
        lon=[0.0, 0.001],
        lat=[0.0, 0.0],
        edge_u=[0, 0, 1, 0],
        edge_v=[1, 1, 0, 0],
        travel_time_s=[5.0, 3.0, 4.0, 1.0],
        length_m=[100.0, 120.0, 111.0, 0.0],
    )
    assert net.edge_count == 2
    route = net.route((0.0, 0.0), (0.001, 0.0))
    assert (route.seconds, route.metres) == pytest.approx((3.0, 120.0))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"edge_v": [2]}, "index"),
        ({"travel_time_s": [-1.0]}, "non-negative"),
        ({"length_m": [1.0, 2.0]}, "equal length"),
        ({"lat": [0.0, math.nan]}, "finite"),
        ({"lon": [0.0, 200.0]}, "±180"),
    ],
)
def test_from_arrays_rejects_bad_input(change: dict[str, Any], message: str) -> None:
    arrays: dict[str, Any] = {
        "lon": [0.0, 0.001],
        "lat": [0.0, 0.0],
        "edge_u": [0],
        "edge_v": [1],
        "travel_time_s": [1.0],
        "length_m": [1.0],
    } | change
    with pytest.raises(ValueError, match=message):
        RoadNetwork.from_arrays(**arrays)


# -- the packaged networks --------------------------------------------------------------------

CASINO = (7.4283, 43.7394)  # Place du Casino, Monte-Carlo
STADE = (7.4155, 43.7277)  # Stade Louis II, Fontvieille


def test_unknown_network_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="monaco"):
        RoadNetwork.load("atlantis")


@pytest.mark.parametrize("name", PACKAGED)
def test_packaged_networks_load_with_attribution(name: str) -> None:
    net = RoadNetwork.load(name)
    assert net.name == name
    assert net.metadata["licence"] == "ODbL-1.0"
    assert "OpenStreetMap contributors" in net.attribution
    assert net.osm_ids is not None
    assert np.all(np.diff(net.osm_ids) > 0)  # sorted, unique


def test_monaco_has_the_documented_size() -> None:
    net = RoadNetwork.load("monaco")
    assert net.node_count == 14_341  # the largest strongly connected component (SOURCE.md)
    assert net.contains(*CASINO)
    assert not net.contains(7.60, 43.74, margin_m=1000)


def test_monaco_casino_to_stade_is_plausible() -> None:
    net = RoadNetwork.load("monaco")
    seconds = net.drive_time(CASINO, STADE)
    assert 120 < seconds < 600  # ~1.7 km apart as the crow flies, through town
    route = net.route(CASINO, STADE)
    assert route.seconds == pytest.approx(seconds)
    assert 1_700 < route.metres < 4_000
    assert route.path[0] == CASINO
    assert route.path[-1] == STADE


def test_monaco_matches_networkx_on_the_source_graph(monaco_graph: Any) -> None:
    import networkx as nx

    net = RoadNetwork.load("monaco")
    assert net.osm_ids is not None
    ids = net.osm_ids.tolist()
    source, _ = net.nearest_node(*CASINO)
    target, _ = net.nearest_node(*STADE)
    expected = nx.shortest_path_length(
        monaco_graph, ids[source], ids[target], weight="travel_time_s"
    )
    assert net.times_to_node(target)[source] == pytest.approx(expected, abs=0.05)
    # and every node's time to the target, against networkx on the reversed source graph
    reference = nx.single_source_dijkstra_path_length(
        monaco_graph.reverse(copy=False), ids[target], weight="travel_time_s"
    )
    ours = net.times_to_node(target)
    reached = [i for i, osm in enumerate(ids) if osm in reference]
    assert len(reached) == net.node_count  # one strongly connected component
    theirs = np.array([reference[ids[i]] for i in reached])
    np.testing.assert_allclose(ours[reached], theirs, atol=0.1)
