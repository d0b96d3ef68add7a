// The result's pictures (sky plot, spectral view) and the table, tied by row key: hovering a
// footprint or a spectral track highlights its table row and the other pictures' shapes;
// clicking one ticks the row's checkbox. "Interactive view" loads the vendored Aladin Lite on
// demand and draws the same footprints over the lab's HiPS survey; if it cannot start, the
// SVG stays and the reason is shown. No framework, no CDN, no inline script (CSP).
(function () {
  "use strict";

  function cssKey(key) {
    return window.CSS && CSS.escape ? CSS.escape(key) : key.replace(/["\\]/g, "\\$&");
  }

  function mark(key, on) {
    var selector = '[data-row="' + cssKey(key) + '"], tr[data-obs="' + cssKey(key) + '"]';
    document.querySelectorAll(selector).forEach(function (element) {
      element.classList.toggle("linked-hover", on);
    });
    // The interactive view's shapes of the row, once it is open (Aladin redraws them).
    var view = document.getElementById("aladin-view");
    if (view && view.footprints) {
      view.footprints.overlayItems.forEach(function (shape) {
        if (shape.portalRow !== key) return;
        if (on && !shape.isHovered) shape.hover();
        if (!on && shape.isHovered) shape.unhover();
      });
    }
  }

  function keyOf(target) {
    var shape = target.closest && target.closest("[data-row]");
    if (shape) return shape.getAttribute("data-row");
    var row = target.closest && target.closest("tr[data-obs]");
    return row ? row.getAttribute("data-obs") : null;
  }

  ["mouseover", "mouseout"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var key = keyOf(event.target);
      if (key) mark(key, type === "mouseover");
    });
  });

  // Ticks (or unticks) the table row of ``key``; true when the row is now ticked.
  function toggleRow(key) {
    var row = document.querySelector('tr[data-obs="' + cssKey(key) + '"]');
    var box = row && row.querySelector('input[type="checkbox"]');
    if (!box) return null;
    box.checked = !box.checked;
    box.dispatchEvent(new Event("change", { bubbles: true }));
    return box.checked;
  }

  document.addEventListener("click", function (event) {
    var shape = event.target.closest && event.target.closest(".picture [data-row]");
    if (!shape) return;
    var ticked = toggleRow(shape.getAttribute("data-row"));
    if (ticked !== null) shape.classList.toggle("ticked", ticked);
  });

  // Interactive view: Aladin Lite, loaded the first time it is asked for. The npm package's
  // dist/aladin.js is an ES module (its default export is the ``A`` namespace), so it is
  // imported, not added as a classic <script> (which stops at its ``export`` statement).
  var aladinLoading = null;
  function loadAladin(src) {
    if (!aladinLoading) {
      aladinLoading = import(src).then(
        function (module) { return module.default; },
        function () { throw new Error("the Aladin Lite script did not load"); }
      );
    }
    return aladinLoading;
  }

  // One shape (or several, for a union) per row, each carrying the row's key; a row whose
  // region Aladin cannot read, or which has none, is marked by a small circle at its centre.
  function drawRows(A, overlay, rows) {
    rows.forEach(function (row) {
      var shapes = [];
      if (row.region) {
        try { shapes = A.footprintsFromSTCS(row.region) || []; } catch (e) { shapes = []; }
      }
      if (!shapes.length) shapes = [A.circle(row.ra, row.dec, row.radius)];
      shapes.forEach(function (shape) { shape.portalRow = row.key; });
      overlay.addFootprints(shapes);
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("#sky-interactive");
    if (!button) return;
    var data = JSON.parse(document.getElementById("sky-data").textContent);
    var view = document.getElementById("aladin-view");
    var status = document.getElementById("aladin-status");
    status.hidden = false;
    status.textContent = "Starting the interactive view…";
    loadAladin(button.getAttribute("data-aladin"))
      .then(function (A) { return A.init.then(function () { return A; }); })
      .then(function (A) {
        view.hidden = false;
        var target = data.centre ? data.centre[0] + " " + data.centre[1] : "0 0";
        var aladin = A.aladin(view, { survey: data.survey, fov: data.fov || 0.2, target: target });
        var overlay = A.graphicOverlay({ color: "#2d7ff9", lineWidth: 2 });
        aladin.addOverlay(overlay);
        drawRows(A, overlay, data.rows);
        aladin.on("footprintHovered", function (shape) {
          if (shape.portalRow) mark(shape.portalRow, true);
        });
        aladin.on("objectHoveredStop", function (shape) {
          if (shape && shape.portalRow) mark(shape.portalRow, false);
        });
        aladin.on("footprintClicked", function (shape) {
          if (shape.portalRow) toggleRow(shape.portalRow);
        });
        // The view and its overlay, for the browser tests and a curious console.
        view.aladin = aladin;
        view.footprints = overlay;
        status.textContent = "Survey tiles come from " + data.survey + "; without them the plot above still shows every footprint.";
        button.disabled = true;
      })
      .catch(function (error) {
        status.textContent = "The interactive view could not start (" + error.message + "); the plot above shows every footprint.";
      });
  });
})();
