/* Map of open incidents (Leaflet, vendored). Works without tiles: markers on a plain background. */
(function () {
  "use strict";
  var config = window.MAP_CONFIG || {};
  var center = JSON.parse(document.getElementById("map-center").textContent);
  var map = L.map("map").setView(center, 12);
  if (config.tileUrl) {
    var tiles = L.tileLayer(config.tileUrl, {maxZoom: 19, attribution: config.attribution});
    tiles.addTo(map);
  }
  var colours = {1: "#a8141c", 2: "#b35c00", 3: "#0b5cad", 4: "#5b6670"};
  var layer = L.featureGroup().addTo(map);

  function esc(s) { var d = document.createElement("div"); d.textContent = s == null ? "" : String(s); return d.innerHTML; }

  function draw(points) {
    layer.clearLayers();
    var list = document.getElementById("map-list");
    list.innerHTML = "";
    points.forEach(function (p) {
      var breached = p.sla === "breached";
      var marker = L.circleMarker([p.lat, p.lon], {
        radius: p.priority === 1 ? 10 : 8, color: breached ? "#000" : colours[p.priority] || "#333",
        weight: breached ? 4 : 2, fillColor: colours[p.priority] || "#333", fillOpacity: 0.8
      });
      var html = '<a href="' + esc(p.url) + '"><strong>' + esc(p.reference) + "</strong></a><br>P" + p.priority + " · " +
        esc(p.category) + "<br>" + esc(p.district) + " · " + esc(p.status) + "<br>SLA: " + esc(p.sla_label);
      marker.bindPopup(html);
      marker.bindTooltip(esc(p.reference) + " · P" + p.priority);
      marker.addTo(layer);
      var li = document.createElement("li");
      li.innerHTML = '<a href="' + esc(p.url) + '">' + esc(p.reference) + "</a> — P" + p.priority + " " + esc(p.category) +
        " — " + esc(p.district) + " — " + esc(p.status) + " — SLA: " + esc(p.sla_label);
      list.appendChild(li);
    });
    document.getElementById("map-count").textContent = "(" + points.length + ")";
    if (points.length && !draw.fitted) { map.fitBounds(layer.getBounds().pad(0.2), {maxZoom: 15}); draw.fitted = true; }
  }

  draw(JSON.parse(document.getElementById("map-points").textContent));
  setInterval(function () {
    fetch(config.dataUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) draw(data.points); })
      .catch(function () {});
  }, 30000);
})();
