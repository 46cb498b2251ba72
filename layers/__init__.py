"""Map layers: one module per layer, each defining `LAYER = MapLayer(...)`.

A layer is a thin description over PostGIS, in the spirit of pg_tileserv's function
layers: a SELECT for the features near a tile (geo.tiles wraps it into a vector tile),
the way its tiles are rendered when not by that SELECT alone, MapLibre paint rules, a
legend, the UI filters it obeys, and the tables whose changes invalidate it. Layers read
geo's domain modules and never the web (geo.web imports layers, not the reverse). Adding a layer is adding a module here; the tile server, the layer switcher,
the legend and the live refresh pick it up.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Callable

from geo.labels import t


@dataclass(frozen=True)
class LegendItem:
    color: str
    label: str
    shape: str = "fill"  # fill | line | dashed | circle | hatch | ramp


@dataclass(frozen=True)
class MapLayer:
    id: str
    label: str
    order: int  # drawing order, bottom first
    sql: str  # SELECT geom (EPSG:4326) and `attributes`, for features && (SELECT b FROM bbox)
    attributes: tuple[str, ...]
    style: tuple[dict, ...]  # MapLibre style layers without id/source (filled in here)
    legend: tuple[LegendItem, ...] = ()
    depends_on: tuple[str, ...] = ()  # data_version names whose change redraws the layer
    filters: tuple[str, ...] = ()  # 'window', 'category': UI filters passed as tile parameters
    visible: bool = True
    simplify: bool = True
    clickable: bool = False  # a click on its features opens the grid card
    prepare: Callable | None = field(default=None, compare=False)  # refresh derived tables before serving
    # How its tiles are made: None, by PostGIS from `sql` (geo.tiles.tile_sql); else
    # fn(conn, layer, args) -> bytes, or None to fall back to `sql` for this request (e.g. the
    # heat layer's low zooms, assembled from cached counts in geo/analysis/heat.py).
    render: Callable | None = field(default=None, compare=False)


def discover() -> dict[str, MapLayer]:
    found = []
    for module in pkgutil.iter_modules(__path__):
        layer = getattr(importlib.import_module(f"{__name__}.{module.name}"), "LAYER", None)
        if isinstance(layer, MapLayer):
            found.append(layer)
    return {layer.id: layer for layer in sorted(found, key=lambda layer: layer.order)}


LAYERS = discover()


GLYPHS_URL = "/glyphs/{fontstack}/{range}.pbf"  # made by this server from the local CJK font (geo/glyphs.py)


def basemap_style() -> dict:
    """The reference layers alone, for maps that draw their own overlays (drill-down, planner):
    glyphs, their vector sources, the style layers to go under everything (`under`: roads,
    water, blocks) and over everything (`over`: street and place names)."""
    config = map_config({k: LAYERS[k] for k in ("basemap", "street_names")})
    layers = config["style"]["layers"]
    return {
        "glyphs": GLYPHS_URL,
        "sources": config["style"]["sources"],
        "under": [layer for layer in layers if layer.get("source") == "basemap"],
        "over": [layer for layer in layers if layer.get("source") == "street_names"],
    }


def map_config(
    layers: dict[str, MapLayer], basemap_url: str | None = None, attribution: str = "", data_attribution: str = ""
) -> dict:
    """Everything the browser needs to draw the map: sources, style layers, legends, and the
    caption of the data drawn (geo.analysis.attribution: the boundary's source, what is synthetic)."""
    sources, style_layers, switcher = {}, [], []
    if basemap_url:
        sources["basemap"] = {"type": "raster", "tiles": [basemap_url], "tileSize": 256, "attribution": attribution}
        style_layers.append({"id": "basemap", "type": "raster", "source": "basemap"})
    for layer in layers.values():
        sources[layer.id] = {"type": "vector", "tiles": [f"/tiles/{layer.id}/{{z}}/{{x}}/{{y}}.pbf"], "minzoom": 0, "maxzoom": 16}
        for i, spec in enumerate(layer.style):
            style_layers.append(
                dict(
                    spec,
                    id=f"{layer.id}-{i}",
                    source=layer.id,
                    **{"source-layer": layer.id},
                    layout=dict(spec.get("layout", {}), visibility="visible" if layer.visible else "none"),
                )
            )
        switcher.append(
            dict(
                id=layer.id,
                label=t(layer.label),
                visible=layer.visible,
                filters=list(layer.filters),
                depends_on=list(layer.depends_on),
                clickable=layer.clickable,
                legend=[dict(color=i.color, label=t(i.label), shape=i.shape) for i in layer.legend],
            )
        )
    style = {
        "version": 8,
        "glyphs": GLYPHS_URL,
        "sources": sources,
        "layers": [{"id": "background", "type": "background", "paint": {"background-color": "#0a1726"}}] + style_layers,
    }
    return {"style": style, "layers": switcher, "attribution": data_attribution}
