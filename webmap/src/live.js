// Live updates over /ws/map/: subscribe to the visible bbox; new observations pulse in.
import maplibregl from "maplibre-gl";
import { auth, socketProtocols } from "./api.js";
import { esc } from "./html.js";

export function startLive(map, config) {
  const state = document.getElementById("live-state");
  const list = document.getElementById("live-list");
  let socket = null;
  let retry = 300;
  const subscribe = () => {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    const b = map.getBounds();
    const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
    socket.send(JSON.stringify({ type: "subscribe", bbox: [clamp(b.getWest(), -180, 179.9), clamp(b.getSouth(), -90, 89.9),
      clamp(b.getEast(), -179.9, 180), clamp(b.getNorth(), -89.9, 90)] }));
  };
  const connect = () => {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${window.location.host}${config.websocket_path}`, socketProtocols());
    socket.onopen = () => { retry = 300; subscribe(); };
    socket.onmessage = (event) => {
      const msg = JSON.parse(event.data);
      if (msg.type === "hello") document.body.dataset.liveAuthenticated = String(msg.authenticated);
      if (msg.type === "subscribed") { state.textContent = "live: watching this view"; document.body.dataset.live = "1"; }
      if (msg.type === "observation.created" || msg.type === "observation.changed") arrive(map, list, msg);
    };
    socket.onclose = (event) => {
      if (event.code === 4401 || event.code === 4400) auth.token = "";  // token refused: go on signed out
      state.textContent = "live: reconnecting…"; document.body.dataset.live = "0";
      setTimeout(connect, retry); retry = Math.min(retry * 2, 30000);
    };
  };
  map.on("moveend", subscribe);
  connect();
}

function arrive(map, list, msg) {
  const f = msg.observation;
  const el = document.createElement("div");
  el.className = "live-marker";
  el.setAttribute("role", "img");
  el.setAttribute("aria-label", `New: ${f.properties.common_name}`);
  el.dataset.observation = String(f.properties.id);
  el.innerHTML = '<div class="pulse"></div>';  // animated inside: MapLibre positions the outer element by transform
  new maplibregl.Marker({ element: el }).setLngLat(f.geometry.coordinates).addTo(map);
  const item = document.createElement("li");
  item.dataset.observation = String(f.properties.id);
  item.innerHTML = `${msg.type === "observation.created" ? "New" : "Updated"}: <b>${esc(f.properties.common_name)}</b> ${esc(f.properties.observed_at.slice(0, 16).replace("T", " "))}`;
  list.prepend(item);
  // refresh the tiles so clusters include it (the server's tile generation changed)
  const source = map.getSource("obs");
  source.setTiles(source.tiles);
}
