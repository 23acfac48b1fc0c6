// The console's only script: live fleet rows (polling /api/v1/stations), the map's colours,
// and the airings behind a compliance cell. No framework, no build step, same origin only.
"use strict";
(function () {
  var POLL_MS = 3000;
  var body = document.body;
  var lang = body.dataset.lang || "vi";

  function words() {
    var el = document.getElementById("words");
    return el ? JSON.parse(el.textContent) : { states: {} };
  }
  function hm(text) { return text ? String(text).slice(0, 19).replace("T", " ") : "\u2013"; }
  function num(v) { return v === null || v === undefined ? "\u2013" : String(v); }
  function cell(tr, name) { return tr.querySelector('[data-field="' + name + '"]'); }
  function setText(el, text) { if (el && el.textContent !== text) { el.textContent = text; } }

  function fillRow(tr, r, w) {
    tr.className = "state-" + r.state;
    var st = cell(tr, "state");
    if (st) {
      var badge = st.querySelector(".badge") || st.appendChild(document.createElement("span"));
      badge.className = "badge " + r.state;
      setText(badge, w.states[r.state] || r.state);
    }
    setText(cell(tr, "last_seen_at"), hm(r.last_seen_at));
    var a = r.last_airing;
    setText(cell(tr, "last_airing"), a ? hm(a.started_at) + " \u00b7 " + (a.outcome || "") : "\u2013");
    setText(cell(tr, "schedule"), num(r.schedule_published) + " / " + num(r.schedule_applied));
    setText(cell(tr, "media_missing"), String((r.media_missing || []).length));
    setText(cell(tr, "clock"), r.clock_synced === null ? "\u2013" : (r.clock_synced ? w.synced : w.unsynced));
    setText(cell(tr, "pending"), num(r.outbox_pending));
    var p = r.problems || {};
    setText(cell(tr, "problems"), [p.gaps, p.chain_breaks, p.conflicts, p.quarantined].join(" / "));
  }

  function newRow(r) {
    var tr = document.createElement("tr");
    tr.dataset.station = r.id;
    var link = document.createElement("a");
    link.href = "/stations/" + encodeURIComponent(r.id);
    link.textContent = r.id;
    var first = tr.insertCell(); first.appendChild(link);
    tr.insertCell().textContent = r.commune + " " + (r.commune_name || "");
    ["state", "last_seen_at", "last_airing", "schedule", "media_missing", "clock", "pending", "problems"]
      .forEach(function (f) { tr.insertCell().dataset.field = f; });
    return tr;
  }

  function pollFleet(table) {
    var w = words();
    var live = document.getElementById("live");
    var rows = {};
    table.querySelectorAll("tbody tr[data-station]").forEach(function (tr) { rows[tr.dataset.station] = tr; });
    function tick() {
      fetch(table.dataset.poll, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (res) { if (!res.ok) { throw new Error(res.status); } return res.json(); })
        .then(function (data) {
          var counts = {};
          var tbody = table.tBodies[0];
          data.stations.forEach(function (r) {
            counts[r.state] = (counts[r.state] || 0) + 1;
            var tr = rows[r.id];
            if (!tr) { tr = rows[r.id] = tbody.appendChild(newRow(r)); }
            fillRow(tr, r, w);
            var pt = document.querySelector('#map .pt[data-station="' + CSS.escape(r.id) + '"]');
            if (pt) { pt.setAttribute("class", "pt " + r.state); }
          });
          document.querySelectorAll("[data-count]").forEach(function (el) {
            setText(el, String(counts[el.dataset.count] || 0));
          });
          if (live) { live.classList.remove("stale"); }
          body.dataset.polled = String(Number(body.dataset.polled || 0) + 1);
        })
        .catch(function () { if (live) { live.classList.add("stale"); } })
        .finally(function () { window.setTimeout(tick, POLL_MS); });
    }
    // a long fleet: the server rendered the first rows only; fetch the rest at once
    var shown = table.tBodies[0].rows.length;
    window.setTimeout(tick, Number(table.dataset.total || 0) > shown ? 0 : POLL_MS);
  }

  function cellAirings(grid) {
    var section = document.getElementById("cell-airings");
    var rowsEl = document.getElementById("cell-rows");
    function show(td) {
      var tr = td.closest("tr");
      document.querySelectorAll(".grid .cell.selected").forEach(function (c) { c.classList.remove("selected"); });
      td.classList.add("selected");
      var url = "/api/v1/compliance/cell?commune=" + encodeURIComponent(tr.dataset.commune) +
        "&from=" + td.dataset.from + "&to=" + td.dataset.to;
      fetch(url, { credentials: "same-origin" }).then(function (res) { return res.json(); }).then(function (data) {
        rowsEl.textContent = "";
        (data.airings || []).forEach(function (a) {
          var row = rowsEl.insertRow();
          [a.station, hm(a.started_at), hm(a.slot), a.counted ? "\u2713" : "\u2717", a.reason || ""]
            .forEach(function (v) { row.insertCell().textContent = v; });
        });
        var label = td.dataset.week || td.dataset.month;
        document.getElementById("cell-what").textContent = tr.dataset.commune + " \u00b7 " + label +
          " \u00b7 " + (data.airings || []).length;
        section.hidden = false;
        section.dataset.loaded = label;
      });
    }
    grid.addEventListener("click", function (ev) {
      var td = ev.target.closest("td.cell[data-from]");
      if (td) { show(td); }
    });
    grid.addEventListener("keydown", function (ev) {
      var td = ev.target.closest("td.cell[data-from]");
      if (td && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); show(td); }
    });
  }

  // The open alerts' count in the nav (fleet and alerts pages), and on the alerts page the
  // lists themselves: when the set of open alerts changes, the page's own HTML is fetched
  // again and its lists swapped in (not while a note is being typed).
  function alertSignature(alerts) {
    return alerts.map(function (a) { return a.id + ":" + (a.acked_at ? "a" : ""); }).join(",");
  }
  function pollAlerts(count) {
    function refreshLists() {
      var list = document.getElementById("open-alerts");
      var typing = list && Array.prototype.some.call(list.querySelectorAll("input[name=note]"),
        function (el) { return el.value !== "" || el === document.activeElement; });
      if (!list || typing) { return Promise.resolve(); }
      return fetch(window.location.href, { credentials: "same-origin" })
        .then(function (res) { if (!res.ok) { throw new Error(res.status); } return res.text(); })
        .then(function (html) {
          var doc = new DOMParser().parseFromString(html, "text/html");
          ["open-alerts", "alert-history"].forEach(function (id) {
            var fresh = doc.getElementById(id);
            var old = document.getElementById(id);
            if (fresh && old) { old.replaceWith(document.importNode(fresh, true)); }
          });
        });
    }
    function tick() {
      fetch(count.dataset.poll, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (res) { if (!res.ok) { throw new Error(res.status); } return res.json(); })
        .then(function (data) {
          setText(count, String(data.count));
          count.hidden = data.count === 0;
          var list = document.getElementById("open-alerts");
          if (list && list.dataset.sig !== alertSignature(data.alerts)) { return refreshLists(); }
        })
        .then(function () { body.dataset.alertsPolled = String(Number(body.dataset.alertsPolled || 0) + 1); })
        .catch(function () { /* the next tick tries again */ })
        .finally(function () { window.setTimeout(tick, POLL_MS); });
    }
    window.setTimeout(tick, POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var table = document.getElementById("fleet");
    if (table && table.dataset.poll) { pollFleet(table); }
    ["grid-weeks", "grid-months"].forEach(function (id) {
      var grid = document.getElementById(id);
      if (grid) { cellAirings(grid); }
    });
    var count = document.getElementById("alert-count");
    if (count) { pollAlerts(count); }
    void lang;
  });
})();
