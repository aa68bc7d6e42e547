"""The admin's map widget for areas (a quest's area), offline: Django's OpenLayers widget (its
``OLMapWidget.js``) with OpenLayers and the basemap served from this server (``webmap/dist``: ``ol/`` and
``basemap/``, written by the web map's build) instead of a CDN and remote tiles, and no inline script, so it
works under the Content-Security-Policy and without internet."""
from __future__ import annotations

import json

from django.contrib.gis.forms.widgets import OpenLayersWidget
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import mark_safe

DEFAULT_VIEW = {"default_lon": -66.45, "default_lat": 18.22, "default_zoom": 8}  # the demo region


class OfflineAreaWidget(OpenLayersWidget):
    """Draw and edit a (multi)polygon over the offline basemap; the value travels as GeoJSON in EPSG:3857
    (``map_srid``), as in Django's own OpenLayers widget."""

    map_srid = 3857

    class Media:
        css = {"all": ("webmap/ol/ol.css", "gis/css/ol3.css", "webmap/admin/area-widget.css")}
        js = ("webmap/ol/ol.js", "gis/js/OLMapWidget.js", "webmap/admin/area-widget.js")

    def render(self, name, value, attrs=None, renderer=None):
        context = self.get_context(name, value, attrs)
        options = {"geom_name": context["geom_type"], "id": context["id"], "map_id": f"{context['id']}_map",
                   "map_srid": self.map_srid, "name": name, "basemap": static("webmap/basemap/"), **DEFAULT_VIEW}
        return format_html(
            '<div class="dj_map_wrapper dawn-area" data-dawn-area="{}">'
            '<div id="{}_map" class="dj_map" role="application" aria-label="Map: click to add corners, double-click to '
            'finish an area"></div>{}'
            '<textarea id="{}" class="vSerializedField required" cols="150" rows="10" name="{}" hidden>{}</textarea>'
            '</div>',
            json.dumps(options), context["id"],
            mark_safe('<span class="clear_features"><a href="">Delete all features</a></span>'),
            context["id"], name, context["serialized"])
