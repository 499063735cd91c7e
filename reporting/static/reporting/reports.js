/* Report charts (Chart.js 4, vendored). Data comes from the page's #report-charts JSON. */
(function () {
  "use strict";
  var source = document.getElementById("report-charts");
  if (!source || typeof Chart === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var printing = document.body.classList.contains("report-print");
  Chart.defaults.animation = printing ? false : Chart.defaults.animation;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;

  // Shaded boxes for Ramadan / Lebaran on the daily chart: the labels are ISO dates.
  var markerBoxes = {
    id: "markerBoxes",
    beforeDatasetsDraw: function (chart, args, options) {
      var markers = options.markers || [];
      var labels = chart.data.labels;
      var x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
      markers.forEach(function (m) {
        var first = labels.findIndex(function (d) { return d >= m.start; });
        var last = -1;
        labels.forEach(function (d, i) { if (d <= m.end) { last = i; } });
        if (first < 0 || last < first) { return; }
        var left = x.getPixelForValue(first) - (first > 0 ? (x.getPixelForValue(first) - x.getPixelForValue(first - 1)) / 2 : 0);
        var right = x.getPixelForValue(last) + (last < labels.length - 1 ? (x.getPixelForValue(last + 1) - x.getPixelForValue(last)) / 2 : 0);
        ctx.save();
        ctx.fillStyle = m.kind === "lebaran" ? "rgba(46, 125, 50, 0.18)" : "rgba(255, 179, 0, 0.16)";
        ctx.fillRect(left, area.top, right - left, area.bottom - area.top);
        ctx.fillStyle = "#444";
        ctx.font = "11px " + Chart.defaults.font.family;
        ctx.fillText(m.label, left + 3, area.top + 12);
        ctx.restore();
      });
    }
  };

  // A horizontal reference line (a target) on one axis.
  var targetLine = {
    id: "targetLine",
    afterDatasetsDraw: function (chart, args, options) {
      if (options.value === undefined || options.value === null) { return; }
      var scale = chart.scales[options.axis || "y"], area = chart.chartArea, ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = "#c62828";
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      if (options.axis === "x") {
        var px = scale.getPixelForValue(options.value);
        ctx.moveTo(px, area.top); ctx.lineTo(px, area.bottom);
      } else {
        var py = scale.getPixelForValue(options.value);
        ctx.moveTo(area.left, py); ctx.lineTo(area.right, py);
      }
      ctx.stroke();
      ctx.restore();
    }
  };

  function make(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) { return new Chart(canvas, config); }
    return null;
  }

  var d = data.daily;
  make("chart-daily", {
    type: "line",
    data: {
      labels: d.labels,
      datasets: [
        { label: d.titles.incidents, data: d.incidents, borderColor: "#c62828", backgroundColor: "#c62828", tension: 0.2, pointRadius: 2 },
        { label: d.titles.calls, data: d.calls, borderColor: "#1565c0", backgroundColor: "#1565c0", tension: 0.2, pointRadius: 2, yAxisID: "y2" }
      ]
    },
    options: {
      interaction: { mode: "index", intersect: false },
      scales: { y: { beginAtZero: true, position: "left" }, y2: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } } },
      plugins: { markerBoxes: { markers: d.markers } }
    },
    plugins: [markerBoxes]
  });

  make("chart-outcomes", {
    type: "doughnut",
    data: { labels: data.outcomes.labels, datasets: [{ data: data.outcomes.values }] },
    options: { plugins: { legend: { position: "right" } } }
  });

  make("chart-categories", {
    type: "bar",
    data: { labels: data.categories.labels, datasets: [{ label: data.categories.title, data: data.categories.values, backgroundColor: "#455a64" }] },
    options: { indexAxis: "y", scales: { y: { ticks: { autoSkip: false } } }, plugins: { legend: { display: false } } }
  });

  var a = data.answering;
  make("chart-answering", {
    type: "bar",
    data: {
      labels: a.labels,
      datasets: [
        { type: "bar", label: a.titles.calls, data: a.calls, backgroundColor: "rgba(21, 101, 192, 0.35)", yAxisID: "y" },
        { type: "line", label: a.titles.within15, data: a.within15, borderColor: "#2e7d32", backgroundColor: "#2e7d32", yAxisID: "y2", spanGaps: true },
        { type: "line", label: a.titles.within20, data: a.within20, borderColor: "#6a1b9a", backgroundColor: "#6a1b9a", yAxisID: "y2", spanGaps: true }
      ]
    },
    options: {
      interaction: { mode: "index", intersect: false },
      scales: { y: { beginAtZero: true }, y2: { min: 0, max: 100, position: "right", grid: { drawOnChartArea: false } } },
      plugins: { targetLine: { axis: "y2", value: a.goal15 } }
    },
    plugins: [targetLine]
  });

  var g = data.agencies;
  make("chart-agencies", {
    type: "bar",
    data: {
      labels: g.labels,
      datasets: [
        { label: g.titles.median, data: g.median, backgroundColor: "#1565c0" },
        { label: g.titles.p90, data: g.p90, backgroundColor: "rgba(198, 40, 40, 0.6)" }
      ]
    },
    options: {
      indexAxis: "y",
      scales: { x: { beginAtZero: true }, y: { ticks: { autoSkip: false } } },
      plugins: { targetLine: { axis: "x", value: g.target } }
    },
    plugins: [targetLine]
  });

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
  // Tables folded away on screen are printed open.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (el) { el.dataset.wasOpen = el.open ? "1" : ""; el.open = true; });
  });
  window.addEventListener("afterprint", function () {
    document.querySelectorAll("details").forEach(function (el) { el.open = el.dataset.wasOpen === "1"; });
  });
})();
