/* Staff console behaviour: live SLA clocks, keyboard shortcuts, category search, small helpers.
   No build step; htmx does the server round trips. */
(function () {
  "use strict";

  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function fmt(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }
  function parse(value) { return value ? Date.parse(value) : NaN; }

  // Live SLA clocks: elapsed time since the clock started, and the state at warning / breach.
  function tickClocks() {
    var now = Date.now();
    document.querySelectorAll("[data-clock]").forEach(function (el) {
      var start = parse(el.dataset.start);
      if (isNaN(start) || el.dataset.stop) return;  // stopped clocks stay as rendered
      var state = el.dataset.state;
      if (["ok", "warning", "breached"].indexOf(state) === -1) return;
      var warn = parse(el.dataset.warn), due = parse(el.dataset.due);
      var next = now >= due ? "breached" : (now >= warn ? "warning" : "ok");
      var time = el.querySelector("[data-clock-time]");
      if (time) time.textContent = fmt((now - start) / 1000);
      if (next !== state) {
        el.classList.remove("clock-" + state);
        el.classList.add("clock-" + next);
        el.dataset.state = next;
        var label = el.querySelector("[data-clock-state]");
        if (label) label.textContent = el.dataset["label" + next.charAt(0).toUpperCase() + next.slice(1)] || next;
      }
    });
  }
  setInterval(tickClocks, 1000);
  document.addEventListener("DOMContentLoaded", tickClocks);
  document.addEventListener("htmx:afterSwap", tickClocks);

  // A poll the server answered 304 swaps in the browser's cached copy: its "updated" time is the
  // time of this refresh, not of that copy.
  document.addEventListener("htmx:afterSwap", function (event) {
    event.detail.target.querySelectorAll("[data-refreshed]").forEach(function (el) {
      try {
        el.textContent = new Date().toLocaleTimeString("en-GB", { timeZone: el.dataset.zone, hour12: false });
      } catch (error) { /* an unknown zone name: keep the server's time */ }
    });
  });

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  // Keyboard shortcuts. Alt+Shift+<letter> goes to a menu item or presses a button that declares
  // data-shortcut="<letter>"; "/" focuses the page's search field; Ctrl+Enter submits the
  // form the focus is in (its primary button).
  document.addEventListener("keydown", function (event) {
    if (event.altKey && event.shiftKey && !event.ctrlKey && !event.metaKey && event.code && event.code.indexOf("Key") === 0) {
      var letter = event.code.slice(3).toUpperCase();
      var target = document.querySelector('button[data-shortcut="' + letter + '"]:not([disabled])') ||
                   document.querySelector('a[data-shortcut="' + letter + '"]');
      if (target) { event.preventDefault(); target.click(); }
      return;
    }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      var form = event.target && event.target.form;
      var primary = form && form.querySelector("button.primary[type=submit]");
      if (primary) { event.preventDefault(); primary.click(); }
      return;
    }
    if (event.key === "/" && !typing(event.target)) {
      var search = document.querySelector("[data-search-focus]");
      if (search) { event.preventDefault(); search.focus(); search.select && search.select(); }
    }
    if (event.key === "Escape" && event.target && event.target.matches("[data-filter-select]")) {
      event.target.value = ""; event.target.dispatchEvent(new Event("input"));
    }
  });

  // Category search: filters a <select> by every word typed, in Indonesian or English
  // (each option carries both names and its code in data-search). Enter picks the first match.
  function setupFilter(input) {
    var select = document.getElementById(input.dataset.filterSelect);
    if (!select) return;
    var options = Array.prototype.slice.call(select.options);
    function norm(s) { return (s || "").toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, ""); }
    input.addEventListener("input", function () {
      var words = norm(input.value).split(/\s+/).filter(Boolean);
      var first = null;
      options.forEach(function (opt) {
        if (!opt.value) { return; }
        var hay = norm(opt.dataset.search || opt.textContent);
        var match = words.every(function (w) { return hay.indexOf(w) !== -1; });
        opt.hidden = !match; opt.disabled = !match;
        if (match && !first) first = opt;
      });
      if (first && words.length) { select.value = first.value; select.dispatchEvent(new Event("change", {bubbles: true})); }
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); select.focus(); }
      if (event.key === "ArrowDown") { event.preventDefault(); select.focus(); }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-filter-select]").forEach(setupFilter);
    var auto = document.querySelector("[autofocus]");
    if (auto && document.activeElement !== auto) auto.focus();
  });

  // Rows that link to a page: Enter or click opens it (the link inside stays the real target).
  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest("tr[data-href]");
    if (row && !event.target.closest("a,button,input,select,label")) { window.location = row.dataset.href; }
  });

  // Show server errors of htmx requests instead of failing silently.
  document.addEventListener("htmx:responseError", function (event) {
    var box = document.getElementById("messages");
    if (!box) return;
    var div = document.createElement("div");
    div.className = "message message-error"; div.setAttribute("role", "alert");
    div.textContent = (document.documentElement.lang === "en" ? "Request failed: " : "Permintaan gagal: ") +
      event.detail.xhr.status + " " + (event.detail.xhr.statusText || "");
    box.appendChild(div);
  });
})();
