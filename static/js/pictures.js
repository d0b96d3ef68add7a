// The result's pictures (sky plot, spectral view) and the table, tied by row key: hovering a
// footprint or a spectral track highlights its table row and the other picture's shape;
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

  document.addEventListener("click", function (event) {
    var shape = event.target.closest && event.target.closest(".picture [data-row]");
    if (!shape) return;
    var row = document.querySelector('tr[data-obs="' + cssKey(shape.getAttribute("data-row")) + '"]');
    var box = row && row.querySelector('input[type="checkbox"]');
    if (!box) return;
    box.checked = !box.checked;
    box.dispatchEvent(new Event("change", { bubbles: true }));
    shape.classList.toggle("ticked", box.checked);
  });

  // Interactive view: Aladin Lite, loaded the first time it is asked for.
  var aladinLoading = null;
  function loadAladin(src) {
    if (!aladinLoading) {
      aladinLoading = new Promise(function (resolve, reject) {
        var script = document.createElement("script");
        script.src = src;
        script.onload = function () { resolve(window.A); };
        script.onerror = function () { reject(new Error("the Aladin Lite script did not load")); };
        document.head.appendChild(script);
      });
    }
    return aladinLoading;
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
        var aladin = A.aladin(view, { survey: data.survey, fov: 0.2, target: target });
        var overlay = A.graphicOverlay({ color: "#2d7ff9", lineWidth: 2 });
        aladin.addOverlay(overlay);
        data.footprints.forEach(function (pair) {
          try { overlay.addFootprints(A.footprintsFromSTCS(pair[1])); } catch (e) { /* drawn in the SVG */ }
        });
        status.textContent = "Survey tiles come from " + data.survey + "; without them the plot above still shows every footprint.";
        button.disabled = true;
      })
      .catch(function (error) {
        status.textContent = "The interactive view could not start (" + error.message + "); the plot above shows every footprint.";
      });
  });
})();
