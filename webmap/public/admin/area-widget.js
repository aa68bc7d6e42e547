/* global ol, MapWidget */
// Starts Django's MapWidget (gis/js/OLMapWidget.js) for each offline area field (server/maps/area_widget.py)
// from its data attribute, with the web map's offline basemap: Natural Earth 1:10m countries and labelled
// towns, loaded from this server. No inline script, no remote tiles.
"use strict";

function offlineBaseLayer(basemap) {
  const land = new ol.layer.Vector({
    source: new ol.source.Vector({ url: basemap + "countries-10m.json", format: new ol.format.TopoJSON({ layers: ["countries"] }) }),
    style: new ol.style.Style({ fill: new ol.style.Fill({ color: "#f2efe6" }), stroke: new ol.style.Stroke({ color: "#6f93aa", width: 1 }) }),
  });
  const label = (feature, resolution) => {
    const population = feature.get("population");
    const minimum = resolution > 2000 ? 250000 : resolution > 300 ? 40000 : resolution > 60 ? 5000 : 0;
    if (population < minimum) return null;
    return new ol.style.Style({
      image: new ol.style.Circle({ radius: 3, fill: new ol.style.Fill({ color: "#5b5346" }), stroke: new ol.style.Stroke({ color: "#fff", width: 1 }) }),
      text: new ol.style.Text({ text: feature.get("name"), font: "12px sans-serif", offsetY: -10,
        fill: new ol.style.Fill({ color: "#2f2a22" }), stroke: new ol.style.Stroke({ color: "#fff", width: 3 }) }),
    });
  };
  const places = new ol.layer.Vector({
    source: new ol.source.Vector({ url: basemap + "places.json", format: new ol.format.GeoJSON() }),
    style: label, declutter: true,
  });
  places.getSource().setAttributions("Natural Earth (public domain); places: GeoNames (CC BY 4.0)");
  return new ol.layer.Group({ layers: [land, places] });
}

function startAreaWidgets() {
  for (const wrapper of document.querySelectorAll("[data-dawn-area]")) {
    if (wrapper.dataset.started) continue;
    const options = JSON.parse(wrapper.dataset.dawnArea);
    options.base_layer = offlineBaseLayer(options.basemap);
    const widget = new MapWidget(options);
    wrapper.dataset.started = "1";
    window.dawnAreaWidgets = (window.dawnAreaWidgets || []).concat(widget);
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startAreaWidgets);
else startAreaWidgets();
